"""``category_mode=all`` pages read two categories side by side, in one call.

A page of books in every one of several categories walked the smallest
category's title range and probed ``book_category_unique`` for each entry:
for two big categories that rarely meet, 218 to 1,187 probes for a page of
21 at 1M books (docs/performance-journal.md, "Browsing"). Both categories' entries
are in ``book_category (category_id, book_title, book_id)`` in the page's
order, so a merge join of the two ranges finds the same books reading both
in order, without a probe.

The planner does not choose that join by itself: custom plans, generic plans
at 100,000 books and three-way joins hashed whole categories (up to 722 ms).
``books_in_every_category`` pins it: no hash join and no nested loop can be
planned inside it, and its plan is generic, made once per connection
(PL/pgSQL keeps it), so the choice depends neither on the statistics nor on
the values. It is one statement for the caller, also through PgBouncer in
transaction mode (the settings are the function's own, restored on return).

Categories beyond the first two are probed per book the merge found (few),
after the join, never per entry of the walk. The year and price ranges are
tested on the first category's entries (which INCLUDE them). The cursor is
the last book's (title, id); ``('', 0)`` starts at the first book.
``bookstore.catalog.listing.smallest_first`` calls for it only where it
reads less than the probes: two single categories of comparable sizes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-29T09:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "books_in_every_category: a category_mode=all page as a merge join of two categories"

FORWARDS = [
    """
    CREATE FUNCTION books_in_every_category(
        first_category integer, second_category integer, other_categories integer[],
        after_title text, after_id integer,
        year_min integer, year_max integer, price_min numeric, price_max numeric,
        page_rows integer
    ) RETURNS SETOF integer
    LANGUAGE plpgsql STABLE
    SET enable_hashjoin = off
    SET enable_nestloop = off
    SET plan_cache_mode = force_generic_plan
    AS $$
    BEGIN
        -- OFFSET 0 keeps the probe of the other categories above the join:
        -- pushed down into the first category's walk, it ran once per entry.
        RETURN QUERY
        SELECT both_.book_id
          FROM (SELECT a.book_id, a.book_title
                  FROM book_category a
                  JOIN book_category b
                    ON b.book_title = a.book_title AND b.book_id = a.book_id
                 WHERE a.category_id = first_category
                   AND b.category_id = second_category
                   AND (a.book_title, a.book_id) > (after_title, after_id)
                   AND (b.book_title, b.book_id) > (after_title, after_id)
                   AND (year_min IS NULL OR a.book_year >= year_min)
                   AND (year_max IS NULL OR a.book_year <= year_max)
                   AND (price_min IS NULL OR a.book_price >= price_min)
                   AND (price_max IS NULL OR a.book_price <= price_max)
                 ORDER BY a.book_title, a.book_id
                OFFSET 0) AS both_
         WHERE cardinality(other_categories) = 0
            OR (SELECT count(*) FROM book_category x
                 WHERE x.book_id = both_.book_id AND x.category_id = ANY (other_categories))
               = cardinality(other_categories)
         ORDER BY both_.book_title, both_.book_id
         LIMIT page_rows;
    END
    $$
    """,
]

BACKWARDS = [
    "DROP FUNCTION books_in_every_category("
    "integer, integer, integer[], text, integer, integer, integer, numeric, numeric, integer)",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
