"""A typed prefix walked as its own word (``P*``) when its frozen list is its completions.

``search_prefixes`` holds, for each prefix of 2 to 4 characters beginning more
than 5 words, the 20 commonest completions as ``search_rebuild()`` found
them, and ``search_postings`` the prefix's own rows (``sal*``), kept by
writes for that list. The page by levels walks them as one word while the
list equals the lookup's completions as sets (``vocabulary._starred``), and
walks the completions as before when it does not: the same pages either way.
"""

from __future__ import annotations

from typing import Any

import pytest
from factories import (
    Statement,
    create_author,
    create_book,
    create_category,
    record_statements,
    scored_pages,
    walked_words,
)

from bookstore.catalog.search.kept_pages import kept_pages
from bookstore.catalog.search.kept_terms import kept_terms
from bookstore.tables import Book

# Words beginning "sal", "sal" itself one of them (the exact word stays its
# own variant): more than 5, so the prefix gets postings of its own.
COMPLETIONS = ["salt", "salmon", "salad", "salon", "salsa", "salvo", "saliva"]
FIELDS = ("title", "author", "category", "description")


@pytest.fixture
async def salt_shelf(client) -> dict[str, Any]:
    """ "river" and a completion of "sal" in every pair of fields, the word "sal" in none,
    the title or the description, then rebuilt (the lists are made by ``search_rebuild``).

    Every level of both terms, and every case of a prefix's own posting: a
    completion at its best field, the exact word at a better one or a worse.
    """
    # By (holds "river", holds a completion): an author's name, a category's.
    names = {
        (False, False): ("Tom Garden", "Cooking"),
        (True, False): ("Ann River", "River Tales"),
        (False, True): ("Salvo Marin", "Salad Days"),
        (True, True): ("Salvo River", "Salon River"),
    }
    authors = {}
    categories = {}
    for holds, (author, category) in names.items():
        authors[holds] = await create_author(client, author)
        categories[holds] = await create_category(client, category)
    books = []
    n = 0
    for river in FIELDS:
        for completed in FIELDS:
            for exact in (None, "title", "description"):
                completion = COMPLETIONS[n % len(COMPLETIONS)]
                n += 1
                title = ["Stone"]
                description = ["winter"]
                for field, word in ((river, "river"), (completed, completion), (exact, "sal")):
                    if field == "title":
                        title.append(word.title())
                    elif field == "description":
                        description.append(word)
                books.append(
                    await create_book(
                        client,
                        title=" ".join(title),
                        author_id=authors[river == "author", completed == "author"]["id"],
                        category_ids=[
                            categories[river == "category", completed == "category"]["id"]
                        ],
                        description=" ".join(description),
                    )
                )
    await Book.raw("SELECT search_rebuild()")
    return {"books": books}


async def _pages_walked_one_by_one(
    prefix_postings_off, sent: list[Statement], q: str
) -> list[list[tuple[int, int]]]:
    """``q``'s pages with the prefix's own postings never walked (as on a stale list).

    ``sent``: the test's ``record_statements``; the walks read here are checked
    to walk no ``P*``, or the pages compared with them would be the same walk.
    """
    start = len(sent)
    with prefix_postings_off():
        kept_terms().clear()
        kept_pages().clear()
        pages = await scored_pages(q)
    kept_terms().clear()
    kept_pages().clear()
    walked = walked_words(sent[start:])
    assert walked and f"{q.split()[-1]}*" not in walked, walked
    return pages


@pytest.fixture
def walked(force_walk) -> None:
    """The page by levels for any matches: a small shelf's would take the GIN scan."""
    force_walk()


@pytest.mark.parametrize(
    ("q", "starred"),
    [("river sal", True), ("stone sa", True), ("winter river sal", True), ("salt sal", False)],
)
async def test_a_prefix_walked_as_its_own_word_gives_the_pages_of_its_completions(
    client, salt_shelf, walked, monkeypatch, prefix_postings_off, q: str, starred: bool
) -> None:
    """Every page, book for book and score for score. "salt sal": a word that is
    also one of the prefix's completions (walked alone, its rows confirming)."""
    sent = record_statements(monkeypatch)
    pages = await scored_pages(q)
    prefix = q.split()[-1]
    assert (f"{prefix}*" in walked_words(sent)) == starred
    assert sum(len(page) for page in pages) >= 4
    assert pages == await _pages_walked_one_by_one(prefix_postings_off, sent, q)


async def test_a_stale_list_walks_the_completions_until_a_rebuild(
    client, salt_shelf, walked, monkeypatch, prefix_postings_off
) -> None:
    sent = record_statements(monkeypatch)
    # A new word beginning "sal": the lookup's completions are no longer the list.
    salami = await create_book(client, title="River Salami", description="salami")
    stale = await scored_pages("river sal")
    assert "sal*" not in walked_words(sent)
    assert salami["id"] in [book for page in stale for book, _ in page]
    assert stale == await _pages_walked_one_by_one(prefix_postings_off, sent, "river sal")
    await Book.raw("SELECT search_rebuild()")
    sent.clear()
    rebuilt = await scored_pages("river sal")
    assert "sal*" in walked_words(sent)
    assert rebuilt == stale


async def test_a_book_written_since_the_rebuild_is_found_through_the_prefixs_own_postings(
    client, salt_shelf, walked, monkeypatch, prefix_postings_off
) -> None:
    sent = record_statements(monkeypatch)
    # Words of the list: it stays the completions, and the writes keep its rows.
    written = await create_book(client, title="River Salmon Salt", description="a stone")
    renamed = salt_shelf["books"][1]
    response = await client.patch(f"/books/{renamed['id']}", json={"title": "Garden"})
    assert response.status_code == 200, response.text
    pages = await scored_pages("river sal")
    assert "sal*" in walked_words(sent)
    found = dict(book for page in pages for book in page)
    assert found[written["id"]] == 31  # "river" in its title 16, a completion there 15
    assert pages == await _pages_walked_one_by_one(prefix_postings_off, sent, "river sal")
