"""Books per category, decade and price band, kept by statement-level triggers.

The decade and price-band facets of a big category were a sample of 1,001
books scaled to an estimated total: 29 of 240 counts were off by more than
20% at 1M books (docs/performance.md). ``category_counts`` holds, for each
category, the number of its books in each (decade, price band), NULL for a
book without a year or a price: at most 19 x 9 rows a category. A
category's total and its decade and price-band counts are sums of its rows
(about 170 at 1M books), exact, and cheaper than the sample they replace.

The triggers run once per statement on book_category, set-based, from its
copies of the book's year and price (a change of a book's year or price
reaches them through books_propagate_browse's UPDATE of the links). Rows
are written in key order, so two writers wait for each other rather than
deadlock; ``books`` is in no index, so that a count's update is a HOT
update. No foreign key to categories: TRUNCATE categories (the tests, the
seed) would then have to name this table; a category with links cannot be
deleted (RESTRICT), and rows that drop to zero are removed.

The bulk loader of ``bookstore seed`` pauses triggers and calls
``category_counts_rebuild()``, as this migration does (1.7 M links at 1M
books: one GROUP BY, a few seconds).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-29T05:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "category_counts: books per category, decade and price band, kept by triggers"

FORWARDS = [
    # The facets' values: bookstore.catalog.counts.PRICE_BANDS (tested equal).
    """
    CREATE FUNCTION price_band_of(price numeric) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN price < 5 THEN 0 WHEN price < 10 THEN 1 WHEN price < 15 THEN 2
                    WHEN price < 20 THEN 3 WHEN price < 30 THEN 4 WHEN price < 50 THEN 5
                    WHEN price < 100 THEN 6 WHEN price IS NOT NULL THEN 7 END::smallint
    $$
    """,
    # The decade's first year; negative years round down too.
    """
    CREATE FUNCTION decade_of(year integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT year - (year % 10 + 10) % 10
    $$
    """,
    """
    CREATE TABLE category_counts (
        category_id integer NOT NULL,
        decade integer,
        price_band smallint,
        books integer NOT NULL,
        CONSTRAINT category_counts_key UNIQUE NULLS NOT DISTINCT (category_id, decade, price_band)
    )
    """,
    # Moves of (category, decade, band) counts, applied in key order.
    """
    CREATE FUNCTION category_counts_apply(
        moved_categories integer[], moved_decades integer[], moved_bands smallint[],
        changes integer[]
    ) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO category_counts AS c (category_id, decade, price_band, books)
        SELECT category_id, decade, price_band, change
        FROM unnest(moved_categories, moved_decades, moved_bands, changes)
             AS m (category_id, decade, price_band, change)
        ORDER BY category_id, decade, price_band
        ON CONFLICT (category_id, decade, price_band)
        DO UPDATE SET books = c.books + excluded.books;
        DELETE FROM category_counts c
        USING unnest(moved_categories, moved_decades, moved_bands)
              AS m (category_id, decade, price_band)
        WHERE c.books = 0 AND c.category_id = m.category_id
          AND c.decade IS NOT DISTINCT FROM m.decade
          AND c.price_band IS NOT DISTINCT FROM m.price_band;
    $$
    """,
    # One function for the three triggers: each names only the transition
    # tables its event has, and the branch reads only those.
    """
    CREATE FUNCTION category_counts_follow_links() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        moved_categories integer[];
        moved_decades integer[];
        moved_bands smallint[];
        changes integer[];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(category_id), array_agg(decade), array_agg(band), array_agg(n)
            INTO moved_categories, moved_decades, moved_bands, changes
            FROM (SELECT category_id, decade_of(book_year) AS decade,
                         price_band_of(book_price) AS band, count(*)::integer AS n
                  FROM new_links GROUP BY 1, 2, 3) AS moved;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT array_agg(category_id), array_agg(decade), array_agg(band), array_agg(-n)
            INTO moved_categories, moved_decades, moved_bands, changes
            FROM (SELECT category_id, decade_of(book_year) AS decade,
                         price_band_of(book_price) AS band, count(*)::integer AS n
                  FROM old_links GROUP BY 1, 2, 3) AS moved;
        ELSE
            -- A title's change touches the links too: it moves nothing.
            SELECT array_agg(category_id), array_agg(decade), array_agg(band), array_agg(n)
            INTO moved_categories, moved_decades, moved_bands, changes
            FROM (SELECT category_id, decade, band, sum(n)::integer AS n
                  FROM (SELECT category_id, decade_of(book_year) AS decade,
                               price_band_of(book_price) AS band, 1 AS n FROM new_links
                        UNION ALL
                        SELECT category_id, decade_of(book_year), price_band_of(book_price), -1
                        FROM old_links) AS each_move
                  GROUP BY 1, 2, 3 HAVING sum(n) <> 0) AS moved;
        END IF;
        IF moved_categories IS NOT NULL THEN
            PERFORM category_counts_apply(moved_categories, moved_decades, moved_bands, changes);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER category_counts_links_inserted AFTER INSERT ON book_category
    REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION category_counts_follow_links()
    """,
    """
    CREATE TRIGGER category_counts_links_deleted AFTER DELETE ON book_category
    REFERENCING OLD TABLE AS old_links
    FOR EACH STATEMENT EXECUTE FUNCTION category_counts_follow_links()
    """,
    """
    CREATE TRIGGER category_counts_links_updated AFTER UPDATE ON book_category
    REFERENCING OLD TABLE AS old_links NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION category_counts_follow_links()
    """,
    """
    CREATE FUNCTION category_counts_emptied() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM category_counts;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER category_counts_links_truncated AFTER TRUNCATE ON book_category
    FOR EACH STATEMENT EXECUTE FUNCTION category_counts_emptied()
    """,
    """
    CREATE FUNCTION category_counts_rebuild() RETURNS void
    LANGUAGE sql AS $$
        DELETE FROM category_counts;
        INSERT INTO category_counts (category_id, decade, price_band, books)
        SELECT category_id, decade_of(book_year), price_band_of(book_price), count(*)
        FROM book_category GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
    $$
    """,
    "SELECT category_counts_rebuild()",
    "ANALYZE category_counts",
]

BACKWARDS = [
    "DROP TRIGGER category_counts_links_truncated ON book_category",
    "DROP TRIGGER category_counts_links_updated ON book_category",
    "DROP TRIGGER category_counts_links_deleted ON book_category",
    "DROP TRIGGER category_counts_links_inserted ON book_category",
    "DROP FUNCTION category_counts_rebuild()",
    "DROP FUNCTION category_counts_emptied()",
    "DROP FUNCTION category_counts_follow_links()",
    "DROP FUNCTION category_counts_apply(integer[], integer[], smallint[], integer[])",
    "DROP TABLE category_counts",
    "DROP FUNCTION decade_of(integer)",
    "DROP FUNCTION price_band_of(numeric)",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
