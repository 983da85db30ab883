"""/authors: author CRUD, the name search with its pagination, an author's books."""

from __future__ import annotations

import pytest
from factories import (
    LONE_SURROGATE,
    create_author,
    create_book,
    edit_cursor,
    expect_error,
    server_like_client,
    walk_pages,
)

from bookstore.schemas import INT4_MAX


def names(page: dict) -> list[str]:
    return [author["name"] for author in page["items"]]


# -- create and read ---------------------------------------------------------


async def test_creating_an_author_returns_it(client):
    response = await client.post("/authors", json={"name": "Mary Shelley", "bio": "1797-1851"})

    assert response.status_code == 201, response.text
    author = response.json()
    assert isinstance(author["id"], int)
    assert author == {"id": author["id"], "name": "Mary Shelley", "bio": "1797-1851"}


async def test_an_author_bio_is_optional(client):
    author = await create_author(client, "No Bio")

    assert author["bio"] is None


async def test_a_created_author_can_be_fetched_by_id(client):
    author = await create_author(client, "Octavia Butler")

    response = await client.get(f"/authors/{author['id']}")

    assert response.status_code == 200
    assert response.json() == author


async def test_an_author_name_of_200_characters_is_accepted(client):
    author = await create_author(client, "ñ" * 200)

    assert author["name"] == "ñ" * 200


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, None, "a\x00b"])
async def test_an_invalid_author_name_is_refused(client, name):
    expect_error(await client.post("/authors", json={"name": name}), 422)
    assert (await client.get("/authors")).json()["items"] == []


async def test_a_lone_surrogate_in_an_author_name_is_422_not_500(client, app):
    async with server_like_client(app) as http:
        response = await http.post(
            "/authors",
            content=f'{{"name": "a{LONE_SURROGATE}b"}}',
            headers={"content-type": "application/json"},
        )

    expect_error(response, 422)
    assert (await client.get("/authors")).json()["items"] == []


async def test_an_author_without_a_name_is_refused(client):
    expect_error(await client.post("/authors", json={"bio": "nameless"}), 422)


async def test_fetching_an_unknown_author_is_404(client):
    expect_error(await client.get("/authors/999999"), 404)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("author_id", ["abc", "0", "-1", str(INT4_MAX + 1)])
async def test_a_non_integer_or_out_of_range_author_id_is_422(client, method, author_id):
    kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}

    expect_error(await client.request(method, f"/authors/{author_id}", **kwargs), 422)


# -- update ------------------------------------------------------------------


async def test_patching_an_author_changes_only_the_given_fields(client):
    author = await create_author(client, "Old Name", bio="Keep me")

    response = await client.patch(f"/authors/{author['id']}", json={"name": "New Name"})

    assert response.status_code == 200, response.text
    assert response.json() == {"id": author["id"], "name": "New Name", "bio": "Keep me"}
    assert (await client.get(f"/authors/{author['id']}")).json() == response.json()


async def test_patching_an_author_bio_to_null_clears_it(client):
    author = await create_author(client, "Someone", bio="Remove me")

    response = await client.patch(f"/authors/{author['id']}", json={"bio": None})

    assert response.json() == {"id": author["id"], "name": "Someone", "bio": None}


async def test_patching_an_author_with_an_empty_body_changes_nothing(client):
    author = await create_author(client, "Unchanged", bio="b")

    response = await client.patch(f"/authors/{author['id']}", json={})

    assert response.status_code == 200
    assert response.json() == author


async def test_renaming_an_author_shows_in_their_books(client):
    author = await create_author(client, "Before")
    book = await create_book(client, author_id=author["id"])

    await client.patch(f"/authors/{author['id']}", json={"name": "After"})

    fetched = (await client.get(f"/books/{book['id']}")).json()
    assert fetched["author"] == {"id": author["id"], "name": "After"}


@pytest.mark.parametrize("body", [{"name": None}, {"name": ""}, {"name": "x" * 201}, {"x": 1}])
async def test_patching_an_author_with_an_invalid_body_is_refused(client, body):
    author = await create_author(client, "Stays")

    expect_error(await client.patch(f"/authors/{author['id']}", json=body), 422)
    assert (await client.get(f"/authors/{author['id']}")).json() == author


@pytest.mark.parametrize("body", [{"name": "x"}, {}])
async def test_patching_an_unknown_author_is_404(client, body):
    expect_error(await client.patch("/authors/999999", json=body), 404)


# -- delete ------------------------------------------------------------------


async def test_deleting_an_author_without_books_answers_204_and_then_it_is_404(client):
    author = await create_author(client)

    response = await client.delete(f"/authors/{author['id']}")

    assert response.status_code == 204
    expect_error(await client.get(f"/authors/{author['id']}"), 404)


async def test_deleting_an_author_with_books_is_refused(client):
    author = await create_author(client, "Prolific")
    book = await create_book(client, author_id=author["id"])

    detail = expect_error(await client.delete(f"/authors/{author['id']}"), 409)

    assert isinstance(detail, str)
    assert detail
    assert (await client.get(f"/authors/{author['id']}")).json() == author
    assert (await client.get(f"/books/{book['id']}")).status_code == 200


async def test_an_author_can_be_deleted_once_their_books_are_gone(client):
    author = await create_author(client)
    book = await create_book(client, author_id=author["id"])
    expect_error(await client.delete(f"/authors/{author['id']}"), 409)

    await client.delete(f"/books/{book['id']}")

    assert (await client.delete(f"/authors/{author['id']}")).status_code == 204


async def test_deleting_an_unknown_author_is_404(client):
    expect_error(await client.delete("/authors/999999"), 404)


# -- listing -----------------------------------------------------------------


async def test_an_empty_author_list(client):
    response = await client.get("/authors")

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_authors_are_listed_by_name_then_id(client):
    created = [await create_author(client, name) for name in ("Zola", "Austen", "Zola", "Eco")]

    page = (await client.get("/authors")).json()

    assert names(page) == ["Austen", "Eco", "Zola", "Zola"]
    assert [a["id"] for a in page["items"][2:]] == [created[0]["id"], created[2]["id"]]
    assert page["items"][0] == created[1]


async def test_the_author_list_page_size_defaults_to_20(client):
    for n in range(21):
        await create_author(client, f"Author {n:02}")

    page = (await client.get("/authors")).json()

    assert len(page["items"]) == 20
    assert page["next_cursor"] is not None


async def test_walking_author_pages_returns_everyone_once_in_name_id_order(client):
    for name in ("Eco", "Austen", "Eco", "Borges", "Eco", "Austen", "Calvino"):
        await create_author(client, name)
    everyone = (await client.get("/authors", params={"limit": 100})).json()["items"]
    expected = sorted(everyone, key=lambda a: (a["name"], a["id"]))

    for limit in (1, 2, 3):
        assert await walk_pages(client, "/authors", {}, limit) == expected, limit


async def test_the_name_filter_is_a_case_insensitive_substring(client):
    le_guin = await create_author(client, "Ursula K. Le Guin")
    await create_author(client, "Terry Pratchett")

    for term in ("guin", "URSULA", "k. le", "Ursula K. Le Guin"):
        page = (await client.get("/authors", params={"name": term})).json()
        assert page["items"] == [le_guin], term


async def test_percent_and_underscore_in_the_name_filter_are_literal(client):
    percent = await create_author(client, "100% Jones")
    underscore = await create_author(client, "snake_case")
    await create_author(client, "1000 Jones")
    await create_author(client, "snakeXcase")

    assert (await client.get("/authors", params={"name": "0% "})).json()["items"] == [percent]
    assert (await client.get("/authors", params={"name": "e_c"})).json()["items"] == [underscore]


async def test_walking_pages_of_a_name_search(client):
    for n in range(5):
        await create_author(client, f"Smith {n % 2}")
        await create_author(client, f"Jones {n}")

    walked = await walk_pages(client, "/authors", {"name": "smith"}, 2)

    assert names({"items": walked}) == ["Smith 0"] * 3 + ["Smith 1"] * 2
    assert [a["id"] for a in walked[:3]] == sorted(a["id"] for a in walked[:3])


@pytest.mark.parametrize("name", ["", "a\x00b", "x" * 201])
async def test_an_invalid_name_filter_is_422(client, name):
    expect_error(await client.get("/authors", params={"name": name}), 422)


@pytest.mark.parametrize("limit", ["0", "101", "abc"])
async def test_an_author_list_limit_outside_1_to_100_is_422(client, limit):
    expect_error(await client.get("/authors", params={"limit": limit}), 422)


async def _an_author_cursor(client, **params) -> str:
    for name in ("Alpha", "Beta", "Gamma"):
        await create_author(client, name)
    page = (await client.get("/authors", params={"limit": 1, **params})).json()
    assert page["next_cursor"]
    return page["next_cursor"]


@pytest.mark.parametrize("tamper", ["edit", "truncate", "garbage"])
async def test_a_tampered_author_cursor_is_422(client, tamper):
    cursor = await _an_author_cursor(client)
    bad = {"edit": edit_cursor(cursor), "truncate": cursor[:-2], "garbage": "garbage"}[tamper]

    expect_error(await client.get("/authors", params={"cursor": bad}), 422)


async def test_an_author_cursor_from_another_name_filter_is_422(client):
    cursor = await _an_author_cursor(client, name="a")

    expect_error(await client.get("/authors", params={"name": "m", "cursor": cursor}), 422)
    expect_error(await client.get("/authors", params={"cursor": cursor}), 422)


async def test_an_author_cursor_from_the_unfiltered_list_is_422_for_the_name_none(client):
    # The scope is f"authors:{name}": no filter and name="None" share it.
    for name in ("Alpha", "Beta", "None Such", "Nonet"):
        await create_author(client, name)
    cursor = (await client.get("/authors", params={"limit": 3})).json()["next_cursor"]

    response = await client.get("/authors", params={"name": "None", "cursor": cursor})

    expect_error(response, 422)


async def test_a_books_cursor_is_422_on_authors(client):
    author = await create_author(client)
    for n in range(2):
        await create_book(client, title=f"B{n}", author_id=author["id"])
    cursor = (await client.get("/books", params={"limit": 1})).json()["next_cursor"]

    expect_error(await client.get("/authors", params={"cursor": cursor}), 422)


# -- an author's books -------------------------------------------------------


async def test_an_authors_books_are_theirs_only_in_title_then_id_order(client):
    author = await create_author(client)
    created = [
        await create_book(client, title=title, author_id=author["id"])
        for title in ("Mort", "Eric", "Mort")
    ]
    await create_book(client, title="Someone Else's")

    response = await client.get(f"/authors/{author['id']}/books")

    assert response.status_code == 200
    page = response.json()
    assert page == {"items": [created[1], created[0], created[2]], "next_cursor": None}


async def test_an_authors_books_are_paginated_with_cursors(client):
    author = await create_author(client)
    ids = [
        (await create_book(client, title=f"T{n % 2}", author_id=author["id"]))["id"]
        for n in range(5)
    ]

    seen: list[dict] = []
    params: dict = {"limit": 2}
    while True:
        page = (await client.get(f"/authors/{author['id']}/books", params=params)).json()
        seen.extend(page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert sorted(b["id"] for b in seen) == sorted(ids)
    assert [(b["title"], b["id"]) for b in seen] == sorted((b["title"], b["id"]) for b in seen)


async def test_an_author_without_books_has_an_empty_book_list(client):
    author = await create_author(client)

    response = await client.get(f"/authors/{author['id']}/books")

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_the_books_of_an_unknown_author_are_404(client):
    expect_error(await client.get("/authors/999999/books"), 404)


@pytest.mark.parametrize("author_id", ["abc", "0", str(INT4_MAX + 1)])
async def test_the_books_of_an_invalid_author_id_are_422(client, author_id):
    expect_error(await client.get(f"/authors/{author_id}/books"), 422)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"cursor": "garbage"}])
async def test_bad_paging_of_an_authors_books_is_422(client, params):
    author = await create_author(client)

    expect_error(await client.get(f"/authors/{author['id']}/books", params=params), 422)


async def test_an_authors_books_cursor_from_another_author_is_422(client):
    first = await create_author(client)
    second = await create_author(client)
    for author in (first, second):
        for n in range(2):
            await create_book(client, title=f"B{n}", author_id=author["id"])
    cursor = (await client.get(f"/authors/{first['id']}/books", params={"limit": 1})).json()[
        "next_cursor"
    ]

    response = await client.get(f"/authors/{second['id']}/books", params={"cursor": cursor})

    expect_error(response, 422)
