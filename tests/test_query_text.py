"""Statements compiled with their templates parsed once (bookstore.query_text)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx
from factories import create_book, create_category
from piccolo.querystring import QueryString

from bookstore import database
from bookstore.query_text import Compiled, compile_postgres


def as_piccolo_with_arrays_shared(query: QueryString) -> tuple[str, list[Any]]:
    """Piccolo's text and arguments, a list passed again given its first placeholder."""
    text, values = query.compile_string(engine_type="postgres")
    args: list[Any] = []
    placeholders: dict[int, int] = {}  # Piccolo's number -> ours
    first: dict[int, int] = {}  # an array's id -> our number
    for number, value in enumerate(values, start=1):
        if isinstance(value, list) and id(value) in first:
            placeholders[number] = first[id(value)]
            continue
        args.append(value)
        placeholders[number] = len(args)
        if isinstance(value, list):
            first[id(value)] = len(args)
    return re.sub(r"\$(\d+)", lambda m: f"${placeholders[int(m.group(1))]}", text), args


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
    words = ["ash", "volume"]
    shared = QueryString(
        "SELECT {} && {}::text[], {} && {}::text[], {}, {}, {}",
        QueryString("title"),
        words,
        QueryString("author"),
        words,
        ["ash", "volume"],
        (),
        (),
    )
    assert compile_postgres(shared) == as_piccolo_with_arrays_shared(shared)
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
    "q=book words",
    "q=book wor",
    "q=book&category={a}",
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
        if type(query) is Compiled:
            # A page kept per shape (a filtered search's, since 19b60ef): its
            # text was compiled once from a tree, and a request sends its
            # arguments alone, one for each placeholder.
            placeholders = {int(n) for n in re.findall(r"\$(\d+)", got[0])}
            assert placeholders == set(range(1, len(got[1]) + 1))
        else:
            assert got == as_piccolo_with_arrays_shared(query)
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


def test_an_array_passed_twice_is_sent_once() -> None:
    """asyncpg checks every element of every array it sends: a term's words go once."""
    words = ["ash", "volume"]
    query = QueryString(
        "SELECT {} && {}::text[] OR {} && {}::text[] OR {} && {}::text[] OR {} OR {}",
        QueryString("title"),
        words,
        QueryString("author"),
        words,
        QueryString("categories"),
        list(words),  # equal, not the same object: sent again
        (),  # one object, whatever passes it: never shared
        (),
    )
    text, args = compile_postgres(query)
    assert text == (
        "SELECT title && $1::text[] OR author && $1::text[] OR categories && $2::text[]"
        " OR $3 OR $4"
    )
    assert args == [words, words, (), ()]


def test_a_kept_text_is_inlined_with_its_placeholders_after_those_before_it() -> None:
    kept = Compiled(
        "SELECT id FROM books WHERE id = ANY($1::integer[]) AND year > $2", [[1, 2], 1960]
    )
    first = QueryString("WITH page AS ({}) SELECT * FROM page WHERE id > {}", kept, 7)
    assert compile_postgres(first) == (
        "WITH page AS (SELECT id FROM books WHERE id = ANY($1::integer[]) AND year > $2)"
        " SELECT * FROM page WHERE id > $3",
        [[1, 2], 1960, 7],
    )
    after = QueryString("SELECT {}, x.* FROM ({}) AS x", "a", kept)
    assert compile_postgres(after) == (
        "SELECT $1, x.* FROM (SELECT id FROM books WHERE id = ANY($2::integer[]) AND year > $3)"
        " AS x",
        ["a", [1, 2], 1960],
    )
    assert compile_postgres(kept) == (kept.text, [[1, 2], 1960])
