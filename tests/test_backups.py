"""``bookstore db dump`` and ``bookstore db restore``: a backup brings everything back."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import httpx
import pytest
from conftest import TEST_DSN
from factories import create_book, create_category
from servers import bookstore

from bookstore.backups import BackupError, ClientPrograms, choose_clients

# What a backup must keep, each as rows in a stable order.
CONTENT = {
    "books": "SELECT id, title, isbn, published_year, price, description, author_id,"
    " created_at, updated_at FROM books ORDER BY id",
    "authors": "SELECT id, name, bio FROM authors ORDER BY id",
    "categories": "SELECT id, name, slug, description FROM categories ORDER BY id",
    "links": "SELECT book_id, category_id FROM book_category ORDER BY book_id, category_id",
    "tokens": "SELECT name, token_hash, created_at, revoked_at FROM api_tokens ORDER BY name",
    "search_logs": "SELECT id, author, category, query, result_count, duration_ms, created_at"
    " FROM search_logs ORDER BY id",
}


async def content_of(dsn: str) -> dict[str, list[tuple]]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            name: [tuple(row) for row in await connection.fetch(sql)]
            for name, sql in CONTENT.items()
        }
    finally:
        await connection.close()


async def add_author(dsn: str, name: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(
            "INSERT INTO authors (name) VALUES ($1) RETURNING id", name
        )
    finally:
        await connection.close()


def with_database_url(dsn: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": dsn}


async def fill_catalog(client: httpx.AsyncClient) -> None:
    fantasy = await create_category(client, "Fantasy")
    essays = await create_category(client, "Essays")
    await create_book(
        client,
        title="A Wizard of Earthsea",
        isbn="9780547773742",
        price="8.99",
        category_ids=[fantasy["id"], essays["id"]],
    )
    await create_book(client, title="Untitled", category_ids=[essays["id"]])
    assert (await client.get("/books", params={"category": "fantasy"})).status_code == 200


async def test_a_dump_restores_every_book_link_token_and_search_log(
    client: httpx.AsyncClient, empty_database: str, tmp_path: Path
) -> None:
    await fill_catalog(client)
    before = await content_of(TEST_DSN)
    assert all(before.values()), before  # something of each kind to lose

    dump = tmp_path / "store.dump"
    dumped = bookstore("db", "dump", str(dump))
    assert dumped.returncode == 0, dumped.stderr
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    restored = bookstore("db", "restore", str(dump), env=with_database_url(empty_database))
    assert restored.returncode == 0, restored.stderr
    assert await content_of(empty_database) == before

    # The restored database works: the sequences continue past the restored ids.
    new_id = await add_author(empty_database, "After the restore")
    assert new_id > max(row[0] for row in before["authors"])


async def test_restore_refuses_a_database_that_is_not_empty_unless_replace(
    client: httpx.AsyncClient, empty_database: str, tmp_path: Path
) -> None:
    await fill_catalog(client)
    before = await content_of(TEST_DSN)
    dump = tmp_path / "store.dump"
    assert bookstore("db", "dump", str(dump)).returncode == 0
    elsewhere = with_database_url(empty_database)
    assert bookstore("db", "restore", str(dump), env=elsewhere).returncode == 0
    await add_author(empty_database, "Written after the restore")

    refused = bookstore("db", "restore", str(dump), env=elsewhere)
    assert refused.returncode != 0
    assert "not empty" in refused.stderr and "--replace" in refused.stderr

    replaced = bookstore("db", "restore", str(dump), "--replace", env=elsewhere)
    assert replaced.returncode == 0, replaced.stderr
    assert await content_of(empty_database) == before


async def test_a_broken_dump_leaves_the_database_as_it_was(
    client: httpx.AsyncClient, empty_database: str, tmp_path: Path
) -> None:
    await fill_catalog(client)
    dump = tmp_path / "store.dump"
    assert bookstore("db", "dump", str(dump)).returncode == 0
    elsewhere = with_database_url(empty_database)
    assert bookstore("db", "restore", str(dump), env=elsewhere).returncode == 0
    await add_author(empty_database, "Written after the restore")
    before = await content_of(empty_database)
    data = dump.read_bytes()
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(data[: len(data) - 200])  # the table of contents reads, the data ends

    failed = bookstore("db", "restore", str(truncated), "--replace", env=elsewhere)
    assert failed.returncode != 0
    assert "nothing restored" in failed.stderr or "rolled back" in failed.stderr
    assert await content_of(empty_database) == before


def test_restore_of_a_missing_file_says_so(tmp_path: Path) -> None:
    result = bookstore("db", "restore", str(tmp_path / "nothing.dump"))
    assert result.returncode != 0 and "no such file" in result.stderr


def clients(*majors: int) -> list[ClientPrograms]:
    return [ClientPrograms(Path(f"/pg/{major}/bin"), major) for major in majors]


def test_the_client_programs_of_the_servers_own_version_are_preferred() -> None:
    assert choose_clients(15, clients(18, 15)).major == 15
    assert choose_clients(18, clients(18, 15)).major == 18


def test_a_newer_client_serves_an_older_server_when_its_own_is_missing() -> None:
    assert choose_clients(16, clients(18, 15, 17)).major == 17


def test_an_older_client_is_refused_for_a_newer_server_with_the_reason() -> None:
    with pytest.raises(BackupError, match="newer than itself"):
        choose_clients(18, clients(15))
