"""Storefront browsing (issue 10): several categories, ranges, sorts and their cursors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from factories import (
    create_author,
    create_book,
    create_category,
    expect_error,
    record_statements,
    walk_pages,
)

from bookstore.tables import Book

SORTS = [
    "title",
    "-title",
    "published_year",
    "-published_year",
    "price",
    "-price",
    "created_at",
    "-created_at",
]


def ids(items: list[dict]) -> list[int]:
    return [item["id"] for item in items]


def names_in(detail: list[dict]) -> set[str]:
    return {error["loc"][1] for error in detail if len(error["loc"]) > 1}


def expected_order(books: list[dict], sort: str) -> list[int]:
    """The ids of ``books`` in ``sort``: without the value last, ties by id (sort's direction)."""
    field = sort.removeprefix("-")
    descending = sort.startswith("-")

    def value(book: dict) -> Any:
        raw = book[field]
        return Decimal(raw) if field == "price" and raw is not None else raw

    with_value = sorted(
        (book for book in books if value(book) is not None),
        key=lambda book: (value(book), book["id"]),
        reverse=descending,
    )
    without = sorted(
        (book for book in books if value(book) is None),
        key=lambda book: book["id"],
        reverse=descending,
    )
    return ids(with_value + without)


@pytest.fixture
async def shelf(client) -> dict[str, Any]:
    """Twenty-four books in three categories, with ties, and some without price or year."""
    fantasy = await create_category(client, "Fantasy")
    horror = await create_category(client, "Horror")
    poetry = await create_category(client, "Poetry")
    author = await create_author(client, "Ada Writer")
    other = await create_author(client, "Bo Scribe")
    books = []
    for n in range(24):
        categories = [
            c["id"]
            for c, member in (
                (fantasy, n % 2 == 0),
                (horror, n % 3 == 0),
                (poetry, n % 5 == 0),
            )
            if member
        ]
        books.append(
            await create_book(
                client,
                title=f"Title {n % 7}",  # ties on title
                author_id=(author if n % 4 else other)["id"],
                category_ids=categories,
                published_year=None if n % 6 == 5 else 1950 + (n % 5) * 10,
                price=None if n % 8 == 7 else f"{5 + (n % 4) * 5}.00",
            )
        )
    return {
        "books": books,
        "fantasy": fantasy,
        "horror": horror,
        "poetry": poetry,
        "author": author,
        "other": other,
    }


def in_category(book: dict, category: dict) -> bool:
    return category["id"] in {c["id"] for c in book["categories"]}


# -- several categories ----------------------------------------------------------------


async def test_repeated_categories_list_books_in_any_of_them_by_default(client, shelf):
    fantasy, horror = shelf["fantasy"], shelf["horror"]

    found = await walk_pages(client, "/books", {"category": ["fantasy", "Horror"]}, 5)

    expected = [b for b in shelf["books"] if in_category(b, fantasy) or in_category(b, horror)]
    assert ids(found) == expected_order(expected, "title")


async def test_category_mode_all_lists_books_in_every_category(client, shelf):
    fantasy, horror = shelf["fantasy"], shelf["horror"]

    found = await walk_pages(
        client,
        "/books",
        {"category_id": [fantasy["id"], horror["id"]], "category_mode": "all"},
        2,
    )

    expected = [b for b in shelf["books"] if in_category(b, fantasy) and in_category(b, horror)]
    assert expected and ids(found) == expected_order(expected, "title")


@pytest.mark.parametrize("merged", [True, False])
async def test_category_mode_all_merged_or_probed_lists_every_book_once(
    client, shelf, monkeypatch, merged
):
    """Categories of comparable sizes are read side by side (``books_in_every_category``),
    others walked and probed: the same books, pages and cursors either way."""
    from bookstore.catalog import listing

    await Book.raw("ANALYZE books, book_category")
    listing.stats_cache.clear()
    monkeypatch.setattr(listing, "MERGE_SIZE_RATIO", 1e9 if merged else 0.0)
    statements = record_statements(monkeypatch)
    fantasy, horror, poetry = shelf["fantasy"], shelf["horror"], shelf["poetry"]
    asked = [
        ({"category_id": [fantasy["id"], horror["id"]]}, [fantasy, horror], None),
        (
            {"category_id": [poetry["id"], fantasy["id"], horror["id"]]},
            [poetry, fantasy, horror],
            None,
        ),
        (
            {"category": ["horror", "fantasy"], "price_min": "10", "year_max": 1980},
            [fantasy, horror],
            (10, 1980),
        ),
    ]

    for params, categories, ranges in asked:
        found = await walk_pages(
            client, "/books", {**params, "category_mode": "all"}, 1 if merged else 2
        )

        expected = [
            b
            for b in shelf["books"]
            if all(in_category(b, c) for c in categories)
            and (
                ranges is None
                or (
                    b["price"] is not None
                    and Decimal(b["price"]) >= ranges[0]
                    and b["published_year"] is not None
                    and b["published_year"] <= ranges[1]
                )
            )
        ]
        assert expected and ids(found) == expected_order(expected, "title"), params
    calls = sum("books_in_every_category" in s.sql for s in statements)
    assert (calls > 0) is merged


async def test_category_and_category_id_name_one_list_of_categories(client, shelf):
    fantasy, poetry = shelf["fantasy"], shelf["poetry"]
    params = {"category": "fantasy", "category_id": poetry["id"]}

    any_of = await walk_pages(client, "/books", params, 100)
    all_of = await walk_pages(client, "/books", {**params, "category_mode": "all"}, 100)

    books = shelf["books"]
    assert ids(any_of) == expected_order(
        [b for b in books if in_category(b, fantasy) or in_category(b, poetry)], "title"
    )
    assert ids(all_of) == expected_order(
        [b for b in books if in_category(b, fantasy) and in_category(b, poetry)], "title"
    )


async def test_an_unknown_category_among_others(client, shelf):
    any_of = await client.get("/books", params={"category": ["fantasy", "no-such"]})
    all_of = await client.get(
        "/books", params={"category": ["fantasy", "no-such"], "category_mode": "all"}
    )

    assert len(any_of.json()["items"]) == 12
    assert all_of.json() == {"items": [], "next_cursor": None}


async def test_a_category_listed_again_is_one_statement(client, shelf, monkeypatch):
    """Its slug's lookup is kept, and the page's statement confirms it (the version)."""
    await client.get("/books", params={"category": "fantasy", "price_max": "15"})
    statements = record_statements(monkeypatch)

    again = await client.get("/books", params={"category": "fantasy", "price_max": "10"})

    assert ids(again.json()["items"]) == expected_order(
        [
            b
            for b in shelf["books"]
            if in_category(b, shelf["fantasy"]) and b["price"] and Decimal(b["price"]) <= 10
        ],
        "title",
    )
    (page,) = [s for s in statements if "search_log" not in s.sql]
    assert "catalog_version" in page.sql


async def test_a_category_slug_moved_in_sql_is_listed_at_once(client, shelf, monkeypatch):
    """A kept lookup does not outlive a write made behind the service's back."""
    fantasy, horror = shelf["fantasy"], shelf["horror"]
    before = await client.get("/books", params={"category": "fantasy", "limit": 50})
    assert set(ids(before.json()["items"])) == {
        b["id"] for b in shelf["books"] if in_category(b, fantasy)
    }
    await Book.raw(
        "UPDATE categories SET slug = 'was-fantasy', name = 'Was' WHERE id = {}", fantasy["id"]
    )
    await Book.raw("UPDATE categories SET slug = 'fantasy' WHERE id = {}", horror["id"])
    statements = record_statements(monkeypatch)

    # Another page size: not an answer the response cache kept.
    after = await client.get("/books", params={"category": "fantasy", "limit": 49})

    assert set(ids(after.json()["items"])) == {
        b["id"] for b in shelf["books"] if in_category(b, horror)
    }
    # The page read with the kept lookup, refused (another version); both
    # again, and the categories' names read at the new version.
    assert len([s for s in statements if "search_log" not in s.sql]) == 4


async def test_a_category_renamed_in_sql_is_shown_renamed_at_once(client, shelf):
    """A listing shows its books' categories by names kept per catalog version
    (``category_names``): a rename moves the version, and the next page shows
    the new name, in the new name's place among the book's categories."""
    fantasy, horror, poetry = shelf["fantasy"], shelf["horror"], shelf["poetry"]
    before = await client.get("/books", params={"category": "poetry"})
    in_three = [b for b in before.json()["items"] if len(b["categories"]) == 3]
    assert in_three
    assert [c["name"] for c in in_three[0]["categories"]] == ["Fantasy", "Horror", "Poetry"]

    await Book.raw("UPDATE categories SET name = 'Ballads' WHERE id = {}", poetry["id"])
    after = await client.get("/books", params={"category": "poetry", "limit": 19})

    shown = {b["id"]: b["categories"] for b in after.json()["items"]}
    assert shown[in_three[0]["id"]] == [
        {"id": poetry["id"], "name": "Ballads", "slug": poetry["slug"]},
        {"id": fantasy["id"], "name": "Fantasy", "slug": fantasy["slug"]},
        {"id": horror["id"], "name": "Horror", "slug": horror["slug"]},
    ]


async def test_names_read_for_the_category_facet_show_the_next_pages_categories(
    client, shelf, monkeypatch
):
    """The facets and the listings keep one set of names per catalog version
    (``category_names``). An empty page reads none; its category facet reads
    them with the counts, in the order a book shows its categories, and the
    next page shows them without another read."""
    fantasy, horror, poetry = shelf["fantasy"], shelf["horror"], shelf["poetry"]
    empty = await create_category(client, "Empty")
    await Book.raw("UPDATE categories SET name = 'Ballads' WHERE id = {}", poetry["id"])
    faceted = await client.get(
        "/books", params={"category": empty["slug"], "facets": "category,decade"}
    )
    assert faceted.json()["items"] == []
    assert "Ballads" in [value["name"] for value in faceted.json()["facets"]["category"]]

    statements = record_statements(monkeypatch)
    page = await client.get("/books", params={"category": "poetry", "limit": 17})

    assert not [s.sql for s in statements if "catalog_version v LEFT JOIN categories" in s.sql]
    in_three = [b for b in page.json()["items"] if len(b["categories"]) == 3]
    assert in_three
    assert in_three[0]["categories"] == [
        {"id": poetry["id"], "name": "Ballads", "slug": poetry["slug"]},
        {"id": fantasy["id"], "name": "Fantasy", "slug": fantasy["slug"]},
        {"id": horror["id"], "name": "Horror", "slug": horror["slug"]},
    ]


async def test_names_read_for_a_page_serve_the_category_facet(client, shelf, monkeypatch):
    """The other way: the facets' statement asks for no names when a page of
    the same version has read them."""
    await Book.raw("UPDATE categories SET name = 'Ballads' WHERE id = {}", shelf["poetry"]["id"])
    await client.get("/books", params={"category": "horror"})
    version = (await Book.raw("SELECT version FROM catalog_version"))[0]["version"]

    statements = record_statements(monkeypatch)
    faceted = await client.get(
        "/books", params={"category": "horror", "facets": "category,decade", "limit": 7}
    )

    names = [value["name"] for value in faceted.json()["facets"]["category"]]
    assert "Ballads" in names
    asked = [s for s in statements if "FROM categories WHERE" in " ".join(s.sql.split())]
    assert asked and all(s.args[-1] == version for s in asked), asked


# -- ranges ---------------------------------------------------------------------------------


async def test_year_and_price_ranges_are_inclusive_and_exclude_missing_values(client, shelf):
    params = {"year_min": 1960, "year_max": 1980, "price_min": "10", "price_max": 15}

    found = await walk_pages(client, "/books", params, 3)

    expected = [
        b
        for b in shelf["books"]
        if b["published_year"] is not None
        and 1960 <= b["published_year"] <= 1980
        and b["price"] is not None
        and Decimal("10") <= Decimal(b["price"]) <= Decimal("15")
    ]
    assert expected and ids(found) == expected_order(expected, "title")


async def test_an_open_range_keeps_only_books_with_the_value(client, shelf):
    found = await walk_pages(client, "/books", {"price_min": "0"}, 100)

    assert ids(found) == expected_order(
        [b for b in shelf["books"] if b["price"] is not None], "title"
    )


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"year_min": 2000, "year_max": 1990}, "year_max"),
        ({"price_min": "20", "price_max": "9.99"}, "price_max"),
        ({"price_min": "abc"}, "price_min"),
        ({"price_max": "-1"}, "price_max"),
        ({"price_min": "1.005"}, "price_min"),
        ({"price_min": "NaN"}, "price_min"),
        ({"year_min": "1990.5"}, "year_min"),
        ({"year_max": 99999}, "year_max"),
        ({"sort": "rating"}, "sort"),
        ({"sort": "relevance"}, "sort"),
        ({"sort": ["price", "title"]}, "sort"),
        ({"category_mode": "some"}, "category_mode"),
        ({"category": ["fantasy"] * 1000}, "category"),
        ({"category_id": list(range(1, 1001))}, "category_id"),
        ({"category_id": "x"}, "category_id"),
        ({"facets": "category,colour"}, "facets"),
        ({"facet_limit": 0}, "facet_limit"),
        ({"facet_limit": 101}, "facet_limit"),
        ({"with_total": "maybe"}, "with_total"),
    ],
)
async def test_bad_browsing_input_is_a_422_naming_the_parameter(client, params, name):
    detail = expect_error(await client.get("/books", params=params), 422)

    assert name in names_in(detail), detail


async def test_a_min_equal_to_the_max_is_one_value(client, shelf):
    found = await walk_pages(client, "/books", {"price_min": "10", "price_max": "10.00"}, 100)

    assert ids(found) == expected_order(
        [b for b in shelf["books"] if b["price"] == "10.00"], "title"
    )


# -- sorts and their cursors ----------------------------------------------------------------


@pytest.mark.parametrize("sort", SORTS)
async def test_each_sort_walks_every_book_once_in_order(client, shelf, sort):
    found = await walk_pages(client, "/books", {"sort": sort}, 4)

    assert ids(found) == expected_order(shelf["books"], sort)


@pytest.mark.parametrize("sort", ["price", "-published_year", "-created_at", "-title"])
async def test_each_sort_combines_with_categories_ranges_and_an_author(client, shelf, sort):
    fantasy, horror, author = shelf["fantasy"], shelf["horror"], shelf["author"]
    base = {"category": ["fantasy", "horror"], "price_max": "15", "sort": sort}

    by_category = await walk_pages(client, "/books", base, 3)
    by_author = await walk_pages(client, "/books", {**base, "author_id": author["id"]}, 2)
    of_author = await walk_pages(
        client, f"/authors/{author['id']}/books", {"price_max": "15", "sort": sort}, 2
    )
    of_category = await walk_pages(
        client, f"/categories/{fantasy['id']}/books", {"price_max": "15", "sort": sort}, 2
    )

    def cheap(book: dict) -> bool:
        return book["price"] is not None and Decimal(book["price"]) <= 15

    matching = [
        b
        for b in shelf["books"]
        if cheap(b) and (in_category(b, fantasy) or in_category(b, horror))
    ]
    assert ids(by_category) == expected_order(matching, sort)
    assert ids(by_author) == expected_order(
        [b for b in matching if b["author"]["id"] == author["id"]], sort
    )
    assert ids(of_author) == expected_order(
        [b for b in shelf["books"] if cheap(b) and b["author"]["id"] == author["id"]], sort
    )
    assert ids(of_category) == expected_order(
        [b for b in shelf["books"] if cheap(b) and in_category(b, fantasy)], sort
    )


async def test_an_author_fragment_combines_with_a_sort(client, shelf):
    found = await walk_pages(client, "/books", {"author": "scribe", "sort": "-price"}, 2)

    assert ids(found) == expected_order(
        [b for b in shelf["books"] if b["author"]["id"] == shelf["other"]["id"]], "-price"
    )


@pytest.mark.parametrize("sort", ["price", "-price", "published_year", "-published_year"])
async def test_walking_all_pages_while_books_are_added_returns_every_book_once(
    client, shelf, sort
):
    first = await client.get("/books", params={"sort": sort, "limit": 5})
    page = first.json()
    seen = ids(page["items"])
    added = []
    while page["next_cursor"] is not None:
        # A book sorted before the cursor, one after it, one without a value.
        added.append(await create_book(client, title="Added", price="1.00", published_year=1900))
        added.append(await create_book(client, title="Added", price="99.00", published_year=2099))
        added.append(await create_book(client, title="Added"))
        response = await client.get(
            "/books", params={"sort": sort, "limit": 5, "cursor": page["next_cursor"]}
        )
        page = response.json()
        seen += ids(page["items"])

    assert len(seen) == len(set(seen))
    assert set(ids(shelf["books"])) <= set(seen)
    everything = await walk_pages(client, "/books", {"sort": sort}, 100)
    assert ids(everything) == expected_order(shelf["books"] + added, sort)


async def test_a_cursor_reused_with_another_sort_is_refused(client, shelf):
    page = (await client.get("/books", params={"sort": "price", "limit": 2})).json()

    for sort in ("-price", "title", "published_year"):
        response = await client.get(
            "/books", params={"sort": sort, "limit": 2, "cursor": page["next_cursor"]}
        )
        assert "cursor" in str(expect_error(response, 422))


async def test_a_cursor_reused_with_other_filters_is_refused(client, shelf):
    params = {"sort": "-price", "limit": 2, "category": ["fantasy", "horror"]}
    page = (await client.get("/books", params=params)).json()

    for changed in (
        {"category": ["fantasy"]},
        {"category_mode": "all"},
        {"price_min": "1"},
        {"year_max": 2000},
    ):
        response = await client.get(
            "/books", params={**params, **changed, "cursor": page["next_cursor"]}
        )
        expect_error(response, 422)


async def test_a_book_without_a_price_in_the_middle_of_a_walk_continues(client, shelf):
    # The page ends among the books without a price: the cursor holds no value.
    priced = sum(1 for b in shelf["books"] if b["price"] is not None)
    first = (await client.get("/books", params={"sort": "price", "limit": priced + 1})).json()
    assert first["items"][-1]["price"] is None

    rest = await client.get(
        "/books", params={"sort": "price", "limit": 100, "cursor": first["next_cursor"]}
    )

    assert ids(first["items"]) + ids(rest.json()["items"]) == expected_order(
        shelf["books"], "price"
    )


# -- with the search box ---------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["price", "-published_year", "created_at"])
async def test_q_combines_with_ranges_categories_and_sorts(client, shelf, sort):
    params = {"q": "title", "category": ["fantasy", "poetry"], "year_min": 1960, "sort": sort}

    found = await walk_pages(client, "/books", params, 2)

    fantasy, poetry = shelf["fantasy"], shelf["poetry"]
    expected = [
        b
        for b in shelf["books"]
        if (in_category(b, fantasy) or in_category(b, poetry))
        and b["published_year"] is not None
        and b["published_year"] >= 1960
    ]
    assert expected and ids(found) == expected_order(expected, sort)


async def test_q_with_a_price_range_by_relevance(client, shelf):
    found = await walk_pages(client, "/books", {"q": "title", "price_max": "5"}, 3)

    assert sorted(ids(found)) == sorted(
        b["id"] for b in shelf["books"] if b["price"] is not None and Decimal(b["price"]) <= 5
    )


# -- the copies on book_category stay right ---------------------------------------------------


async def test_a_changed_price_or_year_moves_the_book_in_its_categories(client, shelf):
    fantasy = shelf["fantasy"]
    book = next(b for b in shelf["books"] if in_category(b, fantasy))

    response = await client.patch(
        f"/books/{book['id']}", json={"price": "0.50", "published_year": 2099}
    )
    assert response.status_code == 200, response.text

    by_price = (await client.get("/books", params={"category": "fantasy", "sort": "price"})).json()
    by_year = await client.get(
        "/books", params={"category": "fantasy", "sort": "-published_year", "year_min": 2099}
    )
    assert by_price["items"][0]["id"] == book["id"]
    assert ids(by_year.json()["items"]) == [book["id"]]
    rows = await Book.raw(
        "SELECT count(*) AS stale FROM book_category bc JOIN books b ON b.id = bc.book_id"
        " WHERE bc.book_price IS DISTINCT FROM b.price"
        " OR bc.book_year IS DISTINCT FROM b.published_year"
        " OR bc.book_created_at IS DISTINCT FROM b.created_at"
    )
    assert rows[0]["stale"] == 0


@pytest.mark.parametrize(
    "listing",
    [
        ("/books", {}),
        ("/books", {"category": "fantasy"}),
        ("/categories/{fantasy}/books", {}),
        ("/authors/{author}/books", {}),
    ],
    ids=["books", "books-in-a-category", "category", "author"],
)
async def test_a_cursor_issued_before_the_sorts_continues_the_title_order(
    app, client, shelf, listing
):
    # Before issue 10 a cursor was signed for the filters alone (title order
    # only); a shopper paging across the deploy keeps paging.
    import json

    from bookstore.pagination import encode_values

    path, params = listing
    path = path.format(fantasy=shelf["fantasy"]["id"], author=shelf["author"]["id"])
    first = (await client.get(path, params={**params, "limit": 3})).json()
    last = first["items"][-1]
    category_id = shelf["fantasy"]["id"] if "categories" in path else None
    author_id = shelf["author"]["id"] if "authors" in path else None
    old_scope = json.dumps(["books", None, params.get("category"), author_id, category_id])
    old_cursor = encode_values(
        [last["title"], last["id"]], scope=old_scope, secret=app.state.cursor_secret
    )

    response = await client.get(path, params={**params, "limit": 3, "cursor": old_cursor})
    again = await client.get(path, params={**params, "limit": 3, "cursor": first["next_cursor"]})

    assert response.status_code == 200, response.text
    assert response.json()["items"] == again.json()["items"]
    # Only the title order: another sort has no cursors from before.
    other = await client.get(
        path, params={**params, "limit": 3, "sort": "price", "cursor": old_cursor}
    )
    assert other.status_code == 422


# -- facets and totals ---------------------------------------------------------------------


def decade(year: int) -> int:
    return year // 10 * 10


async def test_with_total_is_exact_for_a_small_set(client, shelf):
    page = (
        await client.get("/books", params={"category": "fantasy", "with_total": "true"})
    ).json()

    assert page["total"] == 12
    assert page["total_is_estimate"] is False
    assert "facets" not in page


async def test_without_with_total_there_is_no_total(client, shelf):
    page = (await client.get("/books", params={"category": "fantasy"})).json()

    assert set(page) == {"items", "next_cursor"}


async def test_facets_count_the_matching_books_each_ignoring_its_own_filter(client, shelf):
    params = {
        "category": "fantasy",
        "price_max": "15",
        "facets": "category,author,decade,price_band",
        "with_total": "true",
    }

    page = (await client.get("/books", params=params)).json()

    books = shelf["books"]
    fantasy = shelf["fantasy"]

    def cheap(book: dict) -> bool:
        return book["price"] is not None and Decimal(book["price"]) <= 15

    matching = [b for b in books if in_category(b, fantasy) and cheap(b)]
    assert page["total"] == len(matching)
    assert page["facets_is_estimate"] is False
    facets = page["facets"]
    # Categories: every cheap book, whatever its categories.
    expected_categories: dict[int, int] = {}
    for book in books:
        if cheap(book):
            for category in book["categories"]:
                expected_categories[category["id"]] = (
                    expected_categories.get(category["id"], 0) + 1
                )
    assert {c["id"]: c["count"] for c in facets["category"]} == expected_categories
    assert facets["category"][0] == {
        "id": fantasy["id"],
        "name": "Fantasy",
        "slug": "fantasy",
        "count": expected_categories[fantasy["id"]],
    }
    counts = [c["count"] for c in facets["category"]]
    assert counts == sorted(counts, reverse=True)
    # Price bands: the fantasy books, whatever their price (those without none).
    in_fantasy = [b for b in books if in_category(b, fantasy)]
    bands: dict[str, int] = {}
    for book in in_fantasy:
        if book["price"] is not None:
            low = next(
                edge for edge in ("15", "10", "5", "0") if Decimal(book["price"]) >= Decimal(edge)
            )
            bands[low] = bands.get(low, 0) + 1
    assert {Decimal(b["min"]): b["count"] for b in facets["price_band"]} == {
        Decimal(low): count for low, count in bands.items()
    }
    five = next(b for b in facets["price_band"] if b["min"] == "5.00")
    assert five["max"] == "10.00"
    # Decades and authors: the matching books.
    decades: dict[int, int] = {}
    for book in matching:
        if book["published_year"] is not None:
            key = decade(book["published_year"])
            decades[key] = decades.get(key, 0) + 1
    assert {d["value"]: d["count"] for d in facets["decade"]} == decades
    authors: dict[int, int] = {}
    for book in matching:
        authors[book["author"]["id"]] = authors.get(book["author"]["id"], 0) + 1
    assert {a["id"]: a["count"] for a in facets["author"]} == authors
    assert {a["name"] for a in facets["author"]} <= {"Ada Writer", "Bo Scribe"}


async def test_facet_limit_keeps_the_largest_values(client, shelf):
    page = (await client.get("/books", params={"facets": "category", "facet_limit": 2})).json()

    assert [c["slug"] for c in page["facets"]["category"]] == ["fantasy", "horror"]
    assert set(page["facets"]) == {"category"}


async def test_facets_and_total_on_the_nested_listings_and_with_q(client, shelf):
    author = shelf["author"]
    fantasy = shelf["fantasy"]
    params = {"facets": "decade", "with_total": "true", "year_min": 1960}

    of_author = (await client.get(f"/authors/{author['id']}/books", params=params)).json()
    of_category = (await client.get(f"/categories/{fantasy['id']}/books", params=params)).json()
    searched = (await client.get("/books", params={**params, "q": "title"})).json()
    nothing = (await client.get("/books", params={**params, "q": "zzyzx"})).json()

    def year_ok(book: dict) -> bool:
        return book["published_year"] is not None and book["published_year"] >= 1960

    books = shelf["books"]
    assert of_author["total"] == sum(
        1 for b in books if b["author"]["id"] == author["id"] and year_ok(b)
    )
    assert of_category["total"] == sum(1 for b in books if in_category(b, fantasy) and year_ok(b))
    assert searched["total"] == sum(1 for b in books if year_ok(b))
    assert sum(d["count"] for d in searched["facets"]["decade"]) == sum(
        1 for b in books if b["published_year"] is not None
    )
    assert nothing["total"] == 0 and nothing["facets"] == {"decade": []}


async def test_a_category_is_counted_exactly_beyond_the_sample_on_whole_decades_and_bands(
    client, shelf, monkeypatch
):
    from bookstore.catalog import counts

    monkeypatch.setattr(counts, "EXACT_UP_TO", 2)
    params = {
        "category": "fantasy",
        "year_min": 1960,
        "price_min": "10",
        "with_total": "true",
        "facets": "decade,price_band",
    }

    page = (await client.get("/books", params=params)).json()

    fantasy = [b for b in shelf["books"] if in_category(b, shelf["fantasy"])]

    def recent(book: dict) -> bool:
        return book["published_year"] is not None and book["published_year"] >= 1960

    def dear(book: dict) -> bool:
        return book["price"] is not None and Decimal(book["price"]) >= 10

    assert page["total"] == sum(1 for b in fantasy if recent(b) and dear(b)) > 2
    assert page["total_is_estimate"] is False and page["facets_is_estimate"] is False
    decades: dict[int, int] = {}
    for book in fantasy:
        if dear(book) and book["published_year"] is not None:
            decades[decade(book["published_year"])] = (
                decades.get(decade(book["published_year"]), 0) + 1
            )
    assert {d["value"]: d["count"] for d in page["facets"]["decade"]} == decades
    bands: dict[str, int] = {}
    for book in fantasy:
        if recent(book) and book["price"] is not None:
            low = f"{Decimal(book['price']) // 5 * 5:.2f}"
            bands[low] = bands.get(low, 0) + 1
    assert {b["min"]: b["count"] for b in page["facets"]["price_band"]} == bands


async def test_beyond_the_exact_limit_totals_and_counts_are_estimates(client, shelf, monkeypatch):
    from bookstore.catalog import counts

    await Book.raw("ANALYZE books, book_category")
    counts.stats_cache.clear()
    monkeypatch.setattr(counts, "EXACT_UP_TO", 3)

    page = (
        await client.get(
            "/books",
            params={
                "category": "fantasy",
                "year_max": 1965,  # half the 1960s: their count is a share of the decade's
                "with_total": "true",
                "facets": "category,decade",
            },
        )
    ).json()

    def early(book: dict) -> bool:
        return book["published_year"] is not None and book["published_year"] <= 1965

    books = shelf["books"]
    assert page["total_is_estimate"] is True
    assert page["facets_is_estimate"] is True
    truth = sum(1 for b in books if in_category(b, shelf["fantasy"]) and early(b))
    assert abs(page["total"] - truth) <= 1  # ANALYZE read every row of so small a table
    by_slug = {c["slug"]: c["count"] for c in page["facets"]["category"]}
    horror = sum(1 for b in books if in_category(b, shelf["horror"]) and early(b))
    assert abs(by_slug["fantasy"] - truth) <= 1 and abs(by_slug["horror"] - horror) <= 1
    assert sum(d["count"] for d in page["facets"]["decade"]) > 0


async def test_the_kept_counts_follow_every_change_of_books_and_links(client, shelf):
    fantasy, horror, poetry = shelf["fantasy"], shelf["horror"], shelf["poetry"]
    first, second, third = shelf["books"][:3]

    changes = [
        client.patch(f"/books/{first['id']}", json={"price": "120.00", "published_year": 1801}),
        client.patch(f"/books/{second['id']}", json={"category_ids": [poetry["id"]]}),
        client.patch(f"/books/{third['id']}", json={"price": None, "title": "Renamed"}),
        client.delete(f"/books/{shelf['books'][3]['id']}"),
    ]
    for change in changes:
        response = await change
        assert response.status_code in (200, 204), response.text
    await create_book(
        client,
        title="Added",
        author_id=shelf["author"]["id"],
        category_ids=[fantasy["id"], horror["id"]],
        published_year=2001,
        price="7.50",
    )

    kept = await Book.raw(
        "SELECT category_id, decade, price_band, books FROM category_counts ORDER BY 1, 2, 3"
    )
    recounted = await Book.raw(
        "SELECT category_id, decade_of(book_year) AS decade,"
        " price_band_of(book_price) AS price_band, count(*) AS books"
        " FROM book_category GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    assert kept == recounted


async def test_counts_kept_per_catalog_version_follow_a_write_made_in_sql(shelf, monkeypatch):
    """A category's cells and the category names are read once per catalog version (the
    terms' lookup reads it): the next count after any write, even one made in SQL behind
    the service, reads them again."""
    from bookstore.catalog import counts
    from bookstore.catalog.filters import BookFilters

    await Book.raw("ANALYZE books, book_category")
    counts.stats_cache.clear()
    monkeypatch.setattr(counts, "EXACT_UP_TO", 1)  # the category facet from the statistics
    fantasy = shelf["fantasy"]
    filters = BookFilters(category=("fantasy",))
    facets = ["category", "decade", "price_band"]

    async def count() -> tuple[int | None, dict[str, int], dict[str, int]]:
        counted = await counts.count_matching(filters, total=True, facets=facets, facet_limit=20)
        assert counted.facets is not None
        names = {c["name"]: c["count"] for c in counted.facets["category"]}
        bands = {b["min"]: b["count"] for b in counted.facets["price_band"]}
        return counted.total, names, bands

    total, names, bands = await count()
    statements = record_statements(monkeypatch)
    assert await count() == (total, names, bands)  # the second from what was kept:
    assert len(statements) == 1  # the lookup of "fantasy", which reads the version too
    cheap = next(b for b in shelf["books"] if in_category(b, fantasy) and b["price"] == "5.00")
    await Book.raw("UPDATE books SET price = 250 WHERE id = {}", cheap["id"])
    await Book.raw("UPDATE categories SET name = 'Myth' WHERE id = {}", fantasy["id"])

    total_after, names_after, bands_after = await count()

    assert total_after == total
    assert bands_after["5.00"] == bands["5.00"] - 1
    assert bands_after["100.00"] == bands.get("100.00", 0) + 1
    assert "Fantasy" not in names_after and names_after["Myth"] == names["Fantasy"]


async def test_the_databases_price_bands_are_the_facets(client):
    from bookstore.catalog.counts import PRICE_BANDS

    prices = [Decimal(p) for p in ("0", "4.99", "5", "19.99", "20", "99.99", "100", "250")]
    rows = await Book.raw(
        "SELECT p, price_band_of(p) AS band FROM unnest({}::numeric[]) AS p", prices
    )
    for row in rows:
        expected = max(n for n, edge in enumerate(PRICE_BANDS) if edge <= row["p"])
        assert row["band"] == expected, row
    (nothing,) = await Book.raw("SELECT price_band_of(NULL) AS band, decade_of(-5) AS decade")
    assert nothing == {"band": None, "decade": -10}


# -- the demo catalog ---------------------------------------------------------------------


def test_the_demo_catalog_has_plausible_prices_and_known_isbns():
    from bookstore.isbn import normalize_isbn
    from bookstore.seed import demo_price, load_demo_catalog

    books = load_demo_catalog()["books"]
    by_title = {book["title"]: book for book in books}
    prices = [demo_price(book) for book in books]

    assert all(Decimal("5") <= price < Decimal("20") for price in prices)
    assert prices == [demo_price(book) for book in books]  # the same on every run
    # A paperback classic is not 80.00.
    assert demo_price(by_title["Pride and Prejudice"]) < 10
    assert len({str(price)[-2:] for price in prices}) == 2  # .99 or .49, as shops price
    assert by_title["The Hobbit"]["isbn"] == "9780547928227"
    assert by_title["Pride and Prejudice"]["isbn"] == "9780141439518"
    isbns = [book["isbn"] for book in books if book.get("isbn")]
    assert len(isbns) == len(set(isbns)) >= 25
    assert all(normalize_isbn(isbn) == isbn for isbn in isbns)


async def test_a_large_set_narrowed_by_ranges_only_is_counted_from_the_statistics(
    client, shelf, monkeypatch
):
    from bookstore.catalog import counts

    await Book.raw("ANALYZE books, book_category")
    counts.stats_cache.clear()
    monkeypatch.setattr(counts, "EXACT_UP_TO", 1)

    page = (
        await client.get(
            "/books",
            params={
                "year_min": 1960,
                "facets": "category,author,decade,price_band",
                "with_total": "true",
            },
        )
    ).json()

    books = shelf["books"]
    recent = [b for b in books if b["published_year"] is not None and b["published_year"] >= 1960]
    assert page["total_is_estimate"] is True and page["facets_is_estimate"] is True
    assert abs(page["total"] - len(recent)) <= 2
    # ANALYZE read every row: the histograms are the truth, up to rounding.
    decades = {d["value"]: d["count"] for d in page["facets"]["decade"]}
    assert abs(sum(decades.values()) - sum(1 for b in books if b["published_year"])) <= 3
    assert set(page["facets"]) == {"category", "author", "decade", "price_band"}
    assert page["facets"]["author"]


async def test_a_cursor_continues_the_same_categories_named_in_another_order(client, shelf):
    first = (
        await client.get(
            "/books", params={"category": ["horror", "fantasy"], "sort": "-price", "limit": 3}
        )
    ).json()

    # The response cache keys requests by their sorted parameters: either order
    # may be answered with the other's page and cursor.
    again = await client.get(
        "/books",
        params={
            "category": ["fantasy", "horror"],
            "sort": "-price",
            "limit": 3,
            "cursor": first["next_cursor"],
        },
    )

    assert again.status_code == 200, again.text
