"""Author and category together: an author copy on book_category.

"Books of these authors in this category, by title" had two plans: read
every book of the authors and probe book_category for each (10-15 ms for a
fragment matching 300 authors), or walk the category in title order testing
each book's author (two probes a row). book_category.book_author_id, kept
equal to books.author_id by the same triggers as book_title, gives each a
cheaper one:

- book_category (category_id, book_author_id, book_title, book_id): one
  index descent per author within the category, then a sort of the few
  rows found;
- the category's title index INCLUDEs the author: the walk tests authors
  without reading books.

Like book_title, the column is not declared on the Piccolo table.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-26T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "book_category.book_author_id kept by triggers; author-in-category index"

FORWARDS = [
    "ALTER TABLE book_category ADD COLUMN book_author_id integer",
    """
    CREATE OR REPLACE FUNCTION book_category_copy_title() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- FOR SHARE waits for a concurrent change of the book to commit and
        -- then reads it, so the copies can never go stale.
        SELECT title, author_id INTO NEW.book_title, NEW.book_author_id
        FROM books WHERE id = NEW.book_id FOR SHARE;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE FUNCTION books_propagate_author() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE book_category SET book_author_id = NEW.author_id WHERE book_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER books_propagate_author
    AFTER UPDATE OF author_id ON books
    FOR EACH ROW WHEN (OLD.author_id IS DISTINCT FROM NEW.author_id)
    EXECUTE FUNCTION books_propagate_author()
    """,
    "UPDATE book_category bc SET book_author_id = b.author_id FROM books b WHERE b.id = bc.book_id",
    "ALTER TABLE book_category ALTER COLUMN book_author_id SET NOT NULL",
    "CREATE INDEX book_category_category_id_author_idx"
    " ON book_category (category_id, book_author_id, book_title, book_id)",
    "DROP INDEX book_category_category_id_title_idx",
    "CREATE INDEX book_category_category_id_title_idx"
    " ON book_category (category_id, book_title, book_id) INCLUDE (book_author_id)",
]

BACKWARDS = [
    "DROP INDEX book_category_category_id_title_idx",
    "CREATE INDEX book_category_category_id_title_idx"
    " ON book_category (category_id, book_title, book_id)",
    "DROP INDEX book_category_category_id_author_idx",
    "DROP TRIGGER books_propagate_author ON books",
    "DROP FUNCTION books_propagate_author()",
    """
    CREATE OR REPLACE FUNCTION book_category_copy_title() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        SELECT title INTO NEW.book_title FROM books WHERE id = NEW.book_id FOR SHARE;
        RETURN NEW;
    END
    $$
    """,
    "ALTER TABLE book_category DROP COLUMN book_author_id",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
