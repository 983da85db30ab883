"""Index-ordered search: a title copy on book_category and covering indexes.

The catalog is listed in (title, id) order. For a category, the only index
that can yield its books in that order must hold the title next to the
category: book_category.book_title is that copy, kept equal to books.title
by the two triggers below (never written by the application). It turns
"books of a category, by title" from thousands of probes or a sort into a
range scan that reads exactly one page of index entries.

books (title, id) INCLUDE (author_id) lets the planner walk titles and test
the author without touching the table; books (author_id, title, id) serves
"books of these authors, by title".

The column is deliberately not declared on the Piccolo table: no client sets
it, and Piccolo's inserts leave it to the trigger.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-26T05:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "book_category.book_title kept by triggers; index-ordered search"

FORWARDS = [
    "ALTER TABLE book_category ADD COLUMN book_title varchar(300)",
    """
    CREATE FUNCTION book_category_copy_title() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- FOR SHARE waits for a concurrent title change to commit and then
        -- reads the new title, so the copy can never go stale.
        SELECT title INTO NEW.book_title FROM books WHERE id = NEW.book_id FOR SHARE;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER book_category_copy_title
    BEFORE INSERT OR UPDATE ON book_category
    FOR EACH ROW EXECUTE FUNCTION book_category_copy_title()
    """,
    """
    CREATE FUNCTION books_propagate_title() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE book_category SET book_title = NEW.title WHERE book_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER books_propagate_title
    AFTER UPDATE OF title ON books
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title)
    EXECUTE FUNCTION books_propagate_title()
    """,
    "UPDATE book_category bc SET book_title = b.title FROM books b WHERE b.id = bc.book_id",
    "ALTER TABLE book_category ALTER COLUMN book_title SET NOT NULL",
    # GET /books?category=...: one category's books in title order, index only.
    "CREATE INDEX book_category_category_id_title_idx"
    " ON book_category (category_id, book_title, book_id)",
    # Superseded: the index above also leads with category_id.
    "DROP INDEX book_category_category_id_book_id_idx",
    "DROP INDEX books_title_id_idx",
    "CREATE INDEX books_title_id_idx ON books (title, id) INCLUDE (author_id)",
    # GET /books?author_id=... and ?author=...: an author's books in title order.
    "CREATE INDEX books_author_id_title_id_idx ON books (author_id, title, id)",
]

BACKWARDS = [
    "DROP INDEX books_author_id_title_id_idx",
    "DROP INDEX books_title_id_idx",
    "CREATE INDEX books_title_id_idx ON books (title, id)",
    "CREATE INDEX book_category_category_id_book_id_idx ON book_category (category_id, book_id)",
    "DROP INDEX book_category_category_id_title_idx",
    "DROP TRIGGER books_propagate_title ON books",
    "DROP FUNCTION books_propagate_title()",
    "DROP TRIGGER book_category_copy_title ON book_category",
    "DROP FUNCTION book_category_copy_title()",
    "ALTER TABLE book_category DROP COLUMN book_title",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
