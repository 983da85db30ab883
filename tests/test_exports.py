"""GET /books/export.csv|jsonl and ``bookstore export``: the catalog as a file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from factories import create_author, create_book, create_category, expect_error
from servers import bookstore, running_server, wait_until_blocked_on_a_lock

from bookstore.catalog.exports import TRANSFER_FIELDS
from bookstore.settings import get_settings


async def small_catalog(client: httpx.AsyncClient) -> dict[str, dict]:
    fantasy = await create_category(client, "Fantasy")
    classics = await create_category(client, "Classics")
    le_guin = await create_author(client, "Ursula K. Le Guin")
    austen = await create_author(client, "Jane Austen")
    earthsea = await create_book(
        client,
        title="A Wizard of Earthsea",
        author_id=le_guin["id"],
        isbn="0-547-77374-9",
        published_year=1968,
        price="8.5",
        description='A boy, a shadow, "the sea";\nand a second line.',
        category_ids=[fantasy["id"], classics["id"]],
    )
    emma = await create_book(
        client, title="Emma", author_id=austen["id"], category_ids=[classics["id"]]
    )
    return {"earthsea": earthsea, "emma": emma, "fantasy": fantasy, "le_guin": le_guin}


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == TRANSFER_FIELDS
    return list(reader)


async def test_export_csv_writes_every_book_in_the_import_format(
    client: httpx.AsyncClient,
) -> None:
    await small_catalog(client)
    response = await client.get("/books/export.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "books.csv" in response.headers["content-disposition"]
    assert csv_rows(response.text) == [
        {
            "title": "A Wizard of Earthsea",
            "author": "Ursula K. Le Guin",
            "isbn": "9780547773742",
            "categories": "Classics;Fantasy",
            "published_year": "1968",
            "price": "8.50",
            "description": 'A boy, a shadow, "the sea";\nand a second line.',
        },
        {
            "title": "Emma",
            "author": "Jane Austen",
            "isbn": "",
            "categories": "Classics",
            "published_year": "",
            "price": "",
            "description": "",
        },
    ]


async def test_export_jsonl_writes_one_object_per_line(client: httpx.AsyncClient) -> None:
    await small_catalog(client)
    response = await client.get("/books/export.jsonl")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["title"] for line in lines] == ["A Wizard of Earthsea", "Emma"]
    assert lines[0]["categories"] == "Classics;Fantasy"
    assert lines[0]["published_year"] == 1968 and lines[0]["price"] == "8.50"
    assert lines[1] == {
        "title": "Emma",
        "author": "Jane Austen",
        "isbn": None,
        "categories": "Classics",
        "published_year": None,
        "price": None,
        "description": None,
    }


async def test_export_takes_the_filters_of_the_book_search(client: httpx.AsyncClient) -> None:
    made = await small_catalog(client)
    for params in (
        {"author": "le guin"},
        {"category": "fantasy"},
        {"author_id": made["le_guin"]["id"]},
        {"category_id": made["fantasy"]["id"]},
        {"author": "guin", "category": "Classics"},
    ):
        response = await client.get("/books/export.csv", params=params)
        assert [row["title"] for row in csv_rows(response.text)] == ["A Wizard of Earthsea"]
    nothing = await client.get("/books/export.csv", params={"category": "no such category"})
    assert nothing.status_code == 200 and csv_rows(nothing.text) == []
    empty = await client.get("/books/export.jsonl", params={"author": "nobody at all"})
    assert empty.status_code == 200 and empty.text == ""


async def test_export_takes_the_storefront_filters_of_the_book_listing(
    client: httpx.AsyncClient,
) -> None:
    made = await small_catalog(client)
    earthsea_only = ["A Wizard of Earthsea"]
    for params, titles in (
        ({"category": ["fantasy", "classics"]}, ["A Wizard of Earthsea", "Emma"]),
        ({"category": ["fantasy", "classics"], "category_mode": "all"}, earthsea_only),
        (
            {"category_id": [made["fantasy"]["id"]], "category": "classics"},
            ["A Wizard of Earthsea", "Emma"],
        ),
        ({"year_min": 1960, "year_max": 1969}, earthsea_only),
        ({"price_min": "8.50", "price_max": 8.5}, earthsea_only),
        ({"category": "classics", "price_max": "8"}, []),
    ):
        for path in ("/books/export.csv", "/books/export.jsonl"):
            response = await client.get(path, params=params)
            assert response.status_code == 200, (params, response.text)
            rows = (
                csv_rows(response.text)
                if path.endswith(".csv")
                else [json.loads(line) for line in response.text.splitlines()]
            )
            assert sorted(row["title"] for row in rows) == titles, params
    for params in (
        {"year_min": 2000, "year_max": 1999},
        {"price_min": "abc"},
        {"category_mode": "some"},
        {"category_id": [str(n) for n in range(1, 1002)]},
    ):
        expect_error(await client.get("/books/export.csv", params=params), 422)


async def test_export_refuses_unknown_and_invalid_parameters(client: httpx.AsyncClient) -> None:
    detail = expect_error(await client.get("/books/export.csv", params={"autor": "x"}), 422)
    assert "autor" in json.dumps(detail)
    expect_error(await client.get("/books/export.jsonl", params={"limit": "5"}), 422)
    expect_error(await client.get("/books/export.csv", params={"author_id": "0"}), 422)
    expect_error(await client.get("/books/export.csv", params={"author": ""}), 422)


async def test_export_paths_are_not_taken_for_book_ids(client: httpx.AsyncClient) -> None:
    assert (await client.get("/books/export.csv")).status_code == 200
    expect_error(await client.get("/books/export.xml"), 422)  # still /books/{book_id}


async def test_export_streams_a_catalog_larger_than_one_chunk(
    client: httpx.AsyncClient,
) -> None:
    assert bookstore("seed", "--books", "2500").returncode == 0
    response = await client.get("/books/export.jsonl")
    assert len(response.text.splitlines()) == 2500
    rows = csv_rows((await client.get("/books/export.csv")).text)
    assert len(rows) == 2500 and all(row["categories"] for row in rows)


async def test_export_is_not_logged_as_a_search(client: httpx.AsyncClient) -> None:
    await small_catalog(client)
    await client.get("/books/export.csv", params={"author": "austen"})
    logs = (await client.get("/search-logs")).json()["items"]
    assert logs == []


async def test_the_export_command_writes_the_same_file(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await small_catalog(client)
    for suffix in ("csv", "jsonl"):
        target = tmp_path / f"books.{suffix}"
        result = bookstore("export", str(target), "--category", "classics")
        assert result.returncode == 0, result.stderr
        assert "2 books" in result.stdout
        served = await client.get(f"/books/export.{suffix}", params={"category": "classics"})
        assert target.read_text() == served.text

    only_austen = tmp_path / "austen.dat"
    result = bookstore("export", str(only_austen), "--format", "csv", "--author", "austen")
    assert result.returncode == 0, result.stderr
    assert [row["title"] for row in csv_rows(only_austen.read_text())] == ["Emma"]


@pytest.fixture
async def locker() -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, to hold locks with."""
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        yield connection
    finally:
        await connection.close()


# Held by ``locker``: an export sends its CSV header, then opens its cursor
# over books and their authors, and that statement waits, mid-stream.
LOCK_AUTHORS = "BEGIN; LOCK TABLE authors IN ACCESS EXCLUSIVE MODE"


async def test_an_export_is_not_cut_by_the_api_statement_timeout(
    client: httpx.AsyncClient, locker: asyncpg.Connection
) -> None:
    await small_catalog(client)
    await locker.execute(LOCK_AUTHORS)
    export = asyncio.create_task(client.get("/books/export.csv"))
    await wait_until_blocked_on_a_lock(locker)
    # Longer than any API statement may run; an export's fetch may.
    await asyncio.sleep(get_settings().statement_timeout_ms / 1000 + 1)
    await locker.execute("COMMIT")

    response = await export
    assert response.status_code == 200
    assert [row["title"] for row in csv_rows(response.text)] == ["A Wizard of Earthsea", "Emma"]


async def test_an_export_that_fails_mid_stream_ends_as_a_truncated_response(
    client: httpx.AsyncClient, locker: asyncpg.Connection
) -> None:
    # Not a well-formed file: the chunked body ends without its last chunk,
    # so a client (curl, httpx, urllib) reports the download as failed.
    await small_catalog(client)
    await locker.execute(LOCK_AUTHORS)
    with running_server(timeout_s=120) as server:
        async with (
            httpx.AsyncClient(timeout=60) as http,
            http.stream("GET", f"{server.url}/books/export.csv") as response,
        ):
            assert response.status_code == 200
            await wait_until_blocked_on_a_lock(locker)
            # What a statement timeout does to the export's fetch.
            await locker.fetchval(
                "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
                await response.aread()
