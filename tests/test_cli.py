"""The ``bookstore`` command: seeding, migrating, and the embedded server."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from conftest import SERVER_DSN, fetch_on, run_on_server, with_database
from servers import bookstore, free_port

from bookstore.seed import added_at
from bookstore.tables import Author, Book, BookCategory, Category


async def test_seed_demo_loads_hundreds_of_real_books(client: httpx.AsyncClient) -> None:
    result = bookstore("seed", "--demo")
    assert result.returncode == 0, result.stderr

    assert await Book.count() >= 300
    tolkien = (await client.get("/books", params={"author": "tolkien", "limit": 100})).json()
    titles = {book["title"] for book in tolkien["items"]}
    assert "The Hobbit" in titles
    assert all(book["categories"] for book in tolkien["items"])
    fantasy = (await client.get("/books", params={"category": "Fantasy"})).json()
    assert len(fantasy["items"]) == 20
    # Prices to try the price filters with, and ISBNs where they are known (issue 10).
    hobbit = next(book for book in tolkien["items"] if book["title"] == "The Hobbit")
    assert hobbit["isbn"] == "9780547928227"
    cheap = (await client.get("/books", params={"price_max": "10", "with_total": "true"})).json()
    assert cheap["total"] > 0 and cheap["total_is_estimate"] is False
    assert await Book.count().where(Book.price.is_null()) == 0


async def test_seed_refuses_a_catalog_that_is_not_empty() -> None:
    assert bookstore("seed", "--demo").returncode == 0
    again = bookstore("seed", "--demo")
    assert again.returncode != 0
    assert "--replace" in again.stderr
    assert bookstore("seed", "--books", "50", "--replace").returncode == 0
    assert await Book.count() == 50


async def test_seed_books_builds_a_long_tailed_catalog() -> None:
    result = bookstore("seed", "--books", "5000")
    assert result.returncode == 0, result.stderr

    assert await Book.count() == 5000
    assert await Author.count() == 500
    assert 10 <= await Category.count() <= 300
    links = await BookCategory.select(
        BookCategory.book.as_alias("book"), BookCategory.category.as_alias("category")
    )
    per_book = Counter(link["book"] for link in links)
    assert set(per_book.values()) <= {1, 2, 3} and len(per_book) == 5000
    per_category = sorted(Counter(link["category"] for link in links).values(), reverse=True)
    assert per_category[0] > 10 * per_category[len(per_category) // 2], "no long tail"
    books_per_author = sorted(
        Counter(r["author"] for r in await Book.select(Book.author.as_alias("author"))).values(),
        reverse=True,
    )
    assert books_per_author[0] > 5 * books_per_author[len(books_per_author) // 2]
    # The sequences moved past the copied ids: the API can add books.
    new_id = (await Book.insert(Book(title="After the seed", author=1)).returning(Book.id))[0]
    assert new_id["id"] == 5001


def test_synthetic_books_are_added_over_ten_years_at_a_million_books() -> None:
    first, last = added_at(1, 1_000_000), added_at(1_000_000, 1_000_000)
    assert last - first > timedelta(days=3650)
    assert added_at(500_000, 1_000_000) < last


@pytest.mark.slow
def test_embedded_server_starts_is_reused_and_stops(server_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BOOKSTORE_DATA_DIR"] = str(server_dir)

    first = bookstore("db", "url", env=env)
    assert first.returncode == 0, first.stderr
    dsn = first.stdout.strip()
    assert dsn.startswith("postgresql://postgres:") and dsn.endswith("/bookstore")
    assert "@127.0.0.1:" in dsn
    assert bookstore("db", "url", env=env).stdout.strip() == dsn  # reused, same port

    migrated = bookstore("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr

    async def server_version() -> int:
        connection = await asyncpg.connect(dsn)  # plain TCP: psql and GUI tools can too
        try:
            return connection.get_server_version().major
        finally:
            await connection.close()

    assert asyncio.run(server_version()) == 18

    stopped = bookstore("db", "stop", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    with pytest.raises(OSError):
        asyncio.run(server_version())
    assert "was not running" in bookstore("db", "stop", env=env).stdout


def test_printed_dsns_hide_passwords() -> None:
    from bookstore.cli import _redacted

    assert (
        _redacted("postgresql://shop:s3cret@db:5432/books")
        == "postgresql://shop:***@db:5432/books"
    )
    assert "s3cret" not in _redacted("postgresql://db/books?user=shop&password=s3cret")


async def _refused_migration(
    name: str, options: str, command: tuple[str, ...] = ("migrate",)
) -> str:
    """What ``bookstore migrate`` (or ``command``, which migrates first) says of a database
    made with ``options``, checked to have failed before making any table. A command that
    would go on to serve is stopped after a minute, failing the test."""
    await run_on_server(f"CREATE DATABASE {name} TEMPLATE template0 {options}")
    dsn = with_database(SERVER_DSN, name)
    try:
        migrated = bookstore(*command, env={**os.environ, "DATABASE_URL": dsn}, timeout=60)
        assert migrated.returncode != 0
        assert (
            await fetch_on(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            == []
        )
        return migrated.stderr
    finally:
        await run_on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_migrate_refuses_a_database_whose_locale_does_not_lower_non_ascii_letters() -> None:
    """Under LC_CTYPE "C", lower() leaves 'Ø' as it is: a book by 'ØRJAN' would be indexed
    unfolded and never found by 'orjan'. Migrating such a database stops with the reason, before
    any table is made; a database with a UTF-8 locale migrates (every other test's does)."""
    said = await _refused_migration(
        f"bookstore_c_locale_{uuid.uuid4().hex[:12]}",
        "LOCALE_PROVIDER libc LC_COLLATE 'C' LC_CTYPE 'C'",
    )
    assert "LC_CTYPE is 'C'" in said
    assert "createdb --template=template0 --locale=C.UTF-8" in said


async def test_migrate_refuses_a_database_that_is_not_utf8_with_the_reason() -> None:
    """A LATIN1 database cannot hold 'Ł' or 'Ж' (nor titles in those scripts), so the check of
    lower() cannot even be asked there: migrating stops with the reason, not a traceback of the
    failed conversion, before any table is made."""
    said = await _refused_migration(
        f"bookstore_latin1_{uuid.uuid4().hex[:12]}",
        "ENCODING 'LATIN1' LOCALE_PROVIDER libc LC_COLLATE 'C' LC_CTYPE 'C'",
    )
    assert "Traceback" not in said, said
    assert "encoding is 'LATIN1'" in said
    assert "createdb --template=template0 --encoding=UTF8" in said


async def test_serve_refuses_an_sql_ascii_database_with_the_c_locale() -> None:
    """``bookstore serve`` migrates first, so it stops there with the reason, before serving
    or making any table: a database made by ``createdb -T template0 --locale=C -E SQL_ASCII``
    (SQL_ASCII stores bytes unchecked, and lower() folds ASCII letters only)."""
    said = await _refused_migration(
        f"bookstore_sql_ascii_{uuid.uuid4().hex[:12]}",
        "ENCODING 'SQL_ASCII' LOCALE_PROVIDER libc LC_COLLATE 'C' LC_CTYPE 'C'",
        ("serve", "--port", str(free_port())),
    )
    assert "Traceback" not in said, said
    assert "encoding is 'SQL_ASCII'" in said
    assert "createdb --template=template0 --encoding=UTF8" in said
