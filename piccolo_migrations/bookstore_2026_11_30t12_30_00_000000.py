"""search_rebuild() writes the postings with no primary key and builds it once after.

Since prefix postings (2026-11-30T08:30) a rebuild writes some 38 rows of
``search_postings`` a book (words and ``P*`` prefixes; 38 million at 1M
books), each inserted into the primary key's btree as it came: two WAL
records a row where one is needed. Now:

- ``search_rebuild()`` drops ``search_postings_pkey`` once it has emptied
  the table, writes the word postings and the ``P*`` rows, then adds the key
  back under the same name (``ALTER TABLE ... ADD CONSTRAINT
  search_postings_pkey PRIMARY KEY (word, field, book_id)``): one sorted
  build, with ``maintenance_work_mem`` at 512 MB for the function's run
  (``bookstore.seed`` sets the same for its own index builds).
- ``search_prefixes_build()`` finds each prefix's books by joining the
  postings to the lists' words (one hash join over the whole table) instead
  of probing the key a prefix at a time, since the key is not there while it
  runs. The rows are the same: each book holding one of a prefix's words, at
  the smallest field of its postings of them.

Safe wherever a rebuild runs, a served catalog included: the ``TRUNCATE``
that begins it already holds ``ACCESS EXCLUSIVE`` on ``search_postings``
until the transaction ends, so dropping and adding the key takes no lock a
rebuild did not take before, and no other session ever sees the table
without its key (DDL is transactional: they wait, then see the new table
with its new key). A failure anywhere rolls back the drop with the rest, and
the old index stands whole. The heap is written in the same order as
before (the word postings in key order, then the ``P*`` rows in key order),
and the tables hold the same rows.

What it gives (docs/performance-journal.md, "The rebuild's postings written without
their key"): a third less WAL and a key 8% smaller; not a faster seed on the
2-core machine of 2026-11-30 (the key's upkeep of sorted rows was a few percent of the
rebuild's CPU, not the 40% a wall-clock timing at load suggested).

The callers: ``bookstore seed`` (``seed.seed_synthetic``, an empty catalog,
its other indexes already dropped by ``seed._bulk_load``; it keeps primary
keys, so this one is the rebuild's own business), tests, and an operator's
``SELECT search_rebuild()`` to refresh stale prefix lists. The migration
2026-11-28T23:45 calls the rebuild of its own time, not this one.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import or_replace, raw_sql_migration, replaced
from piccolo_migrations.bookstore_2026_11_30t08_30_00_000000 import PREFIXES_BUILD
from piccolo_migrations.bookstore_2026_11_30t08_30_00_000000 import REBUILD as _REBUILD

ID = "2026-11-30T12:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search_rebuild() writes search_postings with no primary key and adds it after"

_KEY = "search_postings_pkey PRIMARY KEY (word, field, book_id)"

# Already CREATE OR REPLACE FUNCTION.
REBUILD = replaced(
    _REBUILD,
    (
        "    LANGUAGE plpgsql AS $$",
        "    LANGUAGE plpgsql SET maintenance_work_mem = '512MB' AS $$",
    ),
    (
        "        ) AS found;\n",
        "        ) AS found;\n"
        "        -- The table is empty and locked (ACCESS EXCLUSIVE, by the TRUNCATE\n"
        "        -- above) until commit: its key is built once, below, over all rows.\n"
        "        ALTER TABLE search_postings DROP CONSTRAINT search_postings_pkey;\n",
    ),
    (
        "        PERFORM search_prefixes_build();\n",
        "        PERFORM search_prefixes_build();\n"
        f"        ALTER TABLE search_postings ADD CONSTRAINT {_KEY};\n",
    ),
)

_PREFIX_BOOKS = """        SELECT x.prefix || '*', held.field, held.book_id
        FROM search_prefixes x
        CROSS JOIN LATERAL (
            SELECT min(p.field) AS field, p.book_id FROM search_postings p
            WHERE p.word = ANY(x.words)
            GROUP BY p.book_id
        ) AS held
        ORDER BY 1, 2, 3;"""
# The key is gone while the rebuild calls this: every posting of a listed
# word, met by a hash join with the lists' words (some 16,000 at 100,000
# books), then grouped by prefix and book.
_JOINED_PREFIX_BOOKS = """        SELECT listed.star, min(p.field), p.book_id
        FROM search_postings p
        JOIN (SELECT x.prefix || '*', w.word
              FROM search_prefixes x, unnest(x.words) AS w (word)) AS listed (star, word)
          ON listed.word = p.word
        GROUP BY listed.star, p.book_id
        ORDER BY 1, 2, 3;"""

PREFIXES_BUILD_JOINED = or_replace(
    replaced(
        PREFIXES_BUILD,
        (
            "    LANGUAGE plpgsql SET jit = off AS $$",
            "    LANGUAGE plpgsql SET jit = off SET enable_mergejoin = off AS $$",
        ),
        (
            "        -- Each prefix's books from its words' postings, a prefix at a time\n"
            "        -- (its words' runs merged and grouped by book), in index order.\n",
            "        -- Each prefix's books from its words' postings, in index order.\n",
        ),
        (_PREFIX_BOOKS, _JOINED_PREFIX_BOOKS),
    )
)

FORWARDS = [PREFIXES_BUILD_JOINED, REBUILD]

BACKWARDS = [or_replace(PREFIXES_BUILD), _REBUILD]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
