"""The search index of a batch of new books in one pass: no category scan per book, HOT counts.

``search_index_books(ids)`` is the one path that indexes books: the API's
statement triggers call it with the book a request wrote, an import with
the 1,000 books of a batch. For a batch of new books it took 3.2 s at load
10 (2.4 s at load 6), three times as long as writing the books themselves.
``EXPLAIN ANALYZE`` of each statement and the backend's CPU time (1,000 new
books, PG15, 100,000-book catalog) found these costs, beside the text
processing itself (170 ms of CPU): 950-1,010 ms of CPU a batch before, 650
ms after.

- The category names: the function forbids hash and merge joins (they read
  all 20 million postings to delete a few), and the planner then joined
  ``book_category`` to ``categories`` with the 300 categories as the outer
  side, a sequential scan of all of them for every book (300,000 rows a
  batch). Each link now reads its category by the primary key (a scalar
  subquery, with sequential scans off in the function, as hash and merge
  joins already were): about five index probes a book. Priced out, a
  sequential scan could lift a plan's cost past ``jit_above_cost``, and
  compiling took longer than running: JIT is off in the function too.
- The vocabulary's counts: each of the ~4,800 words of a batch is an
  ``ON CONFLICT DO UPDATE`` of a full page, so a non-HOT update with a new
  entry in the primary key and in the trigram GiST index (400-500 ms a
  batch). ``search_words`` is now stored half full (fillfactor 50), so that
  an update stays on its page, a HOT update touching no index: 50 ms. The table is rewritten here (CLUSTER, under an
  exclusive lock: at 1M books about 110,000 words, seconds).
- Sorting the postings and the words in the database's collation
  (``C.UTF-8`` goes through strcoll) where the columns are ``COLLATE "C"``:
  they are now sorted in the columns' own byte order, which is also the
  order the index takes them in. A book's ``words`` (distinct, sorted) come
  from ``array_to_tsvector`` instead of a sorting subquery per book: the
  same array in a ``C`` or ``C.UTF-8`` database (byte order); elsewhere
  the order may differ, which no query sees (they only test overlap).

A book's category names are now joined in category id order (``ORDER BY``
in ``string_agg``), in ``search_rebuild()`` too: their order moves the
positions of the category words in ``document`` (quoted phrases), and the
per-book path, a batch and a rebuild used to take whatever order their plan
gave. It was category id order for the per-book path (categories read in
id order), so books indexed before this keep their documents.

New books have nothing to remove: the removal steps run only for books that
are indexed already. Nothing changes in what is stored otherwise;
``tests/test_imports.py`` compares an import's index with the same books
written through the API, reindexed one by one, and rebuilt.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration
from piccolo_migrations.bookstore_2026_11_29t00_05_00_000000 import FORWARDS as GROUPED_REBUILD
from piccolo_migrations.bookstore_2026_11_29t05_50_00_000000 import FORWARDS as DEFERRED_INDEX

ID = "2026-11-29T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search_index_books in one pass per batch: categories by key, HOT word counts"

# The words of each book's fields: the field of a word is the best it is in.
_POSTINGS_OF_BOOKS = """
        SELECT word, min(field), s.book_id
        FROM book_search s,
             LATERAL (SELECT unnest(s.title), 0 UNION ALL SELECT unnest(s.author), 1
                      UNION ALL SELECT unnest(s.categories), 2
                      UNION ALL SELECT unnest(s.description), 3) AS p (word, field)
"""

# A book_search row per book of the query that follows: its fields' words and
# its document. The two paths below differ only in how the links are read.
_BOOK_SEARCH_ROWS = """INSERT INTO book_search
            (book_id, author_id, title, author, categories, description, words, document)
        SELECT book_id, author_id, title, author, categories, description,
               tsvector_to_array(array_to_tsvector(title || author || categories || description)),
               document || to_tsvector('english', search_fold(coalesce(names, '')))
        FROM (
            SELECT b.id AS book_id, b.author_id,
                   search_lexemes(b.title) AS title,
                   search_lexemes(a.name) AS author,
                   coalesce(search_lexemes(links.names), '{}') AS categories,
                   coalesce(search_lexemes(b.description), '{}') AS description,
                   to_tsvector('english',
                               search_fold(concat_ws(' ', b.title, a.name, b.description)))
                       AS document,
                   links.names
            FROM books b
            JOIN authors a ON a.id = b.author_id"""

FORWARDS = [
    f"""
    CREATE OR REPLACE FUNCTION search_index_books(targets integer[]) RETURNS void
    LANGUAGE plpgsql
    -- Every row here is reached from the books given, by index: a hash or
    -- merge join, which the planner's guesses for targets led to, read all
    -- 20 million postings to delete a few thousand, and a sequential scan
    -- of the 300 categories (cheaper, for one probe, by the planner's
    -- costs) was run for every link of a batch. With a sequential scan
    -- priced out, a plan can cost past jit_above_cost: compiling it took
    -- more than running it.
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
    SET jit = off
    AS $$
    DECLARE
        old_words text[] := '{{}}';
        old_counts integer[] := '{{}}';
        change_words text[];
        changes integer[];
    BEGIN
        IF targets IS NULL OR cardinality(targets) = 0 THEN
            RETURN;
        END IF;
        -- What indexed books held: their postings go, their words are
        -- counted down after the new ones are known. New books skip this.
        IF EXISTS (SELECT 1 FROM book_search WHERE book_id = ANY(targets)) THEN
            -- Each posting by its whole key: joined on the word alone, a
            -- plan read every posting of a common word for each book.
            DELETE FROM search_postings p
            USING ({_POSTINGS_OF_BOOKS}
                   WHERE s.book_id = ANY(targets)
                   GROUP BY word, s.book_id) AS o (word, field, book_id)
            WHERE (p.word, p.field, p.book_id) = (o.word, o.field::smallint, o.book_id);
            SELECT coalesce(array_agg(w ORDER BY w COLLATE "C"), '{{}}'),
                   coalesce(array_agg(n ORDER BY w COLLATE "C"), '{{}}')
            INTO old_words, old_counts
            FROM (SELECT w, count(*)::integer AS n FROM book_search s, unnest(s.words) AS w
                  WHERE s.book_id = ANY(targets) GROUP BY w) AS counted;
            DELETE FROM book_search WHERE book_id = ANY(targets);
        END IF;
        {_BOOK_SEARCH_ROWS}
            -- The book's links by their (book_id, category_id) key, each
            -- link's category by its primary key: joined instead, the
            -- planner scanned all categories for every book.
            LEFT JOIN LATERAL (
                SELECT string_agg((SELECT c.name FROM categories c WHERE c.id = bc.category_id),
                                  ' ' ORDER BY bc.category_id) AS names
                FROM book_category bc
                WHERE bc.book_id = b.id
            ) AS links ON TRUE
            WHERE b.id = ANY(targets)
        ) AS found;
        INSERT INTO search_postings (word, field, book_id)
        {_POSTINGS_OF_BOOKS}
        WHERE s.book_id = ANY(targets)
        GROUP BY word, s.book_id
        ORDER BY word COLLATE "C", min(field), s.book_id;  -- in index order
        -- The counts move by new minus old.
        SELECT coalesce(array_agg(word ORDER BY word COLLATE "C"), '{{}}'),
               coalesce(array_agg(change ORDER BY word COLLATE "C"), '{{}}')
        INTO change_words, changes
        FROM (SELECT word, sum(change)::integer AS change
              FROM (SELECT w AS word, 1 AS change FROM book_search s, unnest(s.words) AS w
                    WHERE s.book_id = ANY(targets)
                    UNION ALL
                    SELECT w, -n FROM unnest(old_words, old_counts) AS o (w, n)) AS moves
              GROUP BY word HAVING sum(change) <> 0) AS changed;
        -- Each word by the primary key (ON CONFLICT's arbiter, whatever the
        -- statistics say), locked in the column's order: two writers wait
        -- for each other rather than deadlock.
        INSERT INTO search_words (word, books)
        SELECT c.word, c.change FROM unnest(change_words, changes) AS c (word, change)
        ORDER BY c.word COLLATE "C"
        ON CONFLICT (word) DO UPDATE SET books = search_words.books + excluded.books;
    END
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION search_rebuild() RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE book_search, search_postings, search_words;
        {_BOOK_SEARCH_ROWS}
            LEFT JOIN (
                SELECT bc.book_id, string_agg(c.name, ' ' ORDER BY c.id) AS names
                FROM book_category bc JOIN categories c ON c.id = bc.category_id
                GROUP BY bc.book_id
            ) AS links ON links.book_id = b.id
        ) AS found;
        INSERT INTO search_postings (word, field, book_id)
        {_POSTINGS_OF_BOOKS}
        GROUP BY word, book_id
        ORDER BY word COLLATE "C", min(field), book_id;
        INSERT INTO search_words (word, books)
        SELECT w, count(*) FROM book_search, unnest(words) AS w GROUP BY w;
    END
    $$
    """,
    # Room on every page for its words' next counts (HOT updates).
    "ALTER TABLE search_words SET (fillfactor = 50)",
    "CLUSTER search_words USING search_words_pkey",
    "ANALYZE search_words",
]


def _previous(statements: list[str], signature: str) -> str:
    return next(s for s in statements if f"FUNCTION {signature}" in s)


BACKWARDS = [
    "ALTER TABLE search_words RESET (fillfactor)",
    _previous(GROUPED_REBUILD, "search_rebuild()"),
    _previous(DEFERRED_INDEX, "search_index_books("),
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
