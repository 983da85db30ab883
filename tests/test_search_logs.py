"""Search logging (GET /books with filters -> search_logs), /search-logs, and the
service-level routes /health and /openapi.json."""

from __future__ import annotations

from datetime import datetime

import pytest
from factories import create_author, create_book, create_category, expect_error
from starlette.datastructures import URL

from bookstore.api.books import logged_query
from bookstore.tables import SearchLog


async def search_logs(client, **params) -> list[dict]:
    response = await client.get("/search-logs", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["items"]
    return body["items"]


# -- what a search writes ----------------------------------------------------


async def test_a_search_by_author_writes_one_log_row(client):
    author = await create_author(client, "Ursula Le Guin")
    await create_book(client, author_id=author["id"])

    response = await client.get("/books", params={"author": "guin"})
    assert response.status_code == 200

    (log,) = await search_logs(client)
    assert set(log) == {
        "id",
        "author",
        "category",
        "q",
        "query",
        "result_count",
        "duration_ms",
        "created_at",
    }
    assert log["author"] == "guin"
    assert log["category"] is None
    assert log["q"] is None
    assert log["query"] == "author=guin"
    assert log["result_count"] == 1
    assert log["duration_ms"] > 0
    datetime.fromisoformat(log["created_at"])
    assert await SearchLog.count() == 1


async def test_a_search_by_category_writes_one_log_row(client):
    category = await create_category(client, "Fantasy")
    await create_book(client, category_ids=[category["id"]])
    await create_book(client, category_ids=[category["id"]])

    await client.get("/books", params={"category": "Fantasy"})

    (log,) = await search_logs(client)
    assert log["author"] is None
    assert log["category"] == "Fantasy"
    assert log["query"] == "category=Fantasy"
    assert log["result_count"] == 2


@pytest.mark.parametrize("param", ["author", "category", "author_id", "category_id"])
async def test_every_filter_alone_writes_exactly_one_log_row(client, param):
    author = await create_author(client, "Some Author")
    category = await create_category(client, "Some Category")
    await create_book(client, author_id=author["id"], category_ids=[category["id"]])
    value = {
        "author": "some",
        "category": "some-category",
        "author_id": author["id"],
        "category_id": category["id"],
    }[param]

    response = await client.get("/books", params={param: value})

    assert response.status_code == 200
    (log,) = await search_logs(client)
    assert log["result_count"] == 1
    assert log["query"] == f"{param}={value}"
    assert log["duration_ms"] > 0


async def test_a_search_by_id_logs_no_author_or_category_term(client):
    author = await create_author(client)

    await client.get("/books", params={"author_id": author["id"]})

    (log,) = await search_logs(client)
    assert log["author"] is None
    assert log["category"] is None
    assert log["query"] == f"author_id={author['id']}"


async def test_a_search_with_every_filter_writes_one_row_with_both_terms(client):
    author = await create_author(client, "Both")
    category = await create_category(client, "Both Cat")
    await create_book(client, author_id=author["id"], category_ids=[category["id"]])

    await client.get(
        "/books",
        params={
            "author": "both",
            "category": "both-cat",
            "author_id": author["id"],
            "category_id": category["id"],
        },
    )

    (log,) = await search_logs(client)
    assert (log["author"], log["category"], log["result_count"]) == ("both", "both-cat", 1)


async def test_the_result_count_is_the_number_of_items_on_the_page(client):
    author = await create_author(client, "Prolific")
    for n in range(5):
        await create_book(client, title=f"B{n}", author_id=author["id"])

    page = (await client.get("/books", params={"author": "prolific", "limit": 2})).json()
    await client.get(
        "/books", params={"author": "prolific", "limit": 2, "cursor": page["next_cursor"]}
    )
    last = (await client.get("/books", params={"author": "prolific", "limit": 4})).json()
    await client.get(
        "/books", params={"author": "prolific", "limit": 4, "cursor": last["next_cursor"]}
    )

    logs = await search_logs(client)
    assert [log["result_count"] for log in reversed(logs)] == [2, 2, 4, 1]


async def test_a_search_finding_nothing_logs_a_zero_count(client):
    await client.get("/books", params={"author": "nobody"})

    (log,) = await search_logs(client)
    assert log["result_count"] == 0
    assert log["author"] == "nobody"


async def test_the_logged_query_is_the_raw_query_string(client):
    await client.get("/books?author=Le%20Guin&limit=5&category=sci-fi")

    (log,) = await search_logs(client)
    assert log["query"] == "author=Le%20Guin&limit=5&category=sci-fi"
    assert log["author"] == "Le Guin"
    assert log["category"] == "sci-fi"


@pytest.mark.parametrize(
    "query_string",
    [
        b"",
        b"q=tolkein+hobit",
        b"q=%C3%A9t%C3%A9&author=Le%20Guin",
        "q=été #frag".encode(),
        b"q=a%23b#c#d",
        b"q=a\tb\r\nc&x=?y",
        b"q=%00&category=sci-fi&category=fantasy",
    ],
)
def test_the_logged_query_is_what_the_request_url_gives(query_string):
    scope = {
        "type": "http",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "path": "/books",
        "query_string": query_string,
        "headers": [(b"host", b"example.com")],
    }
    assert logged_query(scope) == URL(scope=scope).query


async def test_search_terms_are_logged_as_typed(client):
    await client.get("/books", params={"author": "100%_Ünïcode"})

    (log,) = await search_logs(client)
    assert log["author"] == "100%_Ünïcode"


async def test_a_listing_without_filters_writes_no_log(client):
    author = await create_author(client)
    for n in range(3):
        await create_book(client, title=f"B{n}", author_id=author["id"])

    page = (await client.get("/books", params={"limit": 2})).json()
    await client.get("/books")
    await client.get("/books", params={"limit": 2, "cursor": page["next_cursor"]})

    assert await search_logs(client) == []
    assert await SearchLog.count() == 0


async def test_every_search_writes_its_own_row(client):
    for term in ("a", "b", "c"):
        await client.get("/books", params={"author": term})
    await client.get("/books", params={"author": "a"})

    assert await SearchLog.count() == 4


# -- GET /search-logs --------------------------------------------------------


async def test_search_logs_start_empty(client):
    assert await search_logs(client) == []


async def test_search_logs_are_listed_newest_first(client):
    for term in ("first", "second", "third"):
        await client.get("/books", params={"author": term})

    logs = await search_logs(client)

    assert [log["author"] for log in logs] == ["third", "second", "first"]
    stamps = [datetime.fromisoformat(log["created_at"]) for log in logs]
    assert stamps == sorted(stamps, reverse=True)


async def test_the_search_log_limit_keeps_the_newest(client):
    for term in ("first", "second", "third"):
        await client.get("/books", params={"author": term})

    logs = await search_logs(client, limit=2)

    assert [log["author"] for log in logs] == ["third", "second"]


async def test_the_search_log_limit_defaults_to_50(client):
    for n in range(51):
        await client.get("/books", params={"author_id": n + 1})

    assert len(await search_logs(client)) == 50


@pytest.mark.parametrize("limit", [1, 1000])
async def test_search_log_limits_1_and_1000_are_accepted(client, limit):
    assert (await client.get("/search-logs", params={"limit": limit})).status_code == 200


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc"])
async def test_a_search_log_limit_outside_1_to_1000_is_422(client, limit):
    expect_error(await client.get("/search-logs", params={"limit": limit}), 422)


# -- service -----------------------------------------------------------------


async def test_health_reports_the_service_and_database_ok(client):
    response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert set(body["search_log"]) == {"written", "pending", "dropped", "failed_writes"}


async def test_the_openapi_document_lists_the_routes(client):
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/books": {"get", "post"},
        "/books/{book_id}": {"get", "patch", "delete"},
        "/authors": {"get", "post"},
        "/authors/{author_id}": {"get", "patch", "delete"},
        "/authors/{author_id}/books": {"get"},
        "/categories": {"get", "post"},
        "/categories/{category_id}": {"get", "patch", "delete"},
        "/categories/{category_id}/books": {"get"},
        "/search-logs": {"get"},
        "/health": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path


async def test_an_unknown_route_is_a_json_404(client):
    expect_error(await client.get("/no-such-route"), 404)
