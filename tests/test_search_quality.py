"""Search quality: does ``GET /books?q=`` find what people type? (issue 9)

The books of tests/search_quality.py are posted through the API; each query
must find its book among the first ten results. recall@10 under 0.95 fails.
recall@1 (the book first) is printed beside it, and so is the same recall
of the plain full-text search a user would otherwise write, run directly in
SQL on the same books: ``websearch_to_tsquery('english', q)`` on
``to_tsvector('english', title)``, ordered by ``ts_rank``, LIMIT 21. That
anchor is reported, not asserted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import asyncpg
import pytest
from factories import create_author, create_book, create_category
from search_quality import BOOKS, QUERIES, QualityQuery

MINIMUM_RECALL_AT_10 = 0.95

ANCHOR_SQL = """
SELECT title
FROM books
WHERE to_tsvector('english', title) @@ websearch_to_tsquery('english', $1)
ORDER BY ts_rank(to_tsvector('english', title), websearch_to_tsquery('english', $1)) DESC, id
LIMIT 21
"""


@dataclass(frozen=True)
class Recall:
    """How many queries found their book first, and within the first ten."""

    at_1: float
    at_10: float
    missed: list[tuple[QualityQuery, list[str]]]  # (query, the first titles it found)
    not_first: list[tuple[QualityQuery, list[str]]]  # found, but not first

    def line(self, name: str) -> str:
        return f"{name:28} recall@1 {self.at_1:.3f}   recall@10 {self.at_10:.3f}"


def recall(results: dict[QualityQuery, list[str]]) -> Recall:
    first = sum(1 for query, titles in results.items() if titles[:1] == [query.expected])
    within_ten = [query for query, titles in results.items() if query.expected in titles[:10]]
    missed = [(query, titles[:3]) for query, titles in results.items() if query not in within_ten]
    not_first = [
        (query, titles[:3])
        for query, titles in results.items()
        if query in within_ten and titles[:1] != [query.expected]
    ]
    return Recall(first / len(results), len(within_ten) / len(results), missed, not_first)


@pytest.fixture
async def quality_catalog(client) -> None:
    """BOOKS, with their authors and categories, created through the API."""
    authors: dict[str, int] = {}
    categories: dict[str, int] = {}
    for book in BOOKS:
        if book.author not in authors:
            authors[book.author] = (await create_author(client, book.author))["id"]
        for name in book.categories:
            if name not in categories:
                categories[name] = (await create_category(client, name))["id"]
        await create_book(
            client,
            title=book.title,
            author_id=authors[book.author],
            category_ids=[categories[name] for name in book.categories],
            published_year=book.year,
            description=book.description,
        )


async def product_titles(client, q: str) -> list[str]:
    response = await client.get("/books", params={"q": q, "limit": 10})
    assert response.status_code == 200, f"q={q!r}: {response.text}"
    return [item["title"] for item in response.json()["items"]]


async def anchor_titles(connection: asyncpg.Connection, q: str) -> list[str]:
    return [row["title"] for row in await connection.fetch(ANCHOR_SQL, q)]


def describe_misses(missed: list[tuple[QualityQuery, list[str]]]) -> str:
    return "\n".join(
        f"  [{query.kind}] {query.q!r} should find {query.expected!r}; first: {titles}"
        for query, titles in missed
    )


async def test_the_search_box_finds_what_people_type(client, quality_catalog, capsys):
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        anchor = recall({query: await anchor_titles(connection, query.q) for query in QUERIES})
    finally:
        await connection.close()
    with capsys.disabled():
        print(f"\nSearch quality: {len(QUERIES)} queries over {len(BOOKS)} books")
        print(anchor.line("plain full-text on titles"))

    product = recall({query: await product_titles(client, query.q) for query in QUERIES})

    with capsys.disabled():
        print(product.line("product (GET /books?q=)"))
        if product.not_first:
            print("product, found but not first:\n" + describe_misses(product.not_first))
        if product.missed:
            print("product misses:\n" + describe_misses(product.missed))
    assert product.at_10 >= MINIMUM_RECALL_AT_10, describe_misses(product.missed)
