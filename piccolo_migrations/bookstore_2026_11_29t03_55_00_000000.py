"""The search index is kept per statement, set-based, instead of per row.

Row-level triggers reindexed a book once for its INSERT and once more for
each category link (POST /books with two categories: three times), and an
import of 100,000 books ran 100,000 + links reindexes one by one. Statement-
level triggers with transition tables hand every book a statement touched
to ``search_index_books(integer[])``, which reindexes them all with a few
set-based statements: POST /books indexes its book twice (the book's
statement, then the links'), an import once per batch.

The vocabulary's counts move by the difference between a book's old and
new words, rows locked in word order first, so that two writers cannot
deadlock. Deleting a book keeps its row-level BEFORE trigger: the book's
index rows must be read before the foreign key's cascade removes them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration
from piccolo_migrations.bookstore_2026_11_28t23_45_00_000000 import FORWARDS as SEARCH_INDEX

ID = "2026-11-29T03:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search index kept by statement-level triggers, set-based search_index_books()"



def _previous(signature: str) -> str:
    statement = next(s for s in SEARCH_INDEX if f"CREATE FUNCTION {signature}" in s)
    return statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


FORWARDS = [
    """
    CREATE FUNCTION search_index_books(targets integer[]) RETURNS void
    LANGUAGE plpgsql
    -- Every join here goes from the books given to their rows by index: a
    -- hash or merge join, which the planner's guesses for targets led to,
    -- read all 20 million postings to delete a few thousand.
    SET enable_hashjoin = off SET enable_mergejoin = off
    AS $$
    DECLARE
        old_words text[];
        old_counts integer[];
        change_words text[];
        changes integer[];
    BEGIN
        IF targets IS NULL OR cardinality(targets) = 0 THEN
            RETURN;
        END IF;
        -- What the books held: their postings go, their words are counted
        -- down after the new ones are known.
        -- Each posting by its whole key: joined on the word alone, a plan
        -- read every posting of a common word for each book.
        DELETE FROM search_postings p
        USING (SELECT word, min(field) AS field, s.book_id
               FROM book_search s,
                    LATERAL (SELECT unnest(s.title), 0 UNION ALL SELECT unnest(s.author), 1
                             UNION ALL SELECT unnest(s.categories), 2
                             UNION ALL SELECT unnest(s.description), 3) AS o (word, field)
               WHERE s.book_id = ANY(targets)
               GROUP BY word, s.book_id) AS o
        WHERE (p.word, p.field, p.book_id) = (o.word, o.field::smallint, o.book_id);
        SELECT coalesce(array_agg(w ORDER BY w), '{}'), coalesce(array_agg(n ORDER BY w), '{}')
        INTO old_words, old_counts
        FROM (SELECT w, count(*)::integer AS n FROM book_search s, unnest(s.words) AS w
              WHERE s.book_id = ANY(targets) GROUP BY w) AS counted;
        DELETE FROM book_search WHERE book_id = ANY(targets);
        INSERT INTO book_search
            (book_id, author_id, title, author, categories, description, words, document)
        SELECT book_id, author_id, title, author, categories, description,
               ARRAY(SELECT DISTINCT w FROM unnest(title || author || categories || description) w
                     ORDER BY w),
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
            JOIN authors a ON a.id = b.author_id
            LEFT JOIN LATERAL (
                SELECT string_agg(c.name, ' ') AS names
                FROM book_category bc JOIN categories c ON c.id = bc.category_id
                WHERE bc.book_id = b.id
            ) AS links ON TRUE
            WHERE b.id = ANY(targets)
        ) AS found;
        INSERT INTO search_postings (word, field, book_id)
        SELECT word, min(field), s.book_id
        FROM book_search s,
             LATERAL (SELECT unnest(s.title), 0 UNION ALL SELECT unnest(s.author), 1
                      UNION ALL SELECT unnest(s.categories), 2
                      UNION ALL SELECT unnest(s.description), 3) AS p (word, field)
        WHERE s.book_id = ANY(targets)
        GROUP BY word, s.book_id
        ORDER BY word, min(field), s.book_id;  -- in index order: fewer pages touched
        -- The counts move by new minus old, rows locked in word order.
        SELECT coalesce(array_agg(word ORDER BY word), '{}'),
               coalesce(array_agg(change ORDER BY word), '{}')
        INTO change_words, changes
        FROM (SELECT word, sum(change)::integer AS change
              FROM (SELECT w AS word, 1 AS change FROM book_search s, unnest(s.words) AS w
                    WHERE s.book_id = ANY(targets)
                    UNION ALL
                    SELECT w, -n FROM unnest(old_words, old_counts) AS o (w, n)) AS moves
              GROUP BY word HAVING sum(change) <> 0) AS changed;
        -- Words reached one by one on the primary key, as the range [x, x]:
        -- "word = ANY(array)" scanned all 106,000 words (75 ms a book at 1M),
        -- and "word = x" can take pg_trgm's GiST index, which answers it too.
        PERFORM 1 FROM unnest(change_words) AS c (word)
        JOIN search_words w ON w.word >= c.word AND w.word <= c.word
        ORDER BY w.word FOR UPDATE OF w;
        UPDATE search_words w SET books = w.books + c.change
        FROM unnest(change_words, changes) AS c (word, change)
        WHERE w.word >= c.word AND w.word <= c.word;
        INSERT INTO search_words (word, books)
        SELECT c.word, c.change FROM unnest(change_words, changes) AS c (word, change)
        WHERE NOT EXISTS (SELECT 1 FROM search_words w
                          WHERE w.word >= c.word AND w.word <= c.word)
        ORDER BY c.word
        ON CONFLICT (word) DO UPDATE SET books = search_words.books + excluded.books;
    END
    $$
    """,
    # The field list is smallint, as the column: compared as integers it was
    # no index condition, and deleting a posting of a word held by 300,000
    # books read all 300,000 of them.
    """
    CREATE OR REPLACE FUNCTION search_unindex_book(target integer) RETURNS void
    LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    DECLARE
        old_words text[];
    BEGIN
        DELETE FROM book_search WHERE book_id = target RETURNING words INTO old_words;
        IF old_words IS NULL THEN
            RETURN;
        END IF;
        DELETE FROM search_postings
        WHERE word = ANY(old_words) AND field = ANY('{0,1,2,3}'::smallint[])
          AND book_id = target;
        PERFORM 1 FROM unnest(old_words) AS o (word)
        JOIN search_words w ON w.word >= o.word AND w.word <= o.word
        ORDER BY w.word FOR UPDATE OF w;
        UPDATE search_words w SET books = w.books - 1
        FROM unnest(old_words) AS o (word) WHERE w.word >= o.word AND w.word <= o.word;
    END
    $$
    """,
    # -- books -------------------------------------------------------------
    "DROP TRIGGER search_book_inserted ON books",
    "DROP TRIGGER search_book_updated ON books",
    """
    CREATE FUNCTION search_books_inserted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_books(ARRAY(SELECT id FROM inserted));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_books_inserted AFTER INSERT ON books
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION search_books_inserted()
    """,
    # A transition table cannot go with a column list (UPDATE OF ...): the
    # function keeps the books whose indexed columns changed.
    """
    CREATE FUNCTION search_books_updated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_books(ARRAY(
            SELECT n.id FROM before_update o JOIN after_update n ON n.id = o.id
            WHERE o.title IS DISTINCT FROM n.title
               OR o.description IS DISTINCT FROM n.description
               OR o.author_id IS DISTINCT FROM n.author_id));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_books_updated AFTER UPDATE ON books
    REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
    FOR EACH STATEMENT EXECUTE FUNCTION search_books_updated()
    """,
    # -- book_category -------------------------------------------------------
    "DROP TRIGGER search_links_changed ON book_category",
    """
    CREATE FUNCTION search_links_inserted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_books(ARRAY(SELECT DISTINCT book_id FROM inserted));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_links_inserted AFTER INSERT ON book_category
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION search_links_inserted()
    """,
    """
    CREATE FUNCTION search_links_deleted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_books(ARRAY(SELECT DISTINCT book_id FROM deleted));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_links_deleted AFTER DELETE ON book_category
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION search_links_deleted()
    """,
    """
    CREATE FUNCTION search_links_updated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_books(ARRAY(
            SELECT o.book_id FROM before_update o JOIN after_update n ON n.id = o.id
            WHERE o.book_id <> n.book_id OR o.category_id <> n.category_id
            UNION
            SELECT n.book_id FROM before_update o JOIN after_update n ON n.id = o.id
            WHERE o.book_id <> n.book_id OR o.category_id <> n.category_id));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_links_updated AFTER UPDATE ON book_category
    REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
    FOR EACH STATEMENT EXECUTE FUNCTION search_links_updated()
    """,
    # -- renames ---------------------------------------------------------------
    "DROP TRIGGER search_author_renamed ON authors",
    """
    CREATE FUNCTION search_authors_renamed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_books(ARRAY(
            SELECT b.id FROM before_update o JOIN after_update n ON n.id = o.id
            JOIN books b ON b.author_id = n.id
            WHERE o.name IS DISTINCT FROM n.name));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_authors_renamed AFTER UPDATE ON authors
    REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
    FOR EACH STATEMENT EXECUTE FUNCTION search_authors_renamed()
    """,
    "DROP TRIGGER search_category_renamed ON categories",
    """
    CREATE FUNCTION search_categories_renamed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_books(ARRAY(
            SELECT DISTINCT bc.book_id FROM before_update o JOIN after_update n ON n.id = o.id
            JOIN book_category bc ON bc.category_id = n.id
            WHERE o.name IS DISTINCT FROM n.name));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_categories_renamed AFTER UPDATE ON categories
    REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
    FOR EACH STATEMENT EXECUTE FUNCTION search_categories_renamed()
    """,
]

BACKWARDS = [
    _previous("search_unindex_book(target integer)"),
    "DROP TRIGGER search_categories_renamed ON categories",
    "DROP FUNCTION search_categories_renamed()",
    """
    CREATE TRIGGER search_category_renamed AFTER UPDATE OF name ON categories
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION search_category_renamed()
    """,
    "DROP TRIGGER search_authors_renamed ON authors",
    "DROP FUNCTION search_authors_renamed()",
    """
    CREATE TRIGGER search_author_renamed AFTER UPDATE OF name ON authors
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION search_author_renamed()
    """,
    "DROP TRIGGER search_links_updated ON book_category",
    "DROP FUNCTION search_links_updated()",
    "DROP TRIGGER search_links_deleted ON book_category",
    "DROP FUNCTION search_links_deleted()",
    "DROP TRIGGER search_links_inserted ON book_category",
    "DROP FUNCTION search_links_inserted()",
    """
    CREATE TRIGGER search_links_changed
    AFTER INSERT OR DELETE OR UPDATE OF book_id, category_id ON book_category
    FOR EACH ROW EXECUTE FUNCTION search_links_changed()
    """,
    "DROP TRIGGER search_books_updated ON books",
    "DROP FUNCTION search_books_updated()",
    "DROP TRIGGER search_books_inserted ON books",
    "DROP FUNCTION search_books_inserted()",
    """
    CREATE TRIGGER search_book_inserted AFTER INSERT ON books
    FOR EACH ROW EXECUTE FUNCTION search_books_changed()
    """,
    """
    CREATE TRIGGER search_book_updated AFTER UPDATE OF title, description, author_id ON books
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title
                       OR OLD.description IS DISTINCT FROM NEW.description
                       OR OLD.author_id IS DISTINCT FROM NEW.author_id)
    EXECUTE FUNCTION search_books_changed()
    """,
    "DROP FUNCTION search_index_books(integer[])",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
