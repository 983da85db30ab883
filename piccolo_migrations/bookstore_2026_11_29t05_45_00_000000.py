"""categories_search_words_idx: completions find categories by their words, not by reading all.

``/books/suggest`` matched category names on ``search_lexemes(name)``, which
stemmed every category's name on every keystroke (300 calls, 1 to 20 ms of
a suggest's time under load). ``search_category_words(name)`` is the same
words behind a GIN index, so the generic plan reads the few categories
holding them.

The function is not inlined (its ``SET search_path``): since PostgreSQL 17
an index build runs its expressions with the search path ``pg_catalog,
pg_temp``, where the inlined body of ``search_lexemes`` cannot find
``search_fold``. With its own search path it runs as it does in a query,
and the planner matches the query's ``search_category_words(c.name)`` to
the index expression as written.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-29T05:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "GIN index on categories' search words, for /books/suggest"

FORWARDS = [
    """
    CREATE FUNCTION search_category_words(text) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        SET search_path FROM CURRENT
    AS $$ SELECT search_lexemes($1) $$
    """,
    "CREATE INDEX categories_search_words_idx ON categories"
    " USING gin (search_category_words(name))",
]

BACKWARDS = [
    "DROP INDEX categories_search_words_idx",
    "DROP FUNCTION search_category_words(text)",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
