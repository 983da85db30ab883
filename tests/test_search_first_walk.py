"""A first page read by its best group's one walk alone (``level_walk.first_walk``).

When a page by levels begins with a group of one walk, one word's run met with
its partner's and told by them (no row to check), guessed to fill the page
(``levels.best_group_fills``), the first page is that walk's first books
(``FirstWalk``); when it finds fewer than the page holds, the page by levels is
read after it. The same pages either way.
"""

from __future__ import annotations

import math

import pytest
from factories import create_author, create_book, record_statements, scored_pages

from bookstore.catalog.search import levels
from bookstore.catalog.search.kept_pages import kept_pages

# The best group: "river" and "stone" both in a title (score 32).
BOTH_IN_TITLES = 30


@pytest.fixture
async def river_shelf(client, force_walk) -> None:
    """``BOTH_IN_TITLES`` books with "river" and "stone" in their title, and books of
    the next groups: one word in the title, the other in the description."""
    force_walk()
    author = await create_author(client, "Ann Marsh")
    for _ in range(BOTH_IN_TITLES):
        await create_book(client, title="River Stone", author_id=author["id"])
    for title, description in (("River Garden", "stone"), ("Lake Stone", "river")):
        for _ in range(6):
            await create_book(client, title=title, description=description, author_id=author["id"])


def _walks_alone(sql: str) -> bool:
    """Whether ``sql`` is a page read by a walk alone (``first_walk``)."""
    return "FROM search_postings p" in sql and "WITH RECURSIVE branch" not in sql


async def _pages_by_levels(monkeypatch: pytest.MonkeyPatch, q: str, limit: int):
    """``q``'s pages with no walk read alone: the page by levels for every page."""
    kept_pages().clear()
    with monkeypatch.context() as patched:
        patched.setattr(levels, "FILLS_MARGIN", math.inf)
        pages = await scored_pages(q, limit)
    kept_pages().clear()
    return pages


@pytest.mark.parametrize("probed", [False, True])
async def test_a_first_page_its_best_walk_fills_is_read_by_that_walk_alone(
    river_shelf, monkeypatch: pytest.MonkeyPatch, probed: bool
) -> None:
    """Merged with the partner's run, or the partner probed per posting (a run
    ``PROBE_RATIO`` times longer): one statement, the same pages."""
    # A small shelf's runs are guessed far below a page.
    monkeypatch.setattr(levels, "FILLS_MARGIN", 0.0)
    if probed:
        monkeypatch.setattr(levels, "PROBE_RATIO", 1)
    sent = record_statements(monkeypatch)
    pages = await scored_pages("river stone", limit=20)
    first_page = next(s.sql for s in sent if "WITH page AS" in s.sql)
    assert _walks_alone(first_page)
    assert ("EXISTS" in first_page) == probed
    assert [score for _, score in pages[0]] == [32] * 20
    assert pages == await _pages_by_levels(monkeypatch, "river stone", 20)


async def test_a_best_walk_short_of_a_page_reads_the_page_by_levels_after_it(
    river_shelf, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(levels, "FILLS_MARGIN", 0.0)
    sent = record_statements(monkeypatch)
    pages = await scored_pages("river stone", limit=40)
    first, then, *_ = [s.sql for s in sent if "WITH page AS" in s.sql]
    assert _walks_alone(first) and "WITH RECURSIVE branch" in then
    assert len(pages[0]) > BOTH_IN_TITLES
    assert pages == await _pages_by_levels(monkeypatch, "river stone", 40)


async def test_a_best_walk_guessed_short_of_a_page_is_not_read_alone(
    river_shelf, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``best_group_fills``: the runs' lengths over the catalog's books, from
    independence: 36 and 36 postings of 42 books guess 30 in both, below
    FILLS_MARGIN pages of 21."""
    sent = record_statements(monkeypatch)
    await scored_pages("river stone", limit=20)
    first_page = next(s.sql for s in sent if "WITH page AS" in s.sql)
    assert "WITH RECURSIVE branch" in first_page
