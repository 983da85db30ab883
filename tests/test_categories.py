"""/categories: category CRUD, slugs, uniqueness, a category's books."""

from __future__ import annotations

import pytest
from factories import (
    LONE_SURROGATE,
    create_book,
    create_category,
    expect_error,
    server_like_client,
)

from bookstore.schemas import INT4_MAX

# -- create and read ---------------------------------------------------------


async def test_creating_a_category_returns_it(client):
    response = await client.post(
        "/categories", json={"name": "Poetry", "slug": "verse", "description": "Rhymes"}
    )

    assert response.status_code == 201, response.text
    category = response.json()
    assert isinstance(category["id"], int)
    assert category == {
        "id": category["id"],
        "name": "Poetry",
        "slug": "verse",
        "description": "Rhymes",
    }


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Science Fiction", "science-fiction"),
        ("Science Fiction & Fantasy", "science-fiction-fantasy"),
        ("  Crime  ", "crime"),
        ("Littérature Française", "litterature-francaise"),
        ("90s Kids", "90s-kids"),
        ("Children's", "childrens"),
        # Spelled out as the search folds them; NFKD keeps them whole, and
        # "Ærø Œnology" was "r-nology".
        ("Ærø Œnology & Straße", "aero-oenology-strasse"),
        ("Łódź Noir", "lodz-noir"),
    ],
)
async def test_the_slug_is_derived_from_the_name_when_not_given(client, name, slug):
    category = await create_category(client, name)

    assert category["slug"] == slug
    assert category["description"] is None


@pytest.mark.parametrize("slug", ["Bad Slug", "UPPER", "trailing-", "-leading", "a--b", "ü"])
async def test_an_explicit_invalid_slug_is_refused(client, slug):
    response = await client.post("/categories", json={"name": "Anything", "slug": slug})

    expect_error(response, 422)
    assert (await client.get("/categories")).json()["items"] == []


async def test_a_name_no_slug_can_be_derived_from_is_refused_without_a_slug(client):
    expect_error(await client.post("/categories", json={"name": "!!!"}), 422)


async def test_a_name_no_slug_can_be_derived_from_is_accepted_with_a_slug(client):
    category = await create_category(client, "!!!", slug="bangs")

    assert category["slug"] == "bangs"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, None, "a\x00b"])
async def test_an_invalid_category_name_is_refused(client, name):
    expect_error(await client.post("/categories", json={"name": name, "slug": "ok"}), 422)


async def test_a_lone_surrogate_in_a_category_name_is_422_not_500(client, app):
    async with server_like_client(app) as http:
        response = await http.post(
            "/categories",
            content=f'{{"name": "a{LONE_SURROGATE}b", "slug": "ok"}}',
            headers={"content-type": "application/json"},
        )

    expect_error(response, 422)
    assert (await client.get("/categories")).json()["items"] == []


async def test_a_category_name_of_100_characters_is_accepted(client):
    category = await create_category(client, "x" * 100)

    assert category["name"] == "x" * 100


async def test_a_duplicate_category_name_is_409(client):
    await create_category(client, "Fantasy")

    response = await client.post("/categories", json={"name": "Fantasy", "slug": "other"})

    expect_error(response, 409)
    assert len((await client.get("/categories")).json()["items"]) == 1


async def test_a_category_name_differing_only_in_case_is_a_duplicate(client):
    await create_category(client, "Fantasy")

    response = await client.post("/categories", json={"name": "FANTASY", "slug": "fantasy-2"})

    expect_error(response, 409)
    assert len((await client.get("/categories")).json()["items"]) == 1


async def test_a_duplicate_slug_is_409(client):
    await create_category(client, "Science Fiction")

    response = await client.post("/categories", json={"name": "Sci-Fi", "slug": "science-fiction"})

    expect_error(response, 409)


async def test_a_derived_slug_that_is_taken_is_409(client):
    await create_category(client, "Science Fiction")

    expect_error(await client.post("/categories", json={"name": "Science  Fiction!"}), 409)


async def test_fetching_a_category_by_id(client):
    category = await create_category(client, "History")

    response = await client.get(f"/categories/{category['id']}")

    assert response.status_code == 200
    assert response.json() == category


async def test_fetching_an_unknown_category_is_404(client):
    expect_error(await client.get("/categories/999999"), 404)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("category_id", ["abc", "0", "-1", str(INT4_MAX + 1)])
async def test_a_non_integer_or_out_of_range_category_id_is_422(client, method, category_id):
    kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}

    expect_error(await client.request(method, f"/categories/{category_id}", **kwargs), 422)


async def test_all_categories_are_listed_by_name(client):
    for name in ("Poetry", "Art", "History", "Drama"):
        await create_category(client, name)

    response = await client.get("/categories")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["items"]
    assert [c["name"] for c in body["items"]] == ["Art", "Drama", "History", "Poetry"]
    assert set(body["items"][0]) == {"id", "name", "slug", "description"}


async def test_the_category_list_is_not_paged(client):
    for n in range(120):
        await create_category(client, f"Genre {n:03}")

    items = (await client.get("/categories")).json()["items"]

    assert len(items) == 120


# -- update ------------------------------------------------------------------


async def test_patching_a_category_changes_only_the_given_fields(client):
    category = await create_category(client, "Old", slug="old", description="Keep")

    response = await client.patch(f"/categories/{category['id']}", json={"name": "New"})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": category["id"],
        "name": "New",
        "slug": "old",
        "description": "Keep",
    }
    assert (await client.get(f"/categories/{category['id']}")).json() == response.json()


async def test_patching_a_category_slug(client):
    category = await create_category(client, "Crime")

    response = await client.patch(f"/categories/{category['id']}", json={"slug": "noir"})

    assert response.json()["slug"] == "noir"
    assert response.json()["name"] == "Crime"


async def test_renaming_a_category_shows_in_its_books(client):
    category = await create_category(client, "Before", slug="before")
    book = await create_book(client, category_ids=[category["id"]])

    await client.patch(f"/categories/{category['id']}", json={"name": "After", "slug": "after"})

    fetched = (await client.get(f"/books/{book['id']}")).json()
    assert fetched["categories"] == [{"id": category["id"], "name": "After", "slug": "after"}]


async def test_patching_a_category_to_a_taken_name_is_409(client):
    await create_category(client, "Taken")
    category = await create_category(client, "Free")

    response = await client.patch(f"/categories/{category['id']}", json={"name": "tAkEn"})

    expect_error(response, 409)
    assert (await client.get(f"/categories/{category['id']}")).json() == category


async def test_patching_a_category_to_a_taken_slug_is_409(client):
    await create_category(client, "Taken")
    category = await create_category(client, "Free")

    response = await client.patch(f"/categories/{category['id']}", json={"slug": "taken"})

    expect_error(response, 409)


async def test_patching_a_category_to_a_different_case_of_its_own_name_works(client):
    category = await create_category(client, "scifi")

    response = await client.patch(f"/categories/{category['id']}", json={"name": "SciFi"})

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "SciFi"


@pytest.mark.parametrize(
    "body",
    [{"name": None}, {"slug": None}, {"name": ""}, {"slug": "Bad Slug"}, {"name": "x" * 101}],
)
async def test_patching_a_category_with_an_invalid_body_is_refused(client, body):
    category = await create_category(client, "Stays")

    expect_error(await client.patch(f"/categories/{category['id']}", json=body), 422)
    assert (await client.get(f"/categories/{category['id']}")).json() == category


@pytest.mark.parametrize("body", [{"name": "x"}, {}])
async def test_patching_an_unknown_category_is_404(client, body):
    expect_error(await client.patch("/categories/999999", json=body), 404)


# -- delete ------------------------------------------------------------------


async def test_deleting_an_empty_category_answers_204_and_then_it_is_404(client):
    category = await create_category(client)

    response = await client.delete(f"/categories/{category['id']}")

    assert response.status_code == 204
    expect_error(await client.get(f"/categories/{category['id']}"), 404)


async def test_deleting_a_category_with_books_is_refused(client):
    category = await create_category(client, "In Use")
    book = await create_book(client, category_ids=[category["id"]])

    detail = expect_error(await client.delete(f"/categories/{category['id']}"), 409)

    assert isinstance(detail, str)
    assert (await client.get(f"/categories/{category['id']}")).json() == category
    assert (await client.get(f"/books/{book['id']}")).json()["categories"] == book["categories"]


async def test_a_category_can_be_deleted_once_no_book_is_in_it(client):
    category = await create_category(client)
    book = await create_book(client, category_ids=[category["id"]])

    await client.patch(f"/books/{book['id']}", json={"category_ids": []})

    assert (await client.delete(f"/categories/{category['id']}")).status_code == 204


async def test_deleting_an_unknown_category_is_404(client):
    expect_error(await client.delete("/categories/999999"), 404)


# -- a category's books ------------------------------------------------------


async def test_a_categorys_books_are_listed_in_title_then_id_order(client):
    category = await create_category(client)
    other = await create_category(client)
    created = [
        await create_book(client, title=title, category_ids=[category["id"]])
        for title in ("Zed", "Alpha", "Zed")
    ]
    await create_book(client, title="Elsewhere", category_ids=[other["id"]])
    await create_book(client, title="Nowhere")

    response = await client.get(f"/categories/{category['id']}/books")

    assert response.status_code == 200
    assert response.json() == {
        "items": [created[1], created[0], created[2]],
        "next_cursor": None,
    }


async def test_a_categorys_books_are_paginated_with_cursors(client):
    category = await create_category(client)
    ids = [
        (await create_book(client, title="Same", category_ids=[category["id"]]))["id"]
        for _ in range(5)
    ]

    seen: list[int] = []
    params: dict = {"limit": 2}
    while True:
        response = await client.get(f"/categories/{category['id']}/books", params=params)
        page = response.json()
        seen.extend(b["id"] for b in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert seen == sorted(ids)


async def test_an_empty_category_has_an_empty_book_list(client):
    category = await create_category(client)

    response = await client.get(f"/categories/{category['id']}/books")

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_the_books_of_an_unknown_category_are_404(client):
    expect_error(await client.get("/categories/999999/books"), 404)


@pytest.mark.parametrize("category_id", ["abc", "0", str(INT4_MAX + 1)])
async def test_the_books_of_an_invalid_category_id_are_422(client, category_id):
    expect_error(await client.get(f"/categories/{category_id}/books"), 422)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"cursor": "garbage"}])
async def test_bad_paging_of_a_categorys_books_is_422(client, params):
    category = await create_category(client)

    expect_error(await client.get(f"/categories/{category['id']}/books", params=params), 422)
