"""Prefix postings: a short prefix's commonest completions as one word of ``search_postings``.

A typed prefix ("last ra") stands for its 20 commonest completions, and the
level walk meets each completion's run with the other word's run: some 28
runs a q_prefix page, the partner's run read again per completion. With
postings of its own the prefix walks like one word (docs/search.md, "The
index", its "Prefix postings", and section 4, "A prefix walked as its own
word"):

- ``search_prefixes (prefix, words)``: one row per string of 2 to 4
  characters that begins more than 5 words of ``search_words`` held by a
  book (the range ``[P, P')`` in collation "C", P' being P with its last
  character incremented, as ``vocabulary._prefix_bounds`` reads it), and
  ``words``, the 20 (``vocabulary.PREFIX_WORDS``) of them held by the most
  books, ``ORDER BY books DESC, word``: the completions the lookup gives for
  the prefix when the list is built.
- Rows ``(P || '*', field, book_id)`` in ``search_postings``, one per book
  holding one of P's ``words``, at the smallest field of that book's
  postings of them. ``search_words``, ``book_search.words`` and the GIN index
  never hold ``P*``; every reader of ``search_postings`` asks for words of
  ``search_words`` (or of a book's row), so none meets them.

``search_prefixes_build()`` makes both from ``search_words`` and the
postings: ``search_rebuild()`` calls it (``bookstore seed``, an empty
catalog), and so does this migration for an existing catalog. Every write
then keeps the ``P*`` rows equal to what the build gives over the current
postings for the lists as they stand: ``search_index_books`` (the API's
statement triggers, renames, the import queue's ``search_index_queued``)
deletes a reindexed book's ``P*`` rows with its postings, by their whole key,
and inserts the new ones with them; ``search_unindex_book`` (a deleted book)
deletes them with its postings. A book's ``P*`` rows come from its postings:
each word's prefixes of 2 to 4 characters probed on ``search_prefixes``'
primary key, kept when the word is in the prefix's list.

Writes never change ``search_prefixes``: a list goes stale (a new common
word, counts moving at the 20th place) until the next ``search_rebuild()``,
and the search falls back to the completions one by one when the lookup's
completions differ from the list: results never change, only speed.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import or_replace, raw_sql_migration, replaced, statement_of
from piccolo_migrations.bookstore_2026_11_28t23_45_00_000000 import FORWARDS as SEARCH_INDEX
from piccolo_migrations.bookstore_2026_11_29t03_55_00_000000 import FORWARDS as SET_BASED_INDEX
from piccolo_migrations.bookstore_2026_11_29t09_00_00_000000 import _POSTINGS_OF_BOOKS
from piccolo_migrations.bookstore_2026_11_29t10_00_00_000000 import _POSTINGS_OF_WORDS
from piccolo_migrations.bookstore_2026_11_30t00_00_00_000000 import FORWARDS as CATEGORY_IDS

ID = "2026-11-30T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search_prefixes and the P* postings of 2-4 character prefixes, kept by writes"

# vocabulary.PREFIX_WORDS: the completions a prefix stands for.
PREFIX_WORDS = 20
# A prefix gets postings when it begins more than this many words.
PREFIX_MIN_WORDS = 5


def _prefix_postings(postings: str) -> str:
    """The ``P*`` postings of the (word, field, book_id) rows ``postings`` (an SQL relation).

    Each word's prefixes of 2 to 4 characters, each probed on the primary
    key of ``search_prefixes`` (a LATERAL ``LIMIT 1``: one index probe, never
    a scan of the table per word), kept when the word is one of the
    prefix's ``words``; a book's row per prefix at the smallest field.
    """
    return f"""
        SELECT prefixed.star, min(o.field), o.book_id
        FROM {postings} AS o (word, field, book_id)
        CROSS JOIN LATERAL generate_series(2, least(4, length(o.word))) AS n (length)
        CROSS JOIN LATERAL (
            SELECT x.prefix || '*' AS star FROM search_prefixes x
            WHERE x.prefix = left(o.word, n.length) AND o.word = ANY(x.words) LIMIT 1
        ) AS prefixed
        GROUP BY prefixed.star, o.book_id"""


# The statements below already say CREATE OR REPLACE FUNCTION, but for
# search_books_truncated's, which or_replace() turns into one.

# -- search_index_books ---------------------------------------------------------------
_INDEX_BOOKS = statement_of(CATEGORY_IDS, "FUNCTION search_index_books(")

_OLD_DELETE = f"""DELETE FROM search_postings p
            USING ({_POSTINGS_OF_BOOKS}
                   WHERE s.book_id = ANY(targets)
                   GROUP BY word, s.book_id) AS o (word, field, book_id)
            WHERE (p.word, p.field, p.book_id) = (o.word, o.field::smallint, o.book_id);"""
# The books' postings, then the P* rows they give, each by its whole key. The
# P* rows are derived from the lists as they stand, which are those that
# gave them: writes never change a list, a rebuild rewrites every row.
_NEW_DELETE = f"""WITH gone (word, field, book_id) AS MATERIALIZED ({_POSTINGS_OF_BOOKS}
                   WHERE s.book_id = ANY(targets)
                   GROUP BY word, s.book_id)
            DELETE FROM search_postings p
            USING (SELECT word, field, book_id FROM gone
                   UNION ALL {_prefix_postings("gone")}) AS o (word, field, book_id)
            WHERE (p.word, p.field, p.book_id) = (o.word, o.field::smallint, o.book_id);"""

_OLD_INSERT = f"""INSERT INTO search_postings (word, field, book_id)
        {_POSTINGS_OF_WORDS}
        WHERE s.book_id = ANY(targets)
        ORDER BY w COLLATE "C", 2, s.book_id;  -- in index order"""
_NEW_INSERT = f"""WITH made (word, field, book_id) AS MATERIALIZED ({_POSTINGS_OF_WORDS}
        WHERE s.book_id = ANY(targets))
        INSERT INTO search_postings (word, field, book_id)
        SELECT word, field, book_id FROM (
            SELECT word, field, book_id FROM made
            UNION ALL {_prefix_postings("made")}
        ) AS written (word, field, book_id)
        ORDER BY word COLLATE "C", field, book_id;  -- in index order"""

INDEX_BOOKS = replaced(_INDEX_BOOKS, (_OLD_DELETE, _NEW_DELETE), (_OLD_INSERT, _NEW_INSERT))

# -- search_unindex_book (a deleted book) --------------------------------------------
_UNINDEX_BOOK = statement_of(SET_BASED_INDEX, "FUNCTION search_unindex_book(")
UNINDEX_BOOK = replaced(
    _UNINDEX_BOOK,
    # The probes of search_prefixes by key: a sequential scan of it per word
    # is what the planner may otherwise weigh against them.
    (
        "SET enable_hashjoin = off SET enable_mergejoin = off AS $$",
        "SET enable_hashjoin = off SET enable_mergejoin = off\n"
        "    SET enable_seqscan = off SET jit = off AS $$",
    ),
    (
        "        DELETE FROM search_postings\n        WHERE word = ANY(old_words) AND",
        "        DELETE FROM search_postings\n"
        "        WHERE word = ANY(old_words || ARRAY(SELECT stars.star FROM ("
        + _prefix_postings("(SELECT w, 0, target FROM unnest(old_words) AS w)")
        + ") AS stars (star, field, book_id)))\n          AND",
    ),
)

# -- search_books_truncated (TRUNCATE books) -------------------------------------------
_BOOKS_TRUNCATED = statement_of(SEARCH_INDEX, "FUNCTION search_books_truncated()")
# The index of an empty catalog, as search_rebuild() would leave it: lists
# of a vocabulary that is gone would give the next books P* rows that a
# rebuild would not.
BOOKS_TRUNCATED = or_replace(
    replaced(
        _BOOKS_TRUNCATED,
        (
            "TRUNCATE search_postings, search_words;",
            "TRUNCATE search_postings, search_words, search_prefixes;",
        ),
    )
)

# -- search_rebuild ---------------------------------------------------------------------
_REBUILD = statement_of(CATEGORY_IDS, "FUNCTION search_rebuild()")
REBUILD = replaced(
    _REBUILD,
    (
        "TRUNCATE book_search, search_postings, search_words, search_index_queue;",
        "TRUNCATE book_search, search_postings, search_words, search_index_queue,\n"
        "                 search_prefixes;",
    ),
    (
        "        PERFORM catalog_version_advance();",
        "        PERFORM search_prefixes_build();\n        PERFORM catalog_version_advance();",
    ),
)

PREFIXES_BUILD = f"""
    CREATE FUNCTION search_prefixes_build() RETURNS void
    LANGUAGE plpgsql SET jit = off AS $$
    BEGIN
        -- Every prefix of 2 to 4 characters of a word held by a book: a
        -- word w begins P exactly when P <= w < P' (collation "C").
        INSERT INTO search_prefixes (prefix, words)
        SELECT prefix,
               (array_agg(word ORDER BY books DESC, word))[1:{PREFIX_WORDS}]
        FROM (SELECT left(w.word, n.length) AS prefix, w.word, w.books
              FROM search_words w, generate_series(2, 4) AS n (length)
              WHERE w.books > 0 AND length(w.word) >= n.length) AS begun
        GROUP BY prefix
        HAVING count(*) > {PREFIX_MIN_WORDS}
        ORDER BY prefix;
        -- Each prefix's books from its words' postings, a prefix at a time
        -- (its words' runs merged and grouped by book), in index order.
        INSERT INTO search_postings (word, field, book_id)
        SELECT x.prefix || '*', held.field, held.book_id
        FROM search_prefixes x
        CROSS JOIN LATERAL (
            SELECT min(p.field) AS field, p.book_id FROM search_postings p
            WHERE p.word = ANY(x.words)
            GROUP BY p.book_id
        ) AS held
        ORDER BY 1, 2, 3;
    END
    $$
    """

FORWARDS = [
    # For the sort of the P* rows of a whole catalog (this transaction only).
    "SET LOCAL work_mem = '256MB'",
    """
    CREATE TABLE search_prefixes (
        prefix text COLLATE "C" PRIMARY KEY,
        words text[] NOT NULL
    )
    """,
    PREFIXES_BUILD,
    INDEX_BOOKS,
    UNINDEX_BOOK,
    BOOKS_TRUNCATED,
    REBUILD,
    "SELECT search_prefixes_build()",
    "ANALYZE search_prefixes",
    "ANALYZE search_postings",
]

BACKWARDS = [
    _REBUILD,
    _INDEX_BOOKS,
    _UNINDEX_BOOK,
    or_replace(_BOOKS_TRUNCATED),
    "DELETE FROM search_postings p USING search_prefixes x WHERE p.word = x.prefix || '*'",
    "DROP FUNCTION search_prefixes_build()",
    "DROP TABLE search_prefixes",
    "ANALYZE search_postings",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
