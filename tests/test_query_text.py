"""Statements compiled with their templates parsed once (bookstore.query_text)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from factories import create_book, create_category
from piccolo.querystring import QueryString

from bookstore import database
from bookstore.query_text import compile_postgres


def test_the_same_text_and_arguments_as_piccolo() -> None:
    inner = QueryString("SELECT id FROM books WHERE price >= {} AND year = {}", 5, 1960)
    shapes = [
        QueryString(""),
        QueryString("SELECT 1"),
        QueryString("{}", 7),
        QueryString("SELECT {}, {}", 1),  # a placeholder without its argument
        QueryString("SELECT {}", 1, 2),  # an argument without its placeholder
        QueryString("SELECT * FROM ({}) AS page WHERE id > {} LIMIT {}", inner, 10, 21),
        QueryString("{} UNION ALL {}", inner, QueryString("{}", inner)),
        QueryString("SELECT '{{}}', {}", "x"),
        QueryString("SELECT {}", QueryString("")),
    ]
    for query in shapes:
        assert compile_postgres(query) == query.compile_string(engine_type="postgres")
    frozen = QueryString("SELECT {}", 3)
    frozen.freeze()
    assert compile_postgres(frozen) is frozen._frozen_compiled_strings


BROWSING_QUERIES = [
    "category={a}",
    "category={a}&category={b}",
    "category={a}&category={b}&category_mode=all",
    "category={a}&facets=category,decade,price_band",
    "category={a}&with_total=true",
    "category={a}&sort=price",
    "category={a}&sort=-published_year&price_min=1&price_max=30&year_min=1900",
    "category={a}&limit=1",
    "sort=-created_at",
    "author=Aut",
    "q=book",
]


async def test_every_listing_statement_compiles_as_piccolo_would(
    client: httpx.AsyncClient, monkeypatch: Any
) -> None:
    first, second = await create_category(client), await create_category(client)
    for n in range(3):
        await create_book(
            client,
            category_ids=[first["id"], second["id"]][: n % 2 + 1],
            price=f"{n + 4}.50",
            published_year=1950 + n,
        )
    compiled: list[QueryString] = []

    def checked(query: QueryString) -> tuple[str, list[Any]]:
        compiled.append(query)
        got = compile_postgres(query)
        assert got == query.compile_string(engine_type="postgres")
        return got

    monkeypatch.setattr(database, "compile_postgres", checked)
    for query in BROWSING_QUERIES:
        path = "/books?" + query.format(a=first["slug"], b=second["slug"])
        response = await client.get(path)
        assert response.status_code == 200, response.text
        cursor = response.json().get("next_cursor")
        if cursor:
            next_page = await client.get(f"{path}&cursor={quote(cursor)}")
            assert next_page.status_code == 200, next_page.text
    assert len(compiled) >= len(BROWSING_QUERIES)
