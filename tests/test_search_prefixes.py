"""Prefix postings (migration 2026-11-30T08:30): ``search_prefixes`` and the ``P*`` rows.

Every write keeps the ``P*`` rows of ``search_postings`` equal to what a
build from scratch gives over the current postings for the lists as they
stand (``PREFIX_ROWS_DIFFERING``); only ``search_rebuild()`` changes the
lists.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from conftest import TEST_DSN
from factories import create_author, create_book, create_category

from bookstore.catalog.search import vocabulary
from bookstore.tables import Book
from piccolo_migrations import bookstore_2026_11_30t08_30_00_000000 as prefix_postings
from piccolo_migrations import bookstore_2026_11_30t12_30_00_000000 as rebuild_without_key
from piccolo_migrations import bookstore_2026_11_30t15_10_00_000000 as special_tokens
from piccolo_migrations import bookstore_2026_11_30t21_00_00_000000 as split_symbols

# The P* rows a build gives for the lists as they stand (each book holding a
# word of a prefix's list, at the smallest field of its postings of them),
# against the rows kept: how many differ, both ways.
PREFIX_ROWS_DIFFERING = """
WITH built AS (
    SELECT x.prefix || '*' AS word, min(p.field) AS field, p.book_id
    FROM search_prefixes x, unnest(x.words) AS w (word), search_postings p
    WHERE p.word = w.word
    GROUP BY x.prefix, p.book_id
), kept AS (
    SELECT p.word, p.field, p.book_id FROM search_postings p WHERE p.word LIKE '%*'
)
SELECT count(*)::integer FROM (
    (TABLE built EXCEPT TABLE kept) UNION ALL (TABLE kept EXCEPT TABLE built)
) AS differing
"""

# Words of six shapes of prefix: "ha", "har" (8 words), "zo" (24, more than a
# list holds), and the 2-4 letter prefixes they share by chance.
HAR = ["harbor", "harvest", "harmon", "harp", "hardwar", "harness", "harlequin", "harrier"]
ZO = [
    "zoalk", "zobin", "zocar", "zodim", "zofen", "zogul", "zohat", "zojik", "zokel", "zolum",
    "zomar", "zonix", "zopel", "zoqua", "zorin", "zosul", "zotav", "zouri", "zovek", "zowil",
    "zoxan", "zoyet", "zozel", "zobra",
]  # fmt: skip
WORDS = HAR + ZO


def _text(book: int, *steps: int) -> str:
    """Words of ``WORDS`` for a book, some far more common than others."""
    return " ".join(WORDS[(book * step + step) % (len(WORDS) - step)] for step in steps)


async def differing() -> int:
    rows = await Book.raw(PREFIX_ROWS_DIFFERING)
    return rows[0]["count"]


async def prefix_lists() -> dict[str, list[str]]:
    rows = await Book.raw("SELECT prefix, words FROM search_prefixes ORDER BY prefix")
    return {row["prefix"]: row["words"] for row in rows}


async def prefix_row_count() -> int:
    rows = await Book.raw(
        "SELECT count(*)::integer AS n FROM search_postings WHERE word LIKE '%*'"
    )
    return rows[0]["n"]


def lists_of(counts: dict[str, int]) -> dict[str, list[str]]:
    """What the lookup's 'prefix' candidates give for every prefix of more than 5 words.

    Computed here from the vocabulary's counts, as ``vocabulary`` asks:
    the words of ``[P, P')`` (``_prefix_bounds``, byte order) held by a
    book, the commonest ``PREFIX_WORDS`` first, then by word.
    """
    held = sorted(word for word, books in counts.items() if books > 0)
    prefixes = {word[:n] for word in held for n in (2, 3, 4) if len(word) >= n}
    lists: dict[str, list[str]] = {}
    for prefix in prefixes:
        low, high = vocabulary._prefix_bounds(prefix)
        begun = [w for w in held if low.encode() <= w.encode() < high.encode()]
        if len(begun) > prefix_postings.PREFIX_MIN_WORDS:
            begun.sort(key=lambda w: (-counts[w], w.encode()))
            lists[prefix] = begun[: vocabulary.PREFIX_WORDS]
    return dict(sorted(lists.items(), key=lambda item: item[0].encode()))


async def vocabulary_counts() -> dict[str, int]:
    rows = await Book.raw("SELECT word, books FROM search_words")
    return {row["word"]: row["books"] for row in rows}


@pytest.fixture
async def shelf(client: httpx.AsyncClient) -> list[dict]:
    """Forty books over the words above, indexed, then rebuilt: the lists are made."""
    authors = [
        await create_author(client, name) for name in ("Harriet Zobel", "Zora Harlan", "Ann Lee")
    ]
    categories = [
        await create_category(client, name) for name in ("Harbour Zoology", "Harp Music", "Zocar")
    ]
    books = []
    for n in range(40):
        books.append(
            await create_book(
                client,
                title=_text(n, 1, 3),
                description=_text(n, 5, 7, 11),
                author_id=authors[n % 3]["id"],
                category_ids=[c["id"] for c in categories[: n % 4]],
            )
        )
    await Book.raw("SELECT search_rebuild()")
    return books


async def test_a_rebuild_lists_each_prefixs_commonest_words_and_gives_their_books(
    shelf: list[dict],
) -> None:
    assert vocabulary.PREFIX_WORDS == prefix_postings.PREFIX_WORDS
    lists = await prefix_lists()
    assert lists == lists_of(await vocabulary_counts())
    assert {"ha", "har", "zo"} <= set(lists)
    assert len(lists["zo"]) == vocabulary.PREFIX_WORDS
    assert await prefix_row_count() > 0
    assert await differing() == 0
    # Each prefix of a book's words, at the best field: the first book's
    # title holds words of "har" ("harvest harp"), so its "har*" posting is
    # in field 0.
    assert set(shelf[0]["title"].split()) & set(lists["har"])
    rows = await Book.raw(
        "SELECT field FROM search_postings WHERE word = 'har*' AND book_id = {}",
        shelf[0]["id"],
    )
    assert [row["field"] for row in rows] == [0]


# Each kind of write, given the API client, the shelf, and ``kept``: the
# check to make after each of its statements.
Kept = Callable[[], Awaitable[None]]


async def a_new_book(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    before = await prefix_row_count()
    await create_book(client, title="Harbor Zoalk Zobin", description="harp zonix")
    await kept()
    assert await prefix_row_count() > before


async def a_title(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    book = await create_book(client, title="Harbor Zoalk Zobin", description="harp zonix")
    await kept()
    response = await client.patch(f"/books/{book['id']}", json={"title": "Plain Words Only"})
    assert response.status_code == 200, response.text


async def a_description(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    response = await client.patch(
        f"/books/{shelf[1]['id']}", json={"description": "harlequin harrier zowil"}
    )
    assert response.status_code == 200, response.text


async def a_books_categories(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    """The category words move between fields."""
    category = await create_category(client, "Harvest Zokel")
    for category_ids in ([category["id"]], [], [category["id"], shelf[2]["categories"][0]["id"]]):
        response = await client.patch(
            f"/books/{shelf[3]['id']}", json={"category_ids": category_ids}
        )
        assert response.status_code == 200, response.text
        await kept()


async def a_category_renamed(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    category = await create_category(client, "Harvest Zokel")
    response = await client.patch(
        f"/books/{shelf[3]['id']}",
        json={"category_ids": [category["id"], shelf[2]["categories"][0]["id"]]},
    )
    assert response.status_code == 200, response.text
    await kept()
    response = await client.patch(f"/categories/{category['id']}", json={"name": "Nothing"})
    assert response.status_code == 200, response.text


async def an_author_renamed(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    author_id = shelf[0]["author"]["id"]
    response = await client.patch(f"/authors/{author_id}", json={"name": "Harmon Zotav"})
    assert response.status_code == 200, response.text


async def a_books_author(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    response = await client.patch(
        f"/books/{shelf[4]['id']}", json={"author_id": shelf[5]["author"]["id"]}
    )
    assert response.status_code == 200, response.text


async def books_in_one_statement(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    await Book.raw("UPDATE books SET title = title || ' harness' WHERE id % 3 = 0")


async def books_deleted(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    book = await create_book(client, title="Harbor Zoalk Zobin", description="harp zonix")
    await kept()
    for doomed in (shelf[6], shelf[7], book):
        response = await client.delete(f"/books/{doomed['id']}")
        assert response.status_code == 204, response.text
        await kept()


async def a_categorys_links_deleted(
    client: httpx.AsyncClient, shelf: list[dict], kept: Kept
) -> None:
    """In one statement: a category holding books cannot be deleted through the API."""
    await Book.raw(
        "DELETE FROM book_category WHERE category_id = {}", shelf[2]["categories"][0]["id"]
    )


async def an_import(client: httpx.AsyncClient, shelf: list[dict], kept: Kept) -> None:
    """Batches queued, indexed by a second connection's passes."""
    from bookstore.catalog.exports import TransferFormat
    from bookstore.catalog.imports import import_books

    body = "title,author,isbn,categories,published_year,price,description\n" + "".join(
        f"Zopel Harp {n},Zora Harlan,,Harp Music;Zocar,,,zorin hardwar zoxan\n" for n in range(7)
    )
    await import_books(io.StringIO(body, newline=""), TransferFormat.csv, rows_per_batch=2)


@pytest.mark.parametrize(
    "write",
    [
        a_new_book,
        a_title,
        a_description,
        a_books_categories,
        a_category_renamed,
        an_author_renamed,
        a_books_author,
        books_in_one_statement,
        books_deleted,
        a_categorys_links_deleted,
        an_import,
    ],
    ids=lambda write: write.__name__,
)
async def test_a_write_keeps_the_prefix_rows_of_the_frozen_lists(
    client: httpx.AsyncClient,
    shelf: list[dict],
    write: Callable[[httpx.AsyncClient, list[dict], Kept], Awaitable[None]],
) -> None:
    lists = await prefix_lists()

    async def kept() -> None:
        assert await differing() == 0
        assert await prefix_lists() == lists  # writes never move a list

    await write(client, shelf, kept)
    await kept()
    # What a rebuild gives now: new lists, and rows of them.
    await Book.raw("SELECT search_rebuild()")
    assert await differing() == 0
    assert await prefix_lists() == lists_of(await vocabulary_counts())


async def test_a_list_goes_stale_until_a_rebuild(client: httpx.AsyncClient, shelf) -> None:
    lists = await prefix_lists()
    # A new word, soon the commonest of "zo": not in the frozen list, so it
    # gives no "zo*" row; the books' other words still do.
    await Book.raw("UPDATE books SET description = description || ' zozzzle'")
    assert await differing() == 0
    kept = await prefix_lists()
    assert kept == lists
    assert lists_of(await vocabulary_counts())["zo"][0] == "zozzzl"  # what a build lists
    assert "zozzzl" not in kept["zo"]
    newest = await create_book(client, title="Zozzzle", author_id=shelf[2]["author"]["id"])
    held = await Book.raw(
        "SELECT word FROM search_postings WHERE book_id = {} ORDER BY word", newest["id"]
    )
    assert "zozzzl" in [row["word"] for row in held]
    assert not [row["word"] for row in held if row["word"].endswith("*")]
    await Book.raw("SELECT search_rebuild()")
    rebuilt = await prefix_lists()
    assert rebuilt["zo"][0] == "zozzzl"
    assert rebuilt == lists_of(await vocabulary_counts())
    assert await differing() == 0


async def test_an_empty_catalog_has_no_prefixes(client: httpx.AsyncClient, shelf) -> None:
    assert await prefix_lists()
    await Book.raw("TRUNCATE books, authors, categories, book_category CASCADE")
    assert await prefix_lists() == {}
    assert await prefix_row_count() == 0
    await Book.raw("SELECT search_rebuild()")
    assert await prefix_lists() == {}
    assert await prefix_row_count() == 0
    # Books written after it get no P* row until a rebuild makes the lists.
    author = await create_author(client, "Zora Harlan")
    for word in ZO[:8]:
        await create_book(client, title=f"{word} {word}", author_id=author["id"])
    assert await prefix_row_count() == 0
    await Book.raw("SELECT search_rebuild()")
    assert list(await prefix_lists()) == ["zo"]
    assert await differing() == 0


async def test_no_prefix_reaches_the_vocabulary_or_the_books_rows(shelf) -> None:
    assert await prefix_row_count() > 0
    starred = await Book.raw(
        "SELECT (SELECT count(*) FROM search_words WHERE word LIKE '%*')"
        " + (SELECT count(*) FROM book_search s, unnest(s.words) AS w WHERE w LIKE '%*')"
        " + (SELECT count(*) FROM book_search s WHERE s.document::text LIKE '%*%') AS n"
    )
    assert starred[0]["n"] == 0
    # Each word's count is its books', as before: no P* row counted.
    miscounted = await Book.raw(
        "SELECT count(*) AS n FROM search_words w FULL JOIN ("
        " SELECT word, count(*) AS books FROM book_search, unnest(words) AS word GROUP BY word"
        ") AS held USING (word) WHERE w.books IS DISTINCT FROM held.books"
    )
    assert miscounted[0]["n"] == 0


# Every function of the schema, by signature, as defined. A test that takes
# migrations back and forwards must leave them as the head defines them, else
# the tests after it run an older search_rebuild() or search_index_books(),
# and fail in file order only (twice on 2026-11-30, 7d4ef99 and 49368f6).
FUNCTIONS = """
SELECT p.oid::regprocedure::text AS signature, pg_get_functiondef(p.oid) AS definition
FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')
ORDER BY 1
"""


async def functions(connection: asyncpg.Connection) -> list[tuple[str, str]]:
    return [tuple(row) for row in await connection.fetch(FUNCTIONS)]


async def test_the_migration_builds_the_rows_of_an_existing_catalog(shelf) -> None:
    expected_lists = await prefix_lists()
    expected = await Book.raw(
        "SELECT word, field, book_id FROM search_postings ORDER BY word, field, book_id"
    )
    connection = await asyncpg.connect(TEST_DSN)
    try:
        # Back to before 08:30 and forwards again through the later migrations
        # that replaced its functions: the database is left at the head, so
        # that the tests after this one call the head's search_rebuild() and
        # search_index_books().
        later = [rebuild_without_key, special_tokens, split_symbols]
        async with connection.transaction():
            head = await functions(connection)
            for migration in [*reversed(later), prefix_postings]:
                for statement in migration.BACKWARDS:
                    await connection.execute(statement)
            assert not await connection.fetchval(
                "SELECT count(*) FROM search_postings WHERE word LIKE '%*'"
            )
            for migration in [prefix_postings, *later]:
                for statement in migration.FORWARDS:
                    await connection.execute(statement)
            assert await functions(connection) == head
    finally:
        await connection.close()
    assert await prefix_lists() == expected_lists
    assert (
        await Book.raw(
            "SELECT word, field, book_id FROM search_postings ORDER BY word, field, book_id"
        )
        == expected
    )
    assert await differing() == 0


# -- the rebuild's own key (migration 2026-11-30T12:30) ----------------------------------

SEARCH_POSTINGS_KEY = """
SELECT c.conname, pg_get_constraintdef(c.oid) AS definition, i.indexdef
FROM pg_constraint c JOIN pg_indexes i ON i.indexname = c.conname
WHERE c.conrelid = 'search_postings'::regclass AND c.contype = 'p'
"""


# The key's constraint and index as objects: a key dropped and added back is
# new ones (new oids) under the same name; one kept keeps its oids (a TRUNCATE
# gives its index a new file, not a new oid).
SEARCH_POSTINGS_KEY_OBJECTS = """
SELECT c.oid AS constraint_oid, c.conindid AS index_oid, x.indisvalid AS valid
FROM pg_constraint c JOIN pg_index x ON x.indexrelid = c.conindid
WHERE c.conrelid = 'search_postings'::regclass AND c.contype = 'p'
"""


async def search_index() -> dict[str, list[dict]]:
    return {
        "postings": await Book.raw(
            "SELECT word, field, book_id FROM search_postings ORDER BY word, field, book_id"
        ),
        "words": await Book.raw("SELECT word, books FROM search_words ORDER BY word"),
        "prefixes": await Book.raw("SELECT prefix, words FROM search_prefixes ORDER BY prefix"),
        "books": await Book.raw("SELECT * FROM book_search ORDER BY book_id"),
    }


async def test_a_rebuild_writes_the_rows_the_writes_give_and_builds_the_key_back(shelf) -> None:
    # The rebuild drops search_postings_pkey, writes every row, and adds it
    # back; the writes' path (search_index_books, a book at a time by key)
    # gives the same rows for the lists the shelf's rebuild made.
    key = await Book.raw(SEARCH_POSTINGS_KEY)
    assert key == [
        {
            "conname": "search_postings_pkey",
            "definition": "PRIMARY KEY (word, field, book_id)",
            "indexdef": "CREATE UNIQUE INDEX search_postings_pkey ON public.search_postings "
            "USING btree (word, field, book_id)",
        }
    ]
    await Book.raw("TRUNCATE search_postings")
    for book in shelf:
        await Book.raw("SELECT search_index_books(ARRAY[{}]::integer[])", book["id"])
    written = await search_index()
    assert await prefix_row_count() > 0
    (kept,) = await Book.raw(SEARCH_POSTINGS_KEY_OBJECTS)
    await Book.raw("SELECT search_rebuild()")
    assert await search_index() == written
    assert await Book.raw(SEARCH_POSTINGS_KEY) == key
    (built,) = await Book.raw(SEARCH_POSTINGS_KEY_OBJECTS)
    assert built["valid"]
    assert built["constraint_oid"] != kept["constraint_oid"]
    assert built["index_oid"] != kept["index_oid"]
    with pytest.raises(asyncpg.UniqueViolationError):
        await Book.raw(
            "INSERT INTO search_postings SELECT * FROM search_postings WHERE word = 'har*' LIMIT 1"
        )


async def test_a_failed_rebuild_leaves_the_index_and_its_key(shelf) -> None:
    before = await search_index()
    key = await Book.raw(SEARCH_POSTINGS_KEY)
    connection = await asyncpg.connect(TEST_DSN)
    try:
        with pytest.raises(asyncpg.RaiseError, match="the prefix lists failed"):
            async with connection.transaction():
                # Fails once the key is dropped and the word postings written.
                await connection.execute(
                    "CREATE OR REPLACE FUNCTION search_prefixes_build() RETURNS void"
                    " LANGUAGE plpgsql AS $$ BEGIN RAISE 'the prefix lists failed'; END $$"
                )
                await connection.execute("SELECT search_rebuild()")
    finally:
        await connection.close()
    assert await Book.raw(SEARCH_POSTINGS_KEY) == key
    assert await search_index() == before
