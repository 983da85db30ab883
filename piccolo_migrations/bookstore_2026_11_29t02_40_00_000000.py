"""Storefront browsing (issue 10): sorts by year, price and date added, and ranges on them.

A page in an order is cheap when an index yields the rows in that order,
already filtered (docs/performance.md, "The cost model"). For the whole
catalog that is books (<value>, id); for a category it must be an index of
book_category, which therefore holds copies of the book's year, price and
creation time next to the title and author copies it already has, kept by
the same triggers (book_category_copy_title on the link, one more on books).
Each ordering index INCLUDEs the other filterable values, so that a range on
the price within a walk in year order is tested on the index entry, never
on the table. ``-price`` reads the same index backwards.

The admin's single-column indexes on year and price are replaced by the
(value, id) ones, which serve the admin's filters and counts as well.

On an existing catalog this rewrites every link (1.7 M at 1 M books) and
builds nine indexes, in one transaction holding book_category exclusively:
run it in a maintenance window, then ``VACUUM ANALYZE books, book_category``
(index-only scans need the visibility map).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-29T02:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "book_category copies of year, price, created_at; an index per sort"

FORWARDS = [
    "ALTER TABLE book_category ADD COLUMN book_year integer,"
    " ADD COLUMN book_price numeric(10, 2), ADD COLUMN book_created_at timestamptz",
    """
    CREATE OR REPLACE FUNCTION book_category_copy_title() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- FOR SHARE waits for a concurrent change of the book to commit and
        -- then reads it, so the copies can never go stale.
        SELECT title, author_id, published_year, price, created_at
        INTO NEW.book_title, NEW.book_author_id, NEW.book_year, NEW.book_price,
             NEW.book_created_at
        FROM books WHERE id = NEW.book_id FOR SHARE;
        RETURN NEW;
    END
    $$
    """,
    # Any UPDATE of a link re-reads the book (the trigger above), so touching
    # the book's links is enough to refresh every copy.
    """
    CREATE FUNCTION books_propagate_browse() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE book_category
        SET book_year = NEW.published_year, book_price = NEW.price,
            book_created_at = NEW.created_at
        WHERE book_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER books_propagate_browse
    AFTER UPDATE OF published_year, price, created_at ON books
    FOR EACH ROW WHEN (OLD.published_year IS DISTINCT FROM NEW.published_year
                       OR OLD.price IS DISTINCT FROM NEW.price
                       OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION books_propagate_browse()
    """,
    # The backfill writes the copies itself: the row trigger would look each
    # book up again, 1.7 M times.
    "ALTER TABLE book_category DISABLE TRIGGER book_category_copy_title",
    "UPDATE book_category bc SET book_year = b.published_year, book_price = b.price,"
    " book_created_at = b.created_at FROM books b WHERE b.id = bc.book_id",
    "ALTER TABLE book_category ENABLE TRIGGER book_category_copy_title",
    "ALTER TABLE book_category ALTER COLUMN book_created_at SET NOT NULL",
    # Every category's share of the links in pg_stats.most_common_vals: the
    # estimated totals and category counts (bookstore.catalog.counts) read it.
    # At the default target (100) only the hundred biggest are listed.
    "ALTER TABLE book_category ALTER COLUMN category_id SET STATISTICS 1000",
    # The whole catalog, in each order; the other filters on the entry.
    "DROP INDEX IF EXISTS books_published_year_idx",
    "DROP INDEX IF EXISTS books_price_idx",
    "CREATE INDEX books_published_year_id_idx ON books (published_year, id)"
    " INCLUDE (price, author_id)",
    "CREATE INDEX books_price_id_idx ON books (price, id) INCLUDE (published_year, author_id)",
    "CREATE INDEX books_created_at_id_idx ON books (created_at, id)"
    " INCLUDE (published_year, price, author_id)",
    "DROP INDEX books_title_id_idx",
    "CREATE INDEX books_title_id_idx ON books (title, id)"
    " INCLUDE (author_id, published_year, price)",
    # A category, in each order.
    "DROP INDEX book_category_category_id_title_idx",
    "CREATE INDEX book_category_category_id_title_idx"
    " ON book_category (category_id, book_title, book_id)"
    " INCLUDE (book_author_id, book_year, book_price)",
    "CREATE INDEX book_category_category_id_year_idx"
    " ON book_category (category_id, book_year, book_id) INCLUDE (book_author_id, book_price)",
    "CREATE INDEX book_category_category_id_price_idx"
    " ON book_category (category_id, book_price, book_id) INCLUDE (book_author_id, book_year)",
    "CREATE INDEX book_category_category_id_created_at_idx"
    " ON book_category (category_id, book_created_at, book_id)"
    " INCLUDE (book_author_id, book_year, book_price)",
]

BACKWARDS = [
    "ALTER TABLE book_category ALTER COLUMN category_id SET STATISTICS -1",
    "DROP INDEX book_category_category_id_created_at_idx",
    "DROP INDEX book_category_category_id_price_idx",
    "DROP INDEX book_category_category_id_year_idx",
    "DROP INDEX book_category_category_id_title_idx",
    "CREATE INDEX book_category_category_id_title_idx"
    " ON book_category (category_id, book_title, book_id) INCLUDE (book_author_id)",
    "DROP INDEX books_title_id_idx",
    "CREATE INDEX books_title_id_idx ON books (title, id) INCLUDE (author_id)",
    "DROP INDEX books_created_at_id_idx",
    "DROP INDEX books_price_id_idx",
    "DROP INDEX books_published_year_id_idx",
    "CREATE INDEX books_published_year_idx ON books (published_year)",
    "CREATE INDEX books_price_idx ON books (price)",
    "DROP TRIGGER books_propagate_browse ON books",
    "DROP FUNCTION books_propagate_browse()",
    """
    CREATE OR REPLACE FUNCTION book_category_copy_title() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        SELECT title, author_id INTO NEW.book_title, NEW.book_author_id
        FROM books WHERE id = NEW.book_id FOR SHARE;
        RETURN NEW;
    END
    $$
    """,
    "ALTER TABLE book_category DROP COLUMN book_created_at, DROP COLUMN book_price,"
    " DROP COLUMN book_year",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
