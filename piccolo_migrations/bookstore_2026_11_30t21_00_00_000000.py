"""search_vector(): a symbol NFKD spells with letters is a word alone; invisible characters go.

The index folded a field before splitting it, the query side split before
folding (``words.split_words``), and they read three kinds of characters
differently:

- A symbol NFKD spells with letters or digits ("™" TM, "℃" °C, "№" No,
  "Ⓗ" H, "⒜" (a), "㍱" hPa, "㈱" (株), the Kangxi radicals: 894 code
  points, ``SYMBOLS``) was part of the word it touched in the index and a
  separator in the query: "Pokémon™" was indexed ``pokemontm``, which
  "pokemon" met only as a prefix, and "Pokémon™" typed searched ``pokemon``
  alone. Each is now a word of its own on both sides, spelled as NFKD spells
  it: "Pokémon™" is ``pokemon`` and ``tm``, "9℃" ``9`` and ``c`` (as "9°C").
- The negative circled and squared capitals ("🅐", "🅰"), which NFKD leaves
  alone, are letters to PostgreSQL's parser and separators to Python: a
  space here (``NOT_LETTERS``), as no query could ask for them.
- Invisible format characters (category Cf, ``INVISIBLE``): a soft hyphen,
  a joiner, a direction mark. The embedded PostgreSQL 18 kept them inside
  their word (``co\\u00adoperation`` one lexeme with its soft hyphen,
  which nothing typed met), 15 split the word there, Python too. They are
  now dropped on both sides ("co\\u00adoperation" is ``cooperation``), but
  the zero-width space, which marks where a word ends: a space.

An ASCII field has none of them and is read as before (the ``CASE``: the
three regular expressions run on other fields only). The books whose title,
description, author's name or a category's name holds one of them are
reindexed, in batches of ids, and only they (``CONCERNED_BOOKS``).

Backwards puts the function back and reindexes the same books with it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import or_replace, raw_sql_migration, replaced
from piccolo_migrations.bookstore_2026_11_30t15_10_00_000000 import BATCH
from piccolo_migrations.bookstore_2026_11_30t15_10_00_000000 import (
    SEARCH_VECTOR as _SEARCH_VECTOR,
)

ID = "2026-11-30T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search_vector(): spelled symbols words alone, invisible characters dropped"


def _bracket(ranges: tuple[tuple[int, int], ...]) -> str:
    """A bracket expression of the code points ``ranges`` spans (bounds included)."""
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


# Frozen copies of words.SPELLED_SYMBOLS and words.INVISIBLE (Unicode 14);
# tests/test_search_special_tokens.py checks that they are still the same.
SYMBOLS = (
    (0x20A8, 0x20A8), (0x2100, 0x2101), (0x2103, 0x2103), (0x2105, 0x2106),
    (0x2109, 0x2109), (0x2116, 0x2116), (0x2120, 0x2122), (0x213B, 0x213B),
    (0x249C, 0x24E9), (0x2E9F, 0x2E9F), (0x2EF3, 0x2EF3), (0x2F00, 0x2FD5),
    (0x3196, 0x319F), (0x3200, 0x321E), (0x322A, 0x3247), (0x3250, 0x3250),
    (0x3260, 0x327E), (0x328A, 0x32B0), (0x32C0, 0x33FF), (0xFDFC, 0xFDFC),
    (0x1F110, 0x1F12E), (0x1F130, 0x1F14F), (0x1F16A, 0x1F16C), (0x1F190, 0x1F190),
    (0x1F200, 0x1F202), (0x1F210, 0x1F23B), (0x1F240, 0x1F248), (0x1F250, 0x1F251),
)  # fmt: skip
INVISIBLE = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD),
    (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200C, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)  # fmt: skip
# Separators to Python that the parser reads as letters, and the zero-width space.
NOT_LETTERS = ((0x200B, 0x200B), (0x1F150, 0x1F169), (0x1F170, 0x1F189))

_FOLDED = "search_fold($1)"
_SPLIT = (
    "search_fold(CASE WHEN octet_length($1) = length($1) THEN $1 ELSE"
    f" regexp_replace(regexp_replace(regexp_replace($1, '{_bracket(INVISIBLE)}', '', 'g'),"
    f" '{_bracket(SYMBOLS)}', ' \\& ', 'g'), '{_bracket(NOT_LETTERS)}', ' ', 'g') END)"
)
SEARCH_VECTOR = or_replace(replaced(_SEARCH_VECTOR, (_FOLDED, _SPLIT)))

_ALL = _bracket(INVISIBLE + SYMBOLS + NOT_LETTERS)


def _concerned(field: str) -> str:
    """``field`` (an SQL expression) holds a character the new function reads otherwise."""
    return f"(octet_length({field}) <> length({field}) AND {field} ~ '{_ALL}')"


CONCERNED_BOOKS = f"""
    SELECT b.id FROM books b
    WHERE {_concerned("b.title")} OR {_concerned("b.description")}
    UNION
    SELECT b.id FROM authors a JOIN books b ON b.author_id = a.id
    WHERE {_concerned("a.name")}
    UNION
    SELECT bc.book_id FROM categories c JOIN book_category bc ON bc.category_id = c.id
    WHERE {_concerned("c.name")}
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
    # Its expression reads search_lexemes, which reads search_vector.
    "REINDEX INDEX categories_search_words_idx",
    REINDEX_CONCERNED,
    # Cached answers (bookstore.response_cache) were given by the old index.
    "SELECT catalog_version_advance()",
]

BACKWARDS = [
    or_replace(_SEARCH_VECTOR),
    "REINDEX INDEX categories_search_words_idx",
    REINDEX_CONCERNED,
    "SELECT catalog_version_advance()",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
