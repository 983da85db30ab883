"""An import's books indexed from a queue by a second connection; each field stemmed once.

``bookstore import`` of 100,000 new books spent 38 of its 55 s of
PostgreSQL CPU in ``search_index_books``, called at the end of each batch's
transaction, one batch after the other (docs/operations.md#figures):

- ``search_index_queue`` holds books whose index is owed. An import's batch
  adds its books to it in the batch's own transaction (the books, their
  links and their place in the queue commit together), and a second
  connection indexes the queue with ``search_index_queued(n)`` while the
  next batches are written: the two costs overlap instead of adding up, and
  a pass indexes every book queued since the last one. The import returns
  once its books are indexed; an import that was stopped leaves its books
  queued, and the next import indexes them first. The queue's rows go with
  their book (``ON DELETE CASCADE``: also ``TRUNCATE books ... CASCADE``);
  ``search_rebuild()`` indexes every book, so it empties the queue.
- ``search_index_queued`` claims queued books with ``FOR UPDATE SKIP
  LOCKED``, the queue's rows and the books' rows: two indexers never take
  the same book, and a book that another transaction is writing (an API
  edit, whose triggers index it; the import's next batch) stays queued for
  the next pass instead of being read before that write commits. The book
  rows stay locked until the pass commits, so a writer that comes after
  waits, then finds the book indexed and reindexes it.
- Each field of a book is folded and stemmed once. The projection of a
  book's ``book_search`` row was flattened into the statement around it,
  which names each field's lexemes twice (its column, and the book's
  ``words``), and the document stemmed the title, author and description
  once more: three times each. Now each field's ``tsvector`` is made once
  (``OFFSET 0`` keeps the subquery whole) and gives its lexemes, the words
  and the document, which is the fields' tsvectors concatenated (title,
  author, description, categories, as before). The lexemes and words are
  the same as before. The document's positions are the same except after a
  field that ends in words that are not indexed (stop words, as "of the"):
  ``||`` starts the next field right after the last indexed word, where the
  text's concatenation counted the stop words too, so a quoted phrase
  spanning the end of a title and its author's name may now match where it
  did not. Documents indexed before keep their positions until reindexed
  (``search_rebuild()`` redoes them all); no phrase within one field moves.
- A book's postings (each word with the first field that has it) are read
  from its words with a ``CASE`` over its four fields' arrays instead of a
  ``GROUP BY (word, book)`` over the four arrays unnested: the same rows,
  without hashing or sorting them twice.

Also:

- ``category_counts_apply`` deleted the counts that reached zero after every
  move, with a join on ``IS NOT DISTINCT FROM`` that no index serves; a
  move of inserted links only adds, so it now skips the ``DELETE`` unless
  some count went down.
- ``search_links_updated`` now stands aside for a transaction that indexes
  its books itself (``search_index_deferred``), as the other four index
  triggers do. No such transaction moves a link by ``UPDATE`` (the import
  deletes and inserts links, and the copies the books' triggers update keep
  their book and category), so this was only inconsistent, never wrong:
  such a move was indexed twice.
- The row-level functions of 2026-11-28T23:45 that no trigger calls since
  2026-11-29T03:55 are dropped: ``search_index_book(integer)``,
  ``search_books_changed()``, ``search_links_changed()``,
  ``search_author_renamed()``, ``search_category_renamed()``. Going back
  past this migration recreates them (03:55's backwards steps need them).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import or_replace, raw_sql_migration, replaced, statement_of
from piccolo_migrations.bookstore_2026_11_28t23_45_00_000000 import FORWARDS as ROW_INDEX
from piccolo_migrations.bookstore_2026_11_29t03_55_00_000000 import FORWARDS as SET_BASED_INDEX
from piccolo_migrations.bookstore_2026_11_29t05_30_00_000000 import FORWARDS as CATEGORY_COUNTS
from piccolo_migrations.bookstore_2026_11_29t09_00_00_000000 import (
    _BOOK_SEARCH_ROWS,
    _POSTINGS_OF_BOOKS,
)
from piccolo_migrations.bookstore_2026_11_29t09_00_00_000000 import FORWARDS as ONE_PASS

ID = "2026-11-29T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search_index_queue indexed by search_index_queued(n); fields stemmed once"


# A book_search row per book of the query that follows: each field folded
# and stemmed once, its lexemes and the document made from that.
_BOOK_SEARCH_ROWS_ONCE = """INSERT INTO book_search
            (book_id, author_id, title, author, categories, description, words, document)
        SELECT book_id, author_id,
               tsvector_to_array(title), tsvector_to_array(author),
               tsvector_to_array(categories), tsvector_to_array(description),
               tsvector_to_array(title || author || categories || description),
               title || author || description || categories
        FROM (
            SELECT b.id AS book_id, b.author_id,
                   to_tsvector('english', search_fold(b.title)) AS title,
                   to_tsvector('english', search_fold(a.name)) AS author,
                   to_tsvector('english', search_fold(coalesce(links.names, '')))
                       AS categories,
                   to_tsvector('english', search_fold(coalesce(b.description, '')))
                       AS description
            FROM books b
            JOIN authors a ON a.id = b.author_id"""

_END_OF_ROWS = "\n        ) AS found;"
_ROWS_KEPT_WHOLE = (
    "\n            OFFSET 0  -- not flattened: the query above names each field twice"
    "\n        ) AS found;"
)

# Each word of a book in the first field that has it, which is what the
# smallest field of a GROUP BY (word, book) was, without grouping: a book's
# words are its fields' words, each once.
_POSTINGS_OF_WORDS = """
        SELECT w, CASE WHEN w = ANY(s.title) THEN 0 WHEN w = ANY(s.author) THEN 1
                       WHEN w = ANY(s.categories) THEN 2 ELSE 3 END, s.book_id
        FROM book_search s, unnest(s.words) AS w"""
_GROUPED_POSTINGS = {
    "search_index_books": (
        f"""{_POSTINGS_OF_BOOKS}
        WHERE s.book_id = ANY(targets)
        GROUP BY word, s.book_id
        ORDER BY word COLLATE "C", min(field), s.book_id;""",
        f"""{_POSTINGS_OF_WORDS}
        WHERE s.book_id = ANY(targets)
        ORDER BY w COLLATE "C", 2, s.book_id;""",
    ),
    "search_rebuild": (
        f"""{_POSTINGS_OF_BOOKS}
        GROUP BY word, book_id
        ORDER BY word COLLATE "C", min(field), book_id;""",
        f"""{_POSTINGS_OF_WORDS}
        ORDER BY w COLLATE "C", 2, s.book_id;""",
    ),
}


def _indexing(statement: str, function: str) -> str:
    """``function``'s statement of 2026-11-29T09:00 with its rows and postings made as above."""
    return replaced(
        statement,
        (_BOOK_SEARCH_ROWS, _BOOK_SEARCH_ROWS_ONCE),
        (_END_OF_ROWS, _ROWS_KEPT_WHOLE),
        _GROUPED_POSTINGS[function],
    )


_INDEX_BOOKS = statement_of(ONE_PASS, "FUNCTION search_index_books(")
_REBUILD = statement_of(ONE_PASS, "FUNCTION search_rebuild()")

_COUNTS_APPLY = statement_of(CATEGORY_COUNTS, "FUNCTION category_counts_apply(")
_ZERO_COUNTS = "        WHERE c.books = 0 AND c.category_id = m.category_id"

_LINKS_UPDATED = statement_of(SET_BASED_INDEX, "FUNCTION search_links_updated()")
_LINKS_UPDATED_BODY = "    BEGIN\n        PERFORM search_index_books(ARRAY("

_DEAD_FUNCTIONS = {
    "search_books_changed()": "CREATE FUNCTION search_books_changed()",
    "search_links_changed()": "CREATE FUNCTION search_links_changed()",
    "search_author_renamed()": "CREATE FUNCTION search_author_renamed()",
    "search_category_renamed()": "CREATE FUNCTION search_category_renamed()",
    "search_index_book(integer)": "CREATE FUNCTION search_index_book(",
}

FORWARDS = [
    _indexing(_INDEX_BOOKS, "search_index_books"),
    replaced(
        _indexing(_REBUILD, "search_rebuild"),
        (
            "TRUNCATE book_search, search_postings, search_words;",
            "TRUNCATE book_search, search_postings, search_words, search_index_queue;",
        ),
    ),
    """
    CREATE TABLE search_index_queue (
        book_id integer PRIMARY KEY REFERENCES books (id) ON DELETE CASCADE
    )
    """,
    # Returns how many books it indexed: 0 when none is queued, or when every
    # queued book is locked by another transaction (try again after it).
    """
    CREATE FUNCTION search_index_queued(max_books integer) RETURNS integer
    LANGUAGE plpgsql AS $$
    DECLARE
        claimed integer[];
    BEGIN
        SELECT array_agg(book_id ORDER BY book_id) INTO claimed
        FROM (SELECT q.book_id FROM search_index_queue q JOIN books b ON b.id = q.book_id
              ORDER BY q.book_id LIMIT max_books
              FOR UPDATE OF q, b SKIP LOCKED) AS free;
        IF claimed IS NULL THEN
            RETURN 0;
        END IF;
        DELETE FROM search_index_queue WHERE book_id = ANY(claimed);
        PERFORM search_index_books(claimed);
        RETURN cardinality(claimed);
    END
    $$
    """,
    replaced(
        or_replace(_COUNTS_APPLY),
        (
            _ZERO_COUNTS,
            "        WHERE 0 > ANY(changes)  -- a one-time test: only a count that went down\n"
            "          AND c.books = 0 AND c.category_id = m.category_id",
        ),
    ),
    replaced(
        or_replace(_LINKS_UPDATED),
        (
            _LINKS_UPDATED_BODY,
            "    BEGIN\n        IF search_index_deferred() THEN RETURN NULL; END IF;\n"
            "        PERFORM search_index_books(ARRAY(",
        ),
    ),
    *(f"DROP FUNCTION {signature}" for signature in _DEAD_FUNCTIONS),
]

BACKWARDS = [
    # search_index_book first: the trigger functions call it.
    *(statement_of(ROW_INDEX, start) for start in reversed(_DEAD_FUNCTIONS.values())),
    or_replace(_LINKS_UPDATED),
    or_replace(_COUNTS_APPLY),
    "DROP FUNCTION search_index_queued(integer)",
    "DROP TABLE search_index_queue",
    _REBUILD,
    _INDEX_BOOKS,
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
