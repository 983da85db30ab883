"""``bookstore import`` and POST /books/import: a catalog from CSV or JSON Lines."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from factories import create_author, create_book, create_category, expect_error
from servers import bookstore, wait_until_blocked_on_a_lock

from bookstore.tables import Author, Book, BookCategory, Category

HEADER = "title,author,isbn,categories,published_year,price,description\n"


async def catalog_state() -> dict[str, list]:
    """Everything an import may touch, as comparable rows."""
    return {
        "books": await Book.raw(
            "SELECT id, title, author_id, isbn, published_year, price, description, updated_at"
            " FROM books ORDER BY id"
        ),
        "authors": await Author.raw("SELECT id, name FROM authors ORDER BY id"),
        "categories": await Category.raw("SELECT id, name, slug FROM categories ORDER BY id"),
        "links": await BookCategory.raw(
            "SELECT book_id, category_id FROM book_category ORDER BY 1, 2"
        ),
    }


async def post_import(
    client: httpx.AsyncClient, body: str, media_type: str = "text/csv", **params: str
) -> dict:
    response = await client.post(
        "/books/import", content=body.encode(), headers={"Content-Type": media_type}, params=params
    )
    assert response.status_code == 200, response.text
    return response.json()


def counts(report: dict) -> tuple[int, int, int, int]:
    return (report["created"], report["updated"], report["unchanged"], report["rejected"])


async def test_an_import_creates_books_with_their_authors_and_categories(
    client: httpx.AsyncClient,
) -> None:
    fantasy = await create_category(client, "Fantasy")
    body = HEADER + (
        "A Wizard of Earthsea,Ursula K. Le Guin,0-547-77374-9,fantasy;Coming of Age,1968,8.5,\n"
        'The Tombs of Atuan,Ursula K. Le Guin,,Fantasy,1970,,"Tenar, priestess"\n'
    )
    report = await post_import(client, body)
    assert counts(report) == (2, 0, 0, 0) and report["problems"] == []

    books = (await client.get("/books", params={"author": "le guin"})).json()["items"]
    assert [book["title"] for book in books] == ["A Wizard of Earthsea", "The Tombs of Atuan"]
    earthsea, tombs = books
    assert earthsea["isbn"] == "9780547773742" and earthsea["price"] == "8.50"
    assert earthsea["published_year"] == 1968
    # "fantasy" is the existing category (by slug); "Coming of Age" is new.
    assert {c["name"] for c in earthsea["categories"]} == {"Coming of Age", "Fantasy"}
    assert [c["id"] for c in tombs["categories"]] == [fantasy["id"]]
    assert tombs["description"] == "Tenar, priestess"
    assert earthsea["author"] == tombs["author"]  # one author created, not two
    assert await Author.count() == 1


async def test_a_row_matches_by_isbn_else_by_title_and_author(client: httpx.AsyncClient) -> None:
    le_guin = await create_author(client, "Ursula K. Le Guin")
    by_isbn = await create_book(
        client, title="Earthsea", author_id=le_guin["id"], isbn="9780547773742"
    )
    by_title = await create_book(client, title="The Dispossessed", author_id=le_guin["id"])
    other_edition = await create_book(
        client, title="Lathe of Heaven", author_id=le_guin["id"], isbn="9781416556961"
    )
    body = HEADER + (
        "A Wizard of Earthsea,Ursula K. Le Guin,9780547773742,,1968,,\n"  # renamed via ISBN
        "The Dispossessed,Ursula K. Le Guin,,,1974,,\n"
        "Lathe of Heaven,Ursula K. Le Guin,9780060512750,,,,\n"  # another ISBN: a new book
    )
    report = await post_import(client, body)
    assert counts(report) == (1, 2, 0, 0)

    assert (await client.get(f"/books/{by_isbn['id']}")).json()["title"] == "A Wizard of Earthsea"
    assert (await client.get(f"/books/{by_title['id']}")).json()["published_year"] == 1974
    unchanged = (await client.get(f"/books/{other_edition['id']}")).json()
    assert unchanged["isbn"] == "9781416556961"
    assert await Book.count() == 4


async def test_empty_fields_keep_what_the_catalog_holds(client: httpx.AsyncClient) -> None:
    classics = await create_category(client, "Classics")
    austen = await create_author(client, "Jane Austen")
    emma = await create_book(
        client,
        title="Emma",
        author_id=austen["id"],
        price="7.00",
        description="Matchmaking.",
        category_ids=[classics["id"]],
    )
    report = await post_import(
        client,
        '{"title": "Emma", "author": "Jane Austen", "price": null, "published_year": 1815}\n',
        "application/jsonl",
    )
    assert counts(report) == (0, 1, 0, 0)
    book = (await client.get(f"/books/{emma['id']}")).json()
    assert (book["price"], book["description"], book["published_year"]) == (
        "7.00",
        "Matchmaking.",
        1815,
    )
    assert [c["name"] for c in book["categories"]] == ["Classics"]


async def test_bad_rows_are_reported_and_never_stop_the_import_nor_write_anything(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = tmp_path / "supplier.csv"
    source.write_text(
        HEADER
        + "Good One,Ann Author,,,,,\n"  # line 2
        + "Bad Price,Bea Writer,,,,-3,\n"  # line 3
        + ',Cy Nobody,,,,,"a description\nover two lines"\n'  # line 4: no title
        + "Bad ISBN,Dee Penman,12345,,,,\n"  # line 6
        + "Too,Few,Fields\n"  # line 7
        + "Bad Year,Ed Scribe,,,nineteen,,\n"  # line 8
        + "Good Two,Ann Author,,Poetry,1999,1.25,\n"  # line 9
    )
    report_file = tmp_path / "report.csv"
    result = bookstore("import", str(source), "--report", str(report_file))
    assert result.returncode == 0, result.stderr
    assert "2 created" in result.stdout and "5 rejected" in result.stdout

    with report_file.open(newline="") as report:
        rows = list(csv.reader(report))
    assert rows[0] == ["line", "field", "reason"]
    problems = [(int(line), field) for line, field, _ in rows[1:]]
    assert problems == [
        (3, "price"),
        (4, "title"),
        (6, "isbn"),
        (7, ""),
        (8, "published_year"),
    ]
    assert "3 fields" in rows[4][2]
    # A rejected row leaves nothing behind: no author, no book.
    assert sorted(await Author.select(Author.name).output(as_list=True)) == ["Ann Author"]
    assert sorted(await Book.select(Book.title).output(as_list=True)) == ["Good One", "Good Two"]


async def test_importing_the_same_file_twice_changes_nothing_the_second_time(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await create_author(client, "Jane Austen")
    source = tmp_path / "books.jsonl"
    source.write_text(
        "\n".join(
            json.dumps(row)
            for row in [
                {"title": "Emma", "author": "Jane Austen", "categories": "Classics;Romance"},
                {"title": "Persuasion", "author": "Jane Austen", "price": "6.5"},
                {"title": "Dune", "author": "Frank Herbert", "isbn": "9780441013593"},
                {"title": "Dune", "author": "Frank Herbert", "isbn": "9780441013593"},
            ]
        )
    )
    first = bookstore("import", str(source))
    assert first.returncode == 0, first.stderr
    assert "3 created, 0 updated, 1 unchanged" in first.stdout
    after_first = await catalog_state()

    second = bookstore("import", str(source))
    assert second.returncode == 0, second.stderr
    assert "0 created, 0 updated, 4 unchanged, 0 rejected" in second.stdout
    assert await catalog_state() == after_first  # not even updated_at moved


async def test_a_dry_run_reports_what_an_import_would_do_and_writes_nothing(
    client: httpx.AsyncClient,
) -> None:
    await create_book(client, title="Old Title", isbn="9780547773742")
    body = HEADER + (
        "New Title,Someone,9780547773742,Fantasy,,,\n"  # an update
        "Fresh,Someone Else,,Fantasy,,,\n"  # a creation
        "New Title,Someone,9780547773742,Fantasy,,,\n"  # the same again: unchanged
        "Broken,,,,,,\n"  # no author
    )
    before = await catalog_state()
    report = await post_import(client, body, dry_run="true")
    assert report["dry_run"] is True
    assert counts(report) == (1, 1, 1, 1)
    assert await catalog_state() == before

    real = await post_import(client, body)
    assert counts(real) == (1, 1, 1, 1) and real["dry_run"] is False


async def test_an_export_imports_back_unchanged(client: httpx.AsyncClient) -> None:
    assert bookstore("seed", "--books", "1500").returncode == 0
    await create_book(
        client,
        title='Quotes "and", commas',
        description="Line one\nline two, with ; and \\ too",
        price="0.00",
    )
    for suffix, media_type in (("csv", "text/csv"), ("jsonl", "application/jsonl")):
        exported = (await client.get(f"/books/export.{suffix}")).text
        before = await catalog_state()
        report = await post_import(client, exported, media_type)
        assert counts(report) == (0, 0, 1501, 0), report["problems"][:3]
        assert await catalog_state() == before


async def test_an_export_rebuilds_the_catalog_in_an_empty_one(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    assert bookstore("seed", "--books", "300").returncode == 0
    exported = tmp_path / "books.csv"
    assert bookstore("export", str(exported)).returncode == 0
    await Book.raw("TRUNCATE books, authors, categories, book_category RESTART IDENTITY CASCADE")

    result = bookstore("import", str(exported))
    assert result.returncode == 0, result.stderr
    assert "300 created" in result.stdout
    again = tmp_path / "again.csv"
    assert bookstore("export", str(again)).returncode == 0
    assert again.read_text() == exported.read_text()


async def test_a_file_that_cannot_be_read_is_refused_whole(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    detail = expect_error(
        await client.post(
            "/books/import",
            content=b"title,author,prise\nA,B,3\n",
            headers={"Content-Type": "text/csv"},
        ),
        422,
    )
    assert "prise" in detail
    expect_error(
        await client.post(
            "/books/import", content=b"isbn\n123\n", headers={"Content-Type": "text/csv"}
        ),
        422,
    )
    source = tmp_path / "nothing.csv"
    source.write_text("")
    result = bookstore("import", str(source))
    assert result.returncode != 0 and "empty" in result.stderr
    assert await Book.count() == 0


async def test_the_import_route_needs_a_token_a_known_format_and_a_bounded_body(
    client: httpx.AsyncClient,
) -> None:
    body = (HEADER + "A,B,,,,,\n").encode()
    anonymous = await client.post(
        "/books/import",
        content=body,
        headers={"Content-Type": "text/csv", "Authorization": ""},
    )
    expect_error(anonymous, 401)
    expect_error(
        await client.post("/books/import", content=body, headers={"Content-Type": "text/plain"}),
        415,
    )
    named = await client.post(
        "/books/import",
        content=body,
        headers={"Content-Type": "text/plain"},
        params={"format": "csv"},
    )
    assert named.status_code == 200 and named.json()["created"] == 1
    expect_error(
        await client.post(
            "/books/import",
            content=body,
            headers={"Content-Type": "text/csv"},
            params={"dryrun": "1"},
        ),
        422,
    )
    too_big = b"x" * (20 * 1024 * 1024 + 1)
    expect_error(
        await client.post("/books/import", content=too_big, headers={"Content-Type": "text/csv"}),
        413,
    )
    # Other routes keep their own, smaller limit.
    expect_error(
        await client.post(
            "/books", content=b"x" * (1024 * 1024 + 1), headers={"Content-Type": "text/csv"}
        ),
        413,
    )
    not_utf8 = await client.post(
        "/books/import", content=b"title,author\n\xff,B\n", headers={"Content-Type": "text/csv"}
    )
    expect_error(not_utf8, 400)


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
async def test_the_import_command_shows_its_problems_without_a_report_file(
    tmp_path: Path, suffix: str
) -> None:
    source = tmp_path / f"bad.{suffix}"
    if suffix == "csv":
        source.write_text(HEADER + ",No Title,,,,,\n")
    else:
        source.write_text('{"title": "T", "author": "A", "colour": "red"}\nnot json\n')
    result = bookstore("import", str(source))
    assert result.returncode == 0, result.stderr
    assert "line " in result.stderr
    assert await Book.count() == 0


def test_csv_rows_report_the_line_where_they_start() -> None:
    from bookstore.catalog.import_rows import read_csv

    text = HEADER + 'A,B,,,,,"one\ntwo"\n\nC,D,,,,,\n'
    lines = [row.line for row in read_csv(io.StringIO(text, newline=""))]
    assert lines == [2, 5]


async def test_books_sharing_a_title_and_author_keep_their_own_rows_across_batches(
    client: httpx.AsyncClient,
) -> None:
    from bookstore.catalog.exports import TransferFormat
    from bookstore.catalog.imports import import_books

    poet = await create_author(client, "A Poet")
    for year in (1901, 1902, 1903):
        await create_book(client, title="Poems", author_id=poet["id"], published_year=year)
    exported = (await client.get("/books/export.csv")).text
    before = await catalog_state()
    report = await import_books(
        io.StringIO(exported, newline=""), TransferFormat.csv, rows_per_batch=1
    )
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert await catalog_state() == before

    more = exported + "Poems,A Poet,,,1904,,\n"
    first = await import_books(io.StringIO(more, newline=""), TransferFormat.csv, rows_per_batch=2)
    assert (first.created, first.unchanged) == (1, 3)
    second = await import_books(io.StringIO(more, newline=""), TransferFormat.csv)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 4)


async def search_index() -> dict[str, list]:
    """The text search index, as comparable rows."""
    return {
        "books": await Book.raw(
            "SELECT book_id, author_id, title, author, categories, description, words,"
            " document::text FROM book_search ORDER BY book_id"
        ),
        "postings": await Book.raw(
            "SELECT word, field, book_id FROM search_postings ORDER BY 1, 2, 3"
        ),
        "words": await Book.raw(
            "SELECT word, books FROM search_words WHERE books <> 0 ORDER BY word"
        ),
    }


async def test_an_import_leaves_the_search_index_as_a_rebuild_would(
    client: httpx.AsyncClient,
) -> None:
    # The import indexes its books once per batch, itself, with the index's
    # triggers standing aside for its transactions only.
    from bookstore.catalog.exports import TransferFormat
    from bookstore.catalog.imports import import_books

    await create_book(client, title="Old Harbour Songs", isbn="9780547773742")
    await create_book(client, title="Untouched Lighthouse")
    body = HEADER + (
        "Harbour Songs Renewed,Someone,9780547773742,Poetry;Sea,,,Salt and wind\n"
        "Quiet Orchard,Mira Vale,,Gardening,2001,12.00,Apples in autumn\n"
        "Copper Kettle,Mira Vale,,Cooking;Gardening,,,\n"
    )
    for rows_per_batch in (2, 1000):  # then again: nothing changes
        await import_books(
            io.StringIO(body, newline=""), TransferFormat.csv, rows_per_batch=rows_per_batch
        )
    imported = await search_index()
    await Book.raw("SELECT search_rebuild()")
    assert imported == await search_index()

    found = (await client.get("/books", params={"q": "orchard apples"})).json()["items"]
    assert [book["title"] for book in found] == ["Quiet Orchard"]
    renamed = (await client.get("/books", params={"q": "renewed"})).json()["items"]
    assert [book["title"] for book in renamed] == ["Harbour Songs Renewed"]
    # Other writers still index through the triggers.
    await create_book(client, title="Lantern Makers")
    made = (await client.get("/books", params={"q": "lantern"})).json()["items"]
    assert [book["title"] for book in made] == ["Lantern Makers"]


# Books whose index rows exercise each field: categories whose ids are not in
# name order (their order moves the category words' positions in the
# document), accents, a sharp s, stop words, a book without categories or
# description, two books of one author.
INDEXED_BOOKS = [
    ("The Quiet Orchard of Pears", "Mira Vale", ["Zoology", "Gardening"], "Apples in autumn."),
    ("Straße der Kraniche", "Jürgen Ölberg", ["Médecine & Santé"], "Über Brücken, an der Elbe."),
    ("Copper Kettle", "Mira Vale", ["Gardening", "Cooking", "Zoology"], None),
    ("A Book of the Sea and the Wind", "Ann Wave", [], "The sea, the wind; and then the rain"),
]


async def search_index_by_title() -> dict[str, list]:
    """The search index with each book named by its title and each author by name.

    Books written two ways get two ids; named, their rows compare.
    """
    titles = {row["id"]: row["title"] for row in await Book.raw("SELECT id, title FROM books")}
    authors = {row["id"]: row["name"] for row in await Author.raw("SELECT id, name FROM authors")}
    index = await search_index()
    return {
        "books": sorted(
            (
                {**row, "book_id": titles[row["book_id"]], "author_id": authors[row["author_id"]]}
                for row in index["books"]
            ),
            key=lambda row: row["book_id"],
        ),
        "postings": sorted(
            (row["word"], row["field"], titles[row["book_id"]]) for row in index["postings"]
        ),
        "words": index["words"],
    }


async def found_titles(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get("/books", params={"q": query})
    assert response.status_code == 200, response.text
    return [book["title"] for book in response.json()["items"]]


async def test_a_batch_of_new_books_is_indexed_as_the_api_indexes_each_book(
    client: httpx.AsyncClient,
) -> None:
    # The same books written through POST /books (each indexed on its own by
    # the triggers), then imported in one batch (indexed together by one
    # call of search_index_books), reindexed one by one, and rebuilt: the
    # search tables are the same each time.
    category_ids = {
        name: (await create_category(client, name))["id"]
        for name in ("Zoology", "Médecine & Santé", "Gardening", "Cooking")
    }
    author_ids = {
        name: (await create_author(client, name))["id"]
        for name in dict.fromkeys(author for _, author, _, _ in INDEXED_BOOKS)
    }
    posted = [
        await create_book(
            client,
            title=title,
            author_id=author_ids[author],
            category_ids=[category_ids[name] for name in categories],
            description=description,
        )
        for title, author, categories, description in INDEXED_BOOKS
    ]
    through_the_api = await search_index_by_title()
    assert len(through_the_api["books"]) == len(INDEXED_BOOKS)
    searches_through_the_api = {
        query: await found_titles(client, query)
        for query in ("zoology", "gardening kettle", "strasse", '"sea and the wind"', "medecine")
    }
    zoology = sorted(searches_through_the_api["zoology"])
    assert zoology == ["Copper Kettle", "The Quiet Orchard of Pears"]
    for book in posted:
        response = await client.delete(f"/books/{book['id']}")
        assert response.status_code == 204, response.text

    file = io.StringIO(newline="")
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(HEADER.strip().split(","))
    for title, author, categories, description in INDEXED_BOOKS:
        writer.writerow([title, author, "", ";".join(categories), "", "", description or ""])
    # Through POST /books/import: the route runs the command's import.
    assert counts(await post_import(client, file.getvalue())) == (len(INDEXED_BOOKS), 0, 0, 0)
    imported = await search_index()
    assert await search_index_by_title() == through_the_api
    for query, titles in searches_through_the_api.items():
        assert await found_titles(client, query) == titles

    for book_id in await Book.select(Book.id).output(as_list=True):
        await Book.raw("SELECT search_index_books(ARRAY[{}]::integer[])", book_id)
    assert await search_index() == imported
    await Book.raw("SELECT search_rebuild()")
    assert await search_index() == imported


async def test_an_import_batch_is_not_cut_by_the_api_statement_timeout(
    client: httpx.AsyncClient,
) -> None:
    from bookstore.settings import get_settings

    # Indexing the new book reads categories: held here, it waits longer
    # than any API statement may run, as a big batch on a loaded server does.
    locker = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await locker.execute("BEGIN; LOCK TABLE categories IN ACCESS EXCLUSIVE MODE")
        imported = asyncio.create_task(post_import(client, HEADER + "Slow Tide,Ann Wave,,,,,\n"))
        await wait_until_blocked_on_a_lock(locker)
        await asyncio.sleep(get_settings().statement_timeout_ms / 1000 + 1)
        await locker.execute("COMMIT")
        assert counts(await imported) == (1, 0, 0, 0)
    finally:
        await locker.close()


class ImportStopped(Exception):
    """The end of an import's process, between two batches."""


async def import_stopped_after(monkeypatch: pytest.MonkeyPatch, body: str, rows: int) -> None:
    """Import the first ``rows`` rows of ``body``, a batch each, then stop as a killed process.

    The process's indexer dies with it, so it never runs here: the books of
    the committed batches stay in ``search_index_queue``, unindexed.
    """
    from bookstore.catalog.exports import TransferFormat
    from bookstore.catalog.import_indexing import Indexer
    from bookstore.catalog.import_rows import RowInput, read_rows
    from bookstore.catalog.imports import Importer

    def rows_then_stop() -> Iterator[RowInput]:
        yield from itertools.islice(
            read_rows(io.StringIO(body, newline=""), TransferFormat.csv), rows
        )
        raise ImportStopped

    with monkeypatch.context() as killed:
        killed.setattr(Indexer, "start", lambda self: None)
        with pytest.raises(ImportStopped):
            await Importer(rows_per_batch=1).run(rows_then_stop())


async def queued_titles() -> list[str]:
    rows = await Book.raw(
        "SELECT b.title FROM search_index_queue q JOIN books b ON b.id = q.book_id ORDER BY b.id"
    )
    return [row["title"] for row in rows]


async def test_a_stopped_import_leaves_its_books_queued_and_the_next_import_indexes_them(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = HEADER + (
        "Quiet Orchard,Mira Vale,,Gardening,,,Apples in autumn\n"
        "Copper Kettle,Mira Vale,,,,,\n"
        "Never Read,Mira Vale,,,,,\n"
    )
    await import_stopped_after(monkeypatch, body, rows=2)
    assert await queued_titles() == ["Quiet Orchard", "Copper Kettle"]
    assert await Book.raw("SELECT book_id FROM book_search") == []

    report = await post_import(client, HEADER + "Lantern Makers,Ann Wave,,,,,\n")
    assert counts(report) == (1, 0, 0, 0)
    assert await queued_titles() == []
    assert await found_titles(client, "orchard apples") == ["Quiet Orchard"]
    assert await found_titles(client, "kettle") == ["Copper Kettle"]
    assert await found_titles(client, "lantern") == ["Lantern Makers"]
    indexed = await search_index()
    await Book.raw("SELECT search_rebuild()")
    assert await search_index() == indexed


async def found_within(client: httpx.AsyncClient, query: str, titles: list[str]) -> None:
    """Wait until ``?q=query`` finds ``titles``: the version moves, then the cache drops."""
    deadline = time.monotonic() + 1.0
    while await found_titles(client, query) != titles:
        assert time.monotonic() < deadline, f"{titles} not found by {query!r} within 1 s"
        await asyncio.sleep(0.02)


async def test_books_indexed_after_their_batch_commits_reach_cached_searches(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Indexing writes book_search only, which bumps no catalog version
    # (migration 2026-11-29T10:45): a search answered while the book was
    # queued stayed cached without it until some other write to the catalog.
    body = HEADER + "Quiet Orchard,Mira Vale,,Gardening,,,Apples in autumn\n"
    await import_stopped_after(monkeypatch, body, rows=1)
    assert await found_titles(client, "orchard") == []  # kept by the response cache

    # The same row again: unchanged, so nothing is written but the indexing
    # of what the stopped import left queued.
    report = await post_import(client, body)
    assert counts(report) == (0, 0, 1, 0)
    assert await queued_titles() == []
    await found_within(client, "orchard", ["Quiet Orchard"])


async def test_a_rebuild_reaches_cached_searches(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Migration 2026-11-29T11:00: search_rebuild() writes the search tables
    # only, which bump no catalog version; an answer cached before it was
    # served after it until some other write to the catalog.
    body = HEADER + "Quiet Orchard,Mira Vale,,Gardening,,,Apples in autumn\n"
    await import_stopped_after(monkeypatch, body, rows=1)
    assert await found_titles(client, "orchard") == []  # kept by the response cache

    await Book.raw("SELECT search_rebuild()")
    assert await queued_titles() == []
    await found_within(client, "orchard", ["Quiet Orchard"])


async def test_the_service_indexes_what_a_stopped_import_left_queued(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookstore.catalog.import_indexing import QueueSweeper

    body = HEADER + "Quiet Orchard,Mira Vale,,,,,\nCopper Kettle,Mira Vale,,,,,\n"
    await import_stopped_after(monkeypatch, body, rows=2)
    assert await found_titles(client, "orchard") == []  # kept by the response cache
    first, second = await Book.raw("SELECT book_id FROM search_index_queue ORDER BY 1")
    ends = (first["book_id"], second["book_id"])

    sweeper = QueueSweeper(interval_s=60)
    # A first look, or a queue that moved since the last one: an import may
    # still be indexing it, so it is only remembered.
    assert await sweeper.sweep_if_still(None) == ends
    assert await sweeper.sweep_if_still((ends[0], ends[1] - 1)) == ends
    assert await queued_titles() == ["Quiet Orchard", "Copper Kettle"]
    # Unchanged since the last look: nobody is indexing it.
    assert await sweeper.sweep_if_still(ends) is None
    assert await queued_titles() == []
    await found_within(client, "orchard", ["Quiet Orchard"])
    assert await found_titles(client, "kettle") == ["Copper Kettle"]
    indexed = await search_index()
    await Book.raw("SELECT search_rebuild()")
    assert await search_index() == indexed
    # An empty queue: nothing to remember.
    assert await sweeper.sweep_if_still(None) is None


async def test_the_sweeper_runs_in_the_background_until_stopped(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookstore.catalog.import_indexing import QueueSweeper

    await import_stopped_after(monkeypatch, HEADER + "Quiet Orchard,Mira Vale,,,,,\n", rows=1)
    sweeper = QueueSweeper(interval_s=0.05)
    sweeper.start()
    try:
        await found_within(client, "orchard", ["Quiet Orchard"])
    finally:
        await sweeper.stop()
    assert await queued_titles() == []


async def test_renaming_an_author_while_its_books_are_queued_or_being_indexed(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Migration 2026-11-29T10:30: the rename waits for the pass holding a
    # book, then reindexes it; a queued book is left to the queue, which
    # reads the new name when it indexes it. Before, the rename inserted the
    # book's search row beside the pass's and failed on the primary key.
    await import_stopped_after(
        monkeypatch,
        HEADER + "Quiet Orchard,Mira Vale,,,,,\nCopper Kettle,Mira Vale,,,,,\n",
        rows=2,
    )
    [author_id] = await Author.select(Author.id).output(as_list=True)
    indexer = await asyncpg.connect(os.environ["DATABASE_URL"])
    observer = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await indexer.execute("BEGIN")
        # A pass of an import's indexer takes the first queued book and
        # indexes it under the old name; it holds the book until it commits.
        assert await indexer.fetchval("SELECT search_index_queued(1)") == 1
        renamed = asyncio.create_task(
            client.patch(f"/authors/{author_id}", json={"name": "Zelda Quill"})
        )
        await wait_until_blocked_on_a_lock(observer)
        await indexer.execute("COMMIT")
        response = await renamed
    finally:
        await indexer.close()
        await observer.close()
    assert response.status_code == 200, response.text
    assert await queued_titles() == ["Copper Kettle"]
    assert await found_titles(client, "quill") == ["Quiet Orchard"]
    assert await found_titles(client, "vale") == []

    await post_import(client, HEADER + "Lantern Makers,Ann Wave,,,,,\n")  # indexes the queue
    assert await queued_titles() == []
    assert sorted(await found_titles(client, "zelda quill")) == ["Copper Kettle", "Quiet Orchard"]
    indexed = await search_index()
    await Book.raw("SELECT search_rebuild()")
    assert await search_index() == indexed
