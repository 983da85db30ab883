"""A GIN index of each book's words qualified by its categories: a word in a category, one key.

A search in a category (``GET /books?q=...&category=...``) reads the books
holding every term that are in the category. Since 2026-11-30T00:00 the
terms and the category are keys of one scan of ``book_search_words_idx
(words, category_ids)``, which advances each key past the others' current
item. Two common words meet by stepping through the denser one's items
(a decoded posting page is read item by item), and the category, a key of
the second column, is asked last: "last map" in mystery at 1M books stepped
through the 136,589 books holding "last" to meet the 26,152 of "map" and
its completions before the category's 105,170 were asked, 4 to 10 ms of
PostgreSQL CPU for 312 books in all three (docs/search.md, "In a category,
by category words").

- ``search_category_words(words, category_ids)``: every pair of a
  category id and a word of the book, written ``'3:map'`` (a category id
  has no colon; a word may, after the first one). Immutable: it reads its
  arguments only.
- ``book_search_category_words_idx``: a GIN index on it. A term in a
  category is one key, the OR of its words in the category's ids
  (``3:map``, ``3:mapri``...), whose posting list holds only the books of
  both: "last map" in mystery meets 14,000 and 2,700 items instead of
  136,589, 26,152 and 105,170. Each write of a book's row adds its
  pairs (about 35 a book at 1M: 20 words, 1.75 categories) to the index.

The rows of ``book_search`` are not rewritten: the index is built from the
columns they hold. ``bookstore seed`` drops and builds it with the other
secondary indexes (``seed._bulk_load``).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-30T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "book_search_category_words_idx: GIN of each book's words qualified by category"

CATEGORY_WORDS = """
CREATE FUNCTION search_category_words(words text[], category_ids integer[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT c::text || ':' || w FROM unnest(category_ids) AS c, unnest(words) AS w)
$$
"""

FORWARDS = [
    # As the seed builds its indexes (``bookstore.seed``), for this
    # transaction only: a GIN index built with more memory comes out smaller.
    "SET LOCAL maintenance_work_mem = '512MB'",
    CATEGORY_WORDS,
    # Without a pending list (fastupdate off): a write adds its pairs to the
    # index itself. With one, every scan reads the whole list of entries
    # written since the last vacuum: after a reindex of 16,332 books (the
    # migration 2026-11-30T15:10) "last map" in mystery took 6.2 ms instead
    # of 0.3, 438 pages of the index read instead of a dozen.
    "CREATE INDEX book_search_category_words_idx ON book_search"
    " USING gin (search_category_words(words, category_ids)) WITH (fastupdate = off)",
    # The words' index as it is scanned beside this one: entries a migration
    # wrote since the last vacuum (15:10 reindexed 16,332 books) sit in its
    # pending list, which every scan reads whole until autovacuum moves them.
    "SELECT gin_clean_pending_list('book_search_words_idx')",
    "ANALYZE book_search",
]

BACKWARDS = [
    "DROP INDEX book_search_category_words_idx",
    "DROP FUNCTION search_category_words(text[], integer[])",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
