"""Every field is indexed as the words a customer sees, whatever its punctuation.

PostgreSQL's text-search parser reads more than words: ``<Tag>`` is an XML
tag and ``&chips;`` an entity (both dropped), ``node.js`` a host,
``/etc/passwd`` a path, ``-22`` a signed integer, ``2.0`` a decimal,
``john.smith@example.com`` an email. Each is one token, or none, where the
query side (``words.split_words``) reads the words between the punctuation,
so "tag", "chips", "node", "passwd" or "catch 22" never met the book. Since
migration 2026-11-30T15:10 ``search_vector`` makes every ASCII punctuation
mark a space before the parser reads the text (docs/search.md, "1. Words").
"""

from __future__ import annotations

import string
import sys
import unicodedata

import asyncpg
import pytest
from conftest import TEST_DSN
from factories import create_author, create_book, create_category, search, titles
from test_search_prefixes import PREFIX_ROWS_DIFFERING, functions

from bookstore.catalog.search import words
from bookstore.catalog.search.words import fold, split_words
from bookstore.tables import Book
from piccolo_migrations import bookstore_2026_11_30t15_10_00_000000 as special_tokens
from piccolo_migrations import bookstore_2026_11_30t21_00_00_000000 as split_symbols

# A title, and what a customer who remembers it types.
TITLES_AND_QUERIES = [
    ("The <Tag> Affair", "tag"),
    ("The <Tag> Affair", "<Tag>"),
    ("<Programming> in Go", "programming go"),
    ("List<Integer> Recipes", "integer recipes"),
    ("Love <3 Forever", "love 3"),
    ("Fish &chips; Tales", "fish chips"),
    ("Tom &amp; Jerry", "tom jerry"),
    ("Catch-22", "catch 22"),
    ("Node.js in Action", "node js"),
    ("Node.js in Action", "node.js"),
    ("Web 2.0 Marketing", "web 2.0"),
    ("The /etc/passwd Files", "passwd"),
    ("Visit www.example.com Today", "example"),
    ("Mail john.smith@example.com", "smith"),
    ("http://example.com/books guide", "example books"),
    ("C:/Users/Readme.txt Explained", "readme"),
    ("~/notes.md and Other Stories", "notes"),
    ("Version v1.2.3 Released", "v1 2"),
    ("+1 for Kindness", "1 kindness"),
]


@pytest.mark.parametrize(("title", "typed"), TITLES_AND_QUERIES)
async def test_a_title_is_found_by_the_words_around_its_punctuation(
    client, title: str, typed: str
) -> None:
    await create_book(client, title=title)
    await create_book(client, title="An Unrelated Book")
    page = await search(client, typed)
    assert titles(page) == [title]
    assert page["ignored_words"] == []


async def test_an_author_and_a_category_are_found_by_the_words_around_their_punctuation(
    client,
) -> None:
    author = await create_author(client, "Robert <Bob> Martin")
    category = await create_category(client, "Sci-Fi/Fantasy")
    book = await create_book(
        client,
        title="Clean Stories",
        author_id=author["id"],
        category_ids=[category["id"]],
        description="Write to john.smith@example.com about the node.js chapter.",
    )
    await create_book(client, title="An Unrelated Book")
    for typed in ("bob", "fantasy", "clean fantasy", "smith", "node js"):
        assert titles(await search(client, typed)) == [book["title"]], typed


async def test_typed_markup_is_text_and_its_highlight_is_escaped(client) -> None:
    await create_book(client, title="<script>alert(1)</script> Diaries")
    page = await search(client, "<script>", highlight="true")
    assert [book["title_highlight"] for book in page["items"]] == [
        "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; Diaries"
    ]
    for typed in ("<script>", "</b>", "&amp;", "<", "&", "<<>>", "a@b.c", "/", "-"):
        response = await client.get("/books", params={"q": typed})
        assert response.status_code in (200, 422), (typed, response.text)


@pytest.mark.parametrize(
    "text",
    [
        "The <Tag> Affair",
        "x<y and y>z",
        "Fish &chips; &#169; &copy;",
        "Catch-22, well-known co-op",
        "node.js ASP.NET v1.2.3 3.14 e.e. J.R.R. Tolkien",
        "http://example.com:8080/path/to/page?x=1 ftp://a.b/c",
        "john.smith@example.com /usr/local/bin ~/notes.md C:\\Windows\\System32",
        # Fullwidth < and >: NFKD folds them to ASCII ones.
        "1/2 either/or AC/DC tcp/ip +1 -5 ½ \uff1cTag\uff1e wait\u2026what",
        "Gabriel García Márquez, O'Brien, rock'n'roll, foo_bar",
        # Marks inside words: an accent typed apart, Devanagari's signs, Hebrew's points.
        "Ma\u0301rquez Ma\u0332rquez गोदान हिन्दी प्रेमचंद שָׁלוֹם",
        "".join(f"w{n}{mark}" for n, mark in enumerate(string.punctuation)),
    ],
)
async def test_the_index_holds_the_stems_of_the_words_the_query_side_splits(text: str) -> None:
    # search_lexemes is what a book's field is indexed as; the query side
    # splits what is typed with split_words and stems each word alone.
    rows = await Book.raw(
        "SELECT search_lexemes({}) AS indexed, ARRAY(SELECT l.lexeme FROM unnest({}::text[]) AS w,"
        " unnest(to_tsvector('english', w)) AS l) AS typed",
        text,
        split_words(text),
    )
    assert sorted(rows[0]["indexed"]) == sorted(set(rows[0]["typed"]))


# -- the migration on a catalog indexed with the parser's tokens ----------------------

# The index but the prefix lists and their P* rows, as a rebuild from scratch
# would give it (the vocabulary's words held by no book any more stay at 0
# after a write, and a rebuild has no row for them).
INDEX_ROWS = {
    "books": "SELECT * FROM book_search ORDER BY book_id",
    "postings": "SELECT word, field, book_id FROM search_postings WHERE word NOT LIKE '%*'"
    " ORDER BY word, field, book_id",
    "words": "SELECT word, books FROM search_words WHERE books > 0 ORDER BY word",
}


async def index_rows(connection: asyncpg.Connection) -> dict[str, list[asyncpg.Record]]:
    return {name: await connection.fetch(sql) for name, sql in INDEX_ROWS.items()}


async def test_the_migration_reindexes_the_books_with_punctuation_and_only_them(client) -> None:
    bob = await create_author(client, "Robert <Bob> Martin")
    sci_fi, noir, pulp = [
        await create_category(client, name) for name in ("Sci-Fi", "<Noir", "Pulp>")
    ]
    concerned = [
        await create_book(client, title="The <Tag> Affair"),
        await create_book(client, title="\uff1cTags\uff1e Folded"),
        await create_book(client, title="Clean Code", author_id=bob["id"]),
        await create_book(client, title="Dune", category_ids=[sci_fi["id"]]),
        await create_book(client, title="Nights", category_ids=[noir["id"], pulp["id"]]),
        await create_book(client, title="Web Guide", description="See www.example.com today."),
    ]
    # Words of "ta" enough for a prefix list: its P* rows must follow the
    # reindexed books too.
    plain = [
        await create_book(client, title=f"Tales of the {word}", description="Plain words.")
        for word in ("Tango", "Tarot", "Taxi", "Tapestry", "Tavern", "Talon", "Tassel")
    ]
    connection = await asyncpg.connect(TEST_DSN)
    try:
        async with connection.transaction():
            head = await functions(connection)
            for statement in special_tokens.BACKWARDS:
                await connection.execute(statement)
            # The parser's tokens, as a catalog indexed before the migration holds them.
            await connection.execute("SELECT search_rebuild()")
            assert "tag" not in await connection.fetchval(
                "SELECT words FROM book_search WHERE book_id = $1", concerned[0]["id"]
            )
            assert await connection.fetchval("SELECT count(*) FROM search_prefixes") > 0
            rows_before = dict(await connection.fetch("SELECT book_id, ctid FROM book_search"))
            for statement in special_tokens.FORWARDS:
                await connection.execute(statement)
            # The function as a later migration redefines it (no book here reads otherwise).
            await connection.execute(split_symbols.SEARCH_VECTOR)
            assert await functions(connection) == head  # left at the head
            rows_after = dict(await connection.fetch("SELECT book_id, ctid FROM book_search"))
            reindexed = {book for book, row in rows_after.items() if rows_before[book] != row}
            assert reindexed == {book["id"] for book in concerned}
            assert await connection.fetchval(PREFIX_ROWS_DIFFERING) == 0
            migrated = await index_rows(connection)
            await connection.execute("SELECT search_rebuild()")
            assert await index_rows(connection) == migrated
    finally:
        await connection.close()
    assert len(plain) == 7
    assert titles(await search(client, "tags folded")) == [concerned[1]["title"]]
    assert titles(await search(client, "noir pulp")) == ["Nights"]


async def test_the_punctuation_made_spaces_is_pythons() -> None:
    rows = await Book.raw(
        "SELECT string_agg(chr(c), '' ORDER BY c) AS marks FROM generate_series(0, 255) AS c"
        " WHERE c > 0 AND regexp_replace(chr(c), {}, ' ', 'g') = ' ' AND chr(c) <> ' '",
        special_tokens.PUNCTUATION,
    )
    assert rows[0]["marks"] == string.punctuation


# -- symbols NFKD spells with letters, invisible characters (migration 2026-11-30T21:00) --


def _assigned_code_points() -> list[int]:
    """Every code point Python's Unicode (14) assigns, surrogates apart: a newer
    PostgreSQL knows letters of later versions, which Python reads as nothing."""
    return [
        point
        for point in range(1, sys.maxunicode + 1)
        if unicodedata.category(chr(point)) not in ("Cn", "Cs")
    ]


def _ranges(points: list[int]) -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    for point in points:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    return tuple(ranges)


def test_the_spelled_symbols_and_invisible_characters_are_unicodes() -> None:
    # Neither letter, digit nor mark, and folded to a letter or a digit.
    spelled = [
        point
        for point in _assigned_code_points()
        if not chr(point).isalnum()
        and unicodedata.category(chr(point))[0] != "M"
        and any(c.isalnum() for c in fold(chr(point)))
    ]
    invisible = [
        point
        for point in _assigned_code_points()
        if unicodedata.category(chr(point)) == "Cf" and point != 0x200B
    ]
    assert len(spelled) == 894
    assert words.SPELLED_SYMBOLS == split_symbols.SYMBOLS == _ranges(spelled)
    assert words.INVISIBLE == split_symbols.INVISIBLE == _ranges(invisible)


async def test_every_code_point_between_two_letters_is_split_as_the_index_splits_it() -> None:
    # "q" + the character + "z": one word, two, three or a symbol between, a
    # mark or an invisible character inside. The index's lexemes of the text
    # are the stems of the words the query side splits, on PG15 (libc) and
    # the embedded PG18 (builtin provider) alike.
    texts = [f"q{chr(point)}z" for point in _assigned_code_points()]
    typed = ["\x1f".join(split_words(text)) for text in texts]
    connection = await asyncpg.connect(TEST_DSN)
    try:
        differing = await connection.fetch(
            """
            SELECT t.text FROM unnest($1::text[], $2::text[]) AS t (text, typed)
            WHERE ARRAY(SELECT lexeme FROM unnest(search_vector(t.text)) ORDER BY 1)
               <> ARRAY(SELECT DISTINCT l.lexeme
                        FROM unnest(string_to_array(t.typed, chr(31))) AS w,
                             unnest(to_tsvector('english', w)) AS l ORDER BY 1)
            """,
            texts,
            typed,
        )
    finally:
        await connection.close()
    assert [f"U+{ord(row['text'][1]):04X}" for row in differing] == []


async def test_every_code_point_folds_as_search_fold_folds_it() -> None:
    points = _assigned_code_points()
    connection = await asyncpg.connect(TEST_DSN)
    try:
        differing = await connection.fetch(
            "SELECT t.text FROM unnest($1::text[], $2::text[]) AS t (text, folded)"
            " WHERE search_fold(t.text) <> t.folded",
            [chr(point) for point in points],
            [fold(chr(point)) for point in points],
        )
    finally:
        await connection.close()
    assert [f"U+{ord(row['text']):04X}" for row in differing] == []


async def test_the_split_migration_reindexes_the_books_it_reads_otherwise_and_only_them(
    client,
) -> None:
    author = await create_author(client, "Zoë\u00adMaria Mu\u200cller")
    category = await create_category(client, "Ⓢcience")
    concerned = [
        await create_book(client, title="Pokémon™ Adventures"),
        await create_book(client, title="Plain Title", description="Bake at 180℃ for long."),
        await create_book(client, title="Another Plain", author_id=author["id"]),
        await create_book(client, title="Yet Another", category_ids=[category["id"]]),
        await create_book(client, title="Co\u00adoperation Games"),
        await create_book(client, title="Split\u200bWords"),
    ]
    # Words of "ta" enough for a prefix list; an accent, no symbol.
    plain = [
        await create_book(client, title=f"Tales of the {word}", description="Café noir.")
        for word in ("Tango", "Tarot", "Taxi", "Tapestry", "Tavern", "Talon", "Tassel")
    ]
    connection = await asyncpg.connect(TEST_DSN)
    try:
        async with connection.transaction():
            head = await functions(connection)
            for statement in split_symbols.BACKWARDS:
                await connection.execute(statement)
            # As a catalog indexed before the migration holds them.
            await connection.execute("SELECT search_rebuild()")
            assert "pokemontm" in await connection.fetchval(
                "SELECT words FROM book_search WHERE book_id = $1", concerned[0]["id"]
            )
            rows_before = dict(await connection.fetch("SELECT book_id, ctid FROM book_search"))
            for statement in split_symbols.FORWARDS:
                await connection.execute(statement)
            assert await functions(connection) == head  # left at the head
            rows_after = dict(await connection.fetch("SELECT book_id, ctid FROM book_search"))
            reindexed = {book for book, row in rows_after.items() if rows_before[book] != row}
            assert reindexed == {book["id"] for book in concerned}
            assert await connection.fetchval(PREFIX_ROWS_DIFFERING) == 0
            migrated = await index_rows(connection)
            await connection.execute("SELECT search_rebuild()")
            assert await index_rows(connection) == migrated
    finally:
        await connection.close()
    assert len(plain) == 7
    assert titles(await search(client, "pokemon ")) == ["Pokémon™ Adventures"]
    assert titles(await search(client, "zoemaria muller")) == ["Another Plain"]
    assert titles(await search(client, "science ")) == ["Yet Another"]
