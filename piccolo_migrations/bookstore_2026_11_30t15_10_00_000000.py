"""search_vector(): every field indexed as the words a customer sees, punctuation or not.

PostgreSQL's text-search parser reads more than words. ``<Tag>`` is an XML
tag and ``&chips;`` an entity: both dropped, so "The <Tag> Affair" was
indexed as ``affair`` alone. ``node.js`` and ``www.example.com`` are hosts,
``/etc/passwd`` and ``~/notes.md`` paths, ``john.smith@example.com`` an
email, ``2.0`` and ``v1.2.3`` numbers or versions, ``-22`` in "Catch-22" a
signed integer: each one lexeme, where the query side (``words.split_words``,
runs of letters and digits) reads ``node`` and ``js``, ``catch`` and ``22``,
so a customer typing them never met the book. ``well-known`` gave
``well-known`` as well as its parts, a lexeme no query asks for.

``search_vector(text)`` is ``to_tsvector('english', ...)`` of the text folded
by ``search_fold`` with each run of ASCII punctuation (Python's
``string.punctuation``) made one space (a regular expression: ``translate`` of the 32 characters
made the fields' vectors twice as slow): the parser then meets
only runs of letters and digits, the words ``split_words`` gives. Non-ASCII
punctuation (« — … ’ ·) was a separator already. ``search_fold`` itself is
unchanged: ``bookstore.search_log.normalize_search`` is its Python twin, and
a search's quotes and minus signs stay in the log's text. ``search_lexemes``
(each field's words; categories' GIN index through
``search_category_words``, rebuilt here), ``search_index_books`` (every
write) and ``search_rebuild`` call it, so the index, its upkeep and a
rebuild agree.

Books indexed before hold the parser's tokens: they are reindexed here, and
only they. A folded field gives other lexemes only where one of ``+ - . / ~``
stands before a character other than a space, ``&`` starts an entity
(``&...;``) or ``<`` opens a tag (``<...>``) (``CONCERNED``; no miss on
200,000 random strings of words, digits and punctuation against the two
tokenizations). The books whose title, description, author's name or a
category's name matches it go through ``search_index_books`` in batches of
ids. On the synthetic 1M catalog that is the 16,332 books of the three
"Self-Help" categories (``self-help`` was a lexeme beside ``self`` and
``help``): the selection reads every title and description in about a
second, the migration took 21 s on PG15 (figures in docs/search.md, "1.
Words"). The vocabulary keeps words no book holds any longer at 0, as any
write leaves them; the prefix lists stay as they are until the next
``search_rebuild()``, which costs speed, never results (docs/search.md, "The
index").

Backwards puts the functions back and reindexes the same books with them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration, replaced, statement_of
from piccolo_migrations.bookstore_2026_11_29t00_05_00_000000 import FORWARDS as GROUPED_REBUILD
from piccolo_migrations.bookstore_2026_11_30t08_30_00_000000 import INDEX_BOOKS as _INDEX_BOOKS
from piccolo_migrations.bookstore_2026_11_30t12_30_00_000000 import REBUILD as _REBUILD

ID = "2026-11-30T15:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search_vector(): ASCII punctuation made spaces before the parser; books reindexed"

# Python's string.punctuation, every ASCII character other than a letter, a
# digit or a space, as ranges of code points; a run of them is one space.
PUNCTUATION = "[!-/:-@[-`{-~]+"

SEARCH_VECTOR = f"""
    CREATE FUNCTION search_vector(text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT to_tsvector('english', regexp_replace(search_fold($1), '{PUNCTUATION}', ' ', 'g'))
    $$
    """

# Already CREATE OR REPLACE FUNCTION.
_LEXEMES = statement_of(GROUPED_REBUILD, "FUNCTION search_lexemes(text)")
LEXEMES = replaced(
    _LEXEMES,
    (
        "tsvector_to_array(to_tsvector('english', search_fold($1)))",
        "tsvector_to_array(search_vector($1))",
    ),
)

# The four fields, as search_index_books and search_rebuild both read them.
_FIELDS = (
    ("to_tsvector('english', search_fold(b.title))", "search_vector(b.title)"),
    ("to_tsvector('english', search_fold(a.name))", "search_vector(a.name)"),
    (
        "to_tsvector('english', search_fold(coalesce(links.names, '')))",
        "search_vector(coalesce(links.names, ''))",
    ),
    (
        "to_tsvector('english', search_fold(coalesce(b.description, '')))",
        "search_vector(coalesce(b.description, ''))",
    ),
)
INDEX_BOOKS = replaced(_INDEX_BOOKS, *_FIELDS)
REBUILD = replaced(_REBUILD, *_FIELDS)

# Where the parser's tokens differ from the words between punctuation.
CONCERNED = "[-+./~][^[:space:]]|&[^[:space:]]*;|<[^>]*>"
# Batches of at most this many books (by id range) for search_index_books.
BATCH = 10_000


def _concerned(field: str) -> str:
    """``field`` (an SQL expression) folds to a text matching ``CONCERNED``.

    Folding changes no punctuation of an ASCII text; a text with other
    characters is folded first (NFKD makes "＜" "<" and "…" "...").
    """
    return (
        f"CASE WHEN octet_length({field}) = length({field}) THEN {field} ~ '{CONCERNED}'"
        f" ELSE search_fold({field}) ~ '{CONCERNED}' END"
    )


# A book's category names are read joined by spaces: "<Noir" and "Pulp>" make
# a tag of two names, so a category with either bracket counts.
CONCERNED_BOOKS = f"""
    SELECT b.id FROM books b
    WHERE {_concerned("b.title")} OR {_concerned("b.description")}
    UNION
    SELECT b.id FROM authors a JOIN books b ON b.author_id = a.id
    WHERE {_concerned("a.name")}
    UNION
    SELECT bc.book_id FROM categories c JOIN book_category bc ON bc.category_id = c.id
    WHERE {_concerned("c.name")} OR c.name ~ '[<>]'
"""

REINDEX_CONCERNED = f"""
    DO $$
    DECLARE
        batch integer[];
    BEGIN
        FOR batch IN
            SELECT array_agg(id ORDER BY id) FROM ({CONCERNED_BOOKS}) AS concerned (id)
            GROUP BY id / {BATCH}
        LOOP
            PERFORM search_index_books(batch);
        END LOOP;
    END
    $$
"""

FORWARDS = [
    SEARCH_VECTOR,
    LEXEMES,
    INDEX_BOOKS,
    REBUILD,
    "REINDEX INDEX categories_search_words_idx",
    REINDEX_CONCERNED,
    # Cached answers (bookstore.response_cache) were given by the old index.
    "SELECT catalog_version_advance()",
]

BACKWARDS = [
    _LEXEMES,
    _INDEX_BOOKS,
    _REBUILD,
    "REINDEX INDEX categories_search_words_idx",
    REINDEX_CONCERNED,
    "SELECT catalog_version_advance()",
    "DROP FUNCTION search_vector(text)",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
