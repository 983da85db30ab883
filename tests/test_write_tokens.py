"""Writes to /books, /authors and /categories, and reading /search-logs, need a bearer token;
catalog reads stay public."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import create_book, create_category, expect_error, unique
from fastapi import FastAPI
from servers import bookstore, serving_demo, wait_until_listening

from bookstore import tokens
from bookstore.tables import ApiToken

WRITE_ROUTES = [
    ("POST", "/books"),
    ("PATCH", "/books/{id}"),
    ("DELETE", "/books/{id}"),
    ("POST", "/authors"),
    ("PATCH", "/authors/{id}"),
    ("DELETE", "/authors/{id}"),
    ("POST", "/categories"),
    ("PATCH", "/categories/{id}"),
    ("DELETE", "/categories/{id}"),
    ("POST", "/books/import"),
]
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Reads that need a token too: the search log holds what customers typed.
TOKEN_READ_ROUTES = [("GET", "/search-logs"), ("GET", "/search-logs/stats")]


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no ``Authorization`` header."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_name() -> str:
    return unique("token").replace(" ", "-")


async def one_of_each(client: httpx.AsyncClient) -> dict[str, Any]:
    """A book (with its author) and a category: something for every write route to hit."""
    book = await create_book(client)
    category = await create_category(client)
    return {
        "/books": book,
        "/authors": book["author"],
        "/categories": category,
    }


def write_request(method: str, path: str, targets: dict[str, Any]) -> dict[str, Any]:
    """Arguments for ``client.request``: a valid write, which only a missing token spoils."""
    if path == "/books/import":
        body = "title,author\nWritten without a token,Someone\n"
        return {"method": method, "url": path, "content": body, "params": {"format": "csv"}}
    collection = path.removesuffix("/{id}")
    url = path.format(id=targets[collection]["id"])
    bodies = {
        "/books": {"title": "Written without a token", "author_id": targets["/authors"]["id"]},
        "/authors": {"name": "Written without a token"},
        "/categories": {"name": "Written without a token"},
    }
    request: dict[str, Any] = {"method": method, "url": url}
    if method != "DELETE":
        request["json"] = bodies[collection]
    return request


def expect_unauthorized(response: httpx.Response) -> str:
    detail = expect_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    return detail


async def snapshot(client: httpx.AsyncClient, targets: dict[str, Any]) -> list[Any]:
    listings = [(await client.get(url)).json() for url in ("/books", "/authors", "/categories")]
    return [*listings, *[(await client.get(f"{c}/{t['id']}")).json() for c, t in targets.items()]]


# -- the API -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
async def test_a_write_without_a_token_is_401_and_changes_nothing(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    targets = await one_of_each(client)
    before = await snapshot(client, targets)

    response = await anonymous.request(**write_request(method, path, targets))

    assert "Bearer" in expect_unauthorized(response)
    assert response.headers["www-authenticate"] == "Bearer"
    assert await snapshot(client, targets) == before


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
async def test_a_write_with_an_unknown_token_is_401(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    targets = await one_of_each(client)
    guess = secrets.token_urlsafe(tokens.TOKEN_BYTES)

    response = await anonymous.request(
        **write_request(method, path, targets), headers=bearer(guess)
    )

    assert guess not in expect_unauthorized(response)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


MALFORMED_BODIES = [b"{bad", b"", b"[1, 2", b"\xff\xfe", b'{"title": 1}' * 3, b"null"]


def token_guarded_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) that needs a write token, as the OpenAPI document declares."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if any("WriteToken" in requirement for requirement in operation.get("security", []))
    ]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
async def test_a_write_without_a_valid_token_is_401_whatever_its_body(
    app: FastAPI, anonymous: httpx.AsyncClient, body: bytes, authorization: str | None
) -> None:
    # Every route that needs a token, those added later included: none may
    # parse the body (and say how it failed) for a client it will refuse.
    routes = token_guarded_routes(app)
    assert len(routes) >= len(WRITE_ROUTES)
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "1", path)

        response = await anonymous.request(method, url, content=body, headers=headers)

        assert response.status_code == 401, (method, url, response.text)
        expect_unauthorized(response)


async def test_with_a_valid_token_a_malformed_body_is_still_refused_as_such(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/books", content=b"{bad", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert "JSON" in response.text


async def test_a_body_over_the_limit_is_413_before_the_token_is_checked(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.post(
        "/books", content=b"{" * 2_000_000, headers={"content-type": "application/json"}
    )

    expect_error(response, 413)


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "bearer-less-token",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Bearer " + "x" * 5000,
    ],
)
async def test_a_malformed_authorization_header_is_401(
    anonymous: httpx.AsyncClient, authorization: str
) -> None:
    response = await anonymous.post(
        "/authors", json={"name": "Nobody"}, headers={"Authorization": authorization}
    )

    expect_unauthorized(response)


async def test_the_bearer_scheme_name_is_case_insensitive(anonymous: httpx.AsyncClient) -> None:
    token = await tokens.create_token(token_name())

    response = await anonymous.post(
        "/authors", json={"name": "Lowercase"}, headers={"Authorization": f"bearer {token}"}
    )

    assert response.status_code == 201, response.text


async def test_a_revoked_token_is_401(anonymous: httpx.AsyncClient) -> None:
    name = token_name()
    token = await tokens.create_token(name)
    assert (
        await anonymous.post("/authors", json={"name": "Before"}, headers=bearer(token))
    ).status_code == 201

    assert await tokens.revoke_token(name) is True

    expect_unauthorized(
        await anonymous.post("/authors", json={"name": "After"}, headers=bearer(token))
    )
    assert await tokens.verify_token(token) is None


async def test_reads_are_public(client: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> None:
    targets = await one_of_each(client)
    book, author, category = targets["/books"], targets["/authors"], targets["/categories"]
    urls = [
        "/books",
        f"/books?author={author['name']}",
        f"/books/{book['id']}",
        "/authors",
        f"/authors/{author['id']}",
        f"/authors/{author['id']}/books",
        "/categories",
        f"/categories/{category['id']}",
        f"/categories/{category['id']}/books",
        "/health",
        "/openapi.json",
    ]
    for url in urls:
        response = await anonymous.get(url)
        assert response.status_code == 200, (url, response.text)


@pytest.mark.parametrize(("method", "path"), TOKEN_READ_ROUTES)
async def test_reading_the_search_log_without_a_token_is_401(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    await client.get("/books", params={"author": "private"})

    response = await anonymous.request(method, path)

    detail = expect_unauthorized(response)
    assert "search logs" in detail
    assert "private" not in response.text


@pytest.mark.parametrize(("method", "path"), TOKEN_READ_ROUTES)
async def test_reading_the_search_log_with_an_unknown_token_is_401(
    anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    guess = secrets.token_urlsafe(tokens.TOKEN_BYTES)

    response = await anonymous.request(method, path, headers=bearer(guess))

    expect_unauthorized(response)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(("method", "path"), TOKEN_READ_ROUTES)
async def test_reading_the_search_log_with_a_token_is_200(
    anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    token = await tokens.create_token(token_name())

    response = await anonymous.request(method, path, headers=bearer(token))

    assert response.status_code == 200, response.text


async def test_the_openapi_document_declares_the_token_on_writes_and_the_search_log_only(
    anonymous: httpx.AsyncClient,
) -> None:
    document = (await anonymous.get("/openapi.json")).json()

    assert document["components"]["securitySchemes"]["WriteToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "A token from `bookstore token create NAME`; needed by every write and to read "
            "the search logs."
        ),
    }
    writes = set()
    token_reads = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            route = (method.upper(), re.sub(r"\{\w+\}", "{id}", path))
            if method.upper() in WRITE_METHODS or path.startswith("/search-logs"):
                (writes if method.upper() in WRITE_METHODS else token_reads).add(route)
                assert operation["security"] == [{"WriteToken": []}], (method, path)
                assert "401" in operation["responses"], (method, path)
            else:
                assert "security" not in operation, (method, path)
    # Every route that needs a token is one the tests above send without a token.
    assert writes == set(WRITE_ROUTES)
    assert token_reads == set(TOKEN_READ_ROUTES)


# -- the tokens ----------------------------------------------------------------


async def test_a_token_is_stored_hashed_never_in_plain() -> None:
    name = token_name()
    token = await tokens.create_token(name)

    rows = await ApiToken.raw("SELECT * FROM api_tokens")
    assert token not in repr(rows)
    (row,) = [row for row in rows if row["name"] == name]
    assert row["token_hash"] == tokens.hash_token(token)
    assert len(row["token_hash"]) == 64
    assert row["revoked_at"] is None
    assert len(token) >= 43  # 32 random bytes


async def test_each_token_is_new() -> None:
    first, second = (
        await tokens.create_token(token_name()),
        await tokens.create_token(token_name()),
    )

    assert first != second
    assert await tokens.verify_token(first) != await tokens.verify_token(second)


async def test_the_demo_token_is_created_once() -> None:
    await ApiToken.delete().where(ApiToken.name == tokens.DEMO_TOKEN_NAME)

    token = await tokens.create_demo_token()

    assert token is not None
    assert await tokens.verify_token(token) == tokens.DEMO_TOKEN_NAME
    assert await tokens.create_demo_token() is None


# -- the bookstore command -----------------------------------------------------


async def test_token_create_prints_a_token_once_and_it_opens_writes(
    anonymous: httpx.AsyncClient,
) -> None:
    name = token_name()

    created = bookstore("token", "create", name)

    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert "cannot be shown again" in created.stderr
    assert token not in created.stderr
    response = await anonymous.post("/authors", json={"name": "By the CLI"}, headers=bearer(token))
    assert response.status_code == 201, response.text


async def test_token_list_shows_names_never_tokens_or_hashes() -> None:
    name = token_name()
    token = bookstore("token", "create", name).stdout.strip()

    listed = bookstore("token", "list")

    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith(f"{name}\t")]
    assert line.endswith("active")
    assert token not in listed.stdout
    assert tokens.hash_token(token) not in listed.stdout


async def test_token_revoke_makes_the_token_fail(anonymous: httpx.AsyncClient) -> None:
    name = token_name()
    token = bookstore("token", "create", name).stdout.strip()

    revoked = bookstore("token", "revoke", name)

    assert revoked.returncode == 0, revoked.stderr
    expect_unauthorized(
        await anonymous.post("/authors", json={"name": "X"}, headers=bearer(token))
    )
    (line,) = [line for line in bookstore("token", "list").stdout.splitlines() if name in line]
    assert "revoked" in line
    again = bookstore("token", "revoke", name)
    assert again.returncode == 0 and "already" in again.stdout


async def test_token_create_refuses_a_name_in_use() -> None:
    name = token_name()
    await tokens.create_token(name)

    again = bookstore("token", "create", name)

    assert again.returncode != 0
    assert "already exists" in again.stderr
    assert again.stdout == ""


async def test_token_revoke_refuses_an_unknown_name() -> None:
    revoked = bookstore("token", "revoke", "nobody-has-this-name")

    assert revoked.returncode != 0
    assert "no token named 'nobody-has-this-name'" in revoked.stderr


async def test_token_create_refuses_a_name_with_spaces() -> None:
    created = bookstore("token", "create", "two words")

    assert created.returncode != 0
    assert "invalid token name" in created.stderr


async def test_serve_demo_prints_a_demo_token_once_that_opens_writes(
    empty_database: str, tmp_path: Path
) -> None:
    with serving_demo(empty_database, tmp_path / "serve.log") as server:
        output = server.read_until("Demo API token")
        line = next(line for line in output.splitlines() if "Demo API token" in line)
        token = line.split("Authorization: Bearer ", 1)[1].split("'", 1)[0]
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
            await wait_until_listening(http, timeout_s=30)
            created = await http.post("/authors", json={"name": "Demo"}, headers=bearer(token))
            assert created.status_code == 201, created.text
            refused = await http.post("/authors", json={"name": "Demo"})
            assert refused.status_code == 401

    with serving_demo(empty_database, tmp_path / "serve-again.log") as server:
        output = server.read_until("Database:")
    assert token not in output
    assert "The demo API token 'demo' exists" in output
