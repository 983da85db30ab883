"""Query parameters a route does not know, or gets twice, answer 422 naming them.

A typo such as ``?titel=`` or ``?auther=`` must never be silently ignored: the
customer would get the unfiltered catalog and think it was an answer (issue 9).
"""

from __future__ import annotations

import pytest
from factories import create_author, create_book, create_category, expect_error

from bookstore.tables import Book

# Every route that takes query parameters, with one parameter it knows.
LISTINGS = [
    ("/books", "author", "tolkien"),
    ("/books", "q", "hobbit"),
    ("/books/suggest", "q", "hob"),
    ("/books/export.csv", "author", "tolkien"),
    ("/books/export.jsonl", "year_min", "1950"),  # category may be repeated (issue 10)
    ("/authors", "name", "tolkien"),
    ("/authors/{author_id}/books", "limit", "5"),
    ("/categories/{category_id}/books", "limit", "5"),
    ("/search-logs", "limit", "5"),
    ("/search-logs/stats", "bucket", "hour"),
]
ROUTE_IDS = [f"{route}?{known}" for route, known, _ in LISTINGS]
# Parameters a route cannot do without, sent with every request to it so that
# only the parameter under test can fail.
REQUIRED = {"/books/suggest": {"q": "hob"}}


@pytest.fixture
async def paths(client) -> dict[str, str]:
    """Each route of LISTINGS with real ids, so that only the parameters can fail."""
    author = await create_author(client, "J. R. R. Tolkien")
    category = await create_category(client, "Fantasy")
    await create_book(
        client, title="The Hobbit", author_id=author["id"], category_ids=[category["id"]]
    )
    return {
        route: route.format(author_id=author["id"], category_id=category["id"])
        for route, _, _ in LISTINGS
    }


def with_required(route: str, params: dict[str, str]) -> dict[str, str]:
    return {**REQUIRED.get(route, {}), **params}


def names_in(detail: list[dict]) -> set[str]:
    return {error["loc"][-1] for error in detail}


@pytest.mark.parametrize(("route", "known", "value"), LISTINGS, ids=ROUTE_IDS)
async def test_an_unknown_query_parameter_is_422_naming_it(client, paths, route, known, value):
    response = await client.get(paths[route], params=with_required(route, {"titel": "hobbit"}))
    detail = expect_error(response, 422)

    assert detail[0]["loc"] == ["query", "titel"]
    assert detail[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(("route", "known", "value"), LISTINGS, ids=ROUTE_IDS)
async def test_an_unknown_parameter_beside_a_known_one_is_still_422(
    client, paths, route, known, value
):
    params = with_required(route, {known: value, "auther": "tolkien"})
    response = await client.get(paths[route], params=params)

    assert names_in(expect_error(response, 422)) == {"auther"}


@pytest.mark.parametrize(("route", "known", "value"), LISTINGS, ids=ROUTE_IDS)
async def test_every_unknown_parameter_is_named(client, paths, route, known, value):
    params = with_required(route, {"titel": "x", "sort_by": "y"})
    response = await client.get(paths[route], params=params)

    assert names_in(expect_error(response, 422)) == {"titel", "sort_by"}


@pytest.mark.parametrize(("route", "known", "value"), LISTINGS, ids=ROUTE_IDS)
async def test_the_known_parameters_alone_are_accepted(client, paths, route, known, value):
    response = await client.get(paths[route], params={known: value})

    assert response.status_code == 200, response.text


async def test_a_parameter_differing_only_in_case_is_unknown(client, paths):
    detail = expect_error(await client.get("/books", params={"Author": "tolkien"}), 422)

    assert names_in(detail) == {"Author"}


async def test_the_search_parameters_of_books_are_known(client, paths):
    # The first symptom: ?q=hobbit answered the whole catalog.
    params = {"q": "hobit", "sort": "title", "highlight": "true", "limit": "5"}
    response = await client.get("/books", params=params)

    assert response.status_code == 200, response.text
    assert [book["title"] for book in response.json()["items"]] == ["The Hobbit"]


async def test_sort_by_relevance_without_q_is_422_naming_sort(client, paths):
    detail = expect_error(await client.get("/books", params={"sort": "relevance"}), 422)

    assert names_in(detail) == {"sort"}
    assert "relevance needs q" in detail[0]["msg"]


async def test_highlight_without_q_is_422_naming_highlight(client, paths):
    # It answered the plain listing, ignoring highlight, where sort=relevance is a 422.
    detail = expect_error(await client.get("/books", params={"highlight": "true"}), 422)

    assert names_in(detail) == {"highlight"}
    assert "highlight needs q" in detail[0]["msg"]
    # Not asking for it is no error; with q it marks the title.
    response = await client.get("/books", params={"highlight": "false"})
    assert response.status_code == 200, response.text
    response = await client.get("/books", params={"highlight": "true", "q": "hobbit"})
    assert response.json()["items"][0]["title_highlight"] == "The <mark>Hobbit</mark>"


@pytest.mark.parametrize(("name", "value"), [("sort", "relevance"), ("highlight", "true")])
async def test_a_refused_q_is_named_alone_even_with_a_parameter_that_needs_q(
    client, paths, name, value
):
    response = await client.get("/books", params={"q": "   ", name: value})

    assert names_in(expect_error(response, 422)) == {"q"}


async def test_q_given_twice_is_422_not_the_last_one(client, paths):
    assert names_in(expect_error(await client.get("/books?q=hobbit&q=dune"), 422)) == {"q"}


@pytest.mark.parametrize(("route", "known", "value"), LISTINGS, ids=ROUTE_IDS)
async def test_a_single_valued_parameter_given_twice_is_422_naming_it(
    client, paths, route, known, value
):
    # Before, the last value won and the first was ignored without a word.
    response = await client.get(f"{paths[route]}?{known}={value}&{known}={value}")

    detail = expect_error(response, 422)
    assert detail == [
        {
            "type": "repeated_parameter",
            "loc": ["query", known],
            "msg": "Given more than once; give it once",
            "input": [value, value],
        }
    ]


async def test_two_different_values_of_one_filter_are_422_not_the_last_one(client, paths):
    response = await client.get("/books?author=tolkien&author=le+guin&category=a&category=b")

    # category may be repeated (several categories, issue 10); author may not.
    assert names_in(expect_error(response, 422)) == {"author"}


async def test_an_import_given_a_parameter_twice_or_unknown_is_422_and_writes_nothing(
    client, paths
):
    # The one route with query parameters that writes: read as FastAPI reads
    # them, ``dry_run=false`` after ``dry_run=true`` imported the file.
    before = await Book.count()
    for query in ("dry_run=true&dry_run=false", "format=csv&format=jsonl"):
        response = await client.post(
            f"/books/import?{query}",
            content=b"title,author\nDune,Frank Herbert\n",
            headers={"Content-Type": "text/csv"},
        )
        (error,) = expect_error(response, 422)
        assert error["type"] == "repeated_parameter"
        assert error["loc"] == ["query", query.split("=")[0]]
    unknown = await client.post(
        "/books/import?dry_run=true&dryrun=1",
        content=b"title,author\nDune,Frank Herbert\n",
        headers={"Content-Type": "text/csv"},
    )
    assert names_in(expect_error(unknown, 422)) == {"dryrun"}
    assert await Book.count() == before


async def test_routes_without_query_parameters_take_a_cache_buster(client, paths):
    # /books/{id}, /categories and /health take none; caches and proxies may add
    # their own (?_=1700000000) and those routes have nothing to get wrong. Any
    # other parameter is refused (test_search_as_a_customer.py), but by /health.
    assert (await client.get("/categories", params={"_": "1"})).status_code == 200
    assert (await client.get("/health", params={"_": "1", "x": "1"})).status_code == 200
