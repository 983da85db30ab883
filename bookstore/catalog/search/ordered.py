"""The search box's matches in a storefront order: ``q=`` with ``sort=price`` and the like.

Like ``pages.page_by_title``, every match is found (GIN bitmap over
``book_search.words``) and the first page sorted out of them: no index
holds both the words and a price. Books without the value come last, ties
by id, as in listings without ``q``.
"""

from __future__ import annotations

import math

from piccolo.querystring import QueryString

from bookstore.catalog.filters import Criteria
from bookstore.catalog.search import ranking
from bookstore.catalog.search.pages import Match, match_conditions
from bookstore.catalog.search.plans import guessed_matches
from bookstore.catalog.sorts import PageKey, SortOrder, sort_after
from bookstore.catalog.statements import all_of, literal_limit
from bookstore.query_text import Sql


def page_in_order(
    match: Match, criteria: Criteria, sort: SortOrder, after: PageKey | None, limit: int
) -> QueryString:
    """(id, score) of the first ``limit`` matches in ``sort``'s order after ``after``."""
    score = ranking.score("s", match.terms)
    conditions = match_conditions("s", match, criteria)
    if after is not None:
        conditions.append(sort_after(sort, f"b.{sort.field}", "b.id", after))
    return Sql(
        "SELECT b.id, {} AS score FROM book_search s JOIN books b ON b.id = s.book_id"
        f" WHERE {{}} ORDER BY {sort.order_by(f'b.{sort.field}', 'b.id')}"
        f" {literal_limit(limit)}",
        score,
        all_of(conditions),
    )


# A page in title order reads books in (title, id) order from
# ``books_title_id_idx`` (the listing's index) and probes each one's row of
# book_search by its key, stopping at the page, when that walk is guessed to
# read fewer books than the matches ``page_by_title`` sorts: with common words
# ("love war" at 1M books, 379 ms sorting every match) the page is found
# within the first few hundred titles. The walk reads at most
# TITLE_WALK_MARGIN times the books that hold a page at the matches' guessed
# share (``plans.guessed_matches``: independence), rounded up to a power of two
# (one statement per bound); when it ends short of a page, the search reads
# ``page_by_title`` instead (``FirstWalk``), so the page is always today's.
TITLE_WALK_MARGIN = 4.0


def title_walk_bound(
    match: Match, criteria: Criteria, rows: int, catalog_books: int
) -> int | None:
    """How many books the walk in title order may read for ``rows`` matches; None when
    sorting the matches is guessed cheaper, or when the guess does not hold.

    Only a text without phrases and filters is walked: the guess counts the
    terms alone, so a phrase, a category, an author or a range would thin the
    matches along the walk below the share it was bounded for.
    """
    if match.phrases or not criteria.asks_nothing():
        return None
    matching = guessed_matches([term.books for term in match.terms], catalog_books)
    if matching < 1:
        return None
    needed = math.ceil(TITLE_WALK_MARGIN * rows * catalog_books / matching)
    bound = 1 << max(needed - 1, 0).bit_length()
    return bound if bound <= matching else None


def page_by_title_walk(
    match: Match, after_title: tuple[str, int] | None, rows: int, bound: int
) -> QueryString:
    """(id, score) of the first ``rows`` matches in (title, id) order among the next
    ``bound`` books after ``after_title``: each book's row of book_search probed by
    its key (a LATERAL, ``OFFSET 0``), in the order the title index yields them."""
    score = ranking.score("s", match.terms)
    after = [] if after_title is None else [Sql("(b.title, b.id) > ({}, {})", *after_title)]
    return Sql(
        "SELECT w.id, found.score FROM (SELECT b.id, b.title FROM books b WHERE {}"
        f" ORDER BY b.title, b.id LIMIT {bound}) AS w"
        " CROSS JOIN LATERAL (SELECT {} AS score FROM book_search s"
        " WHERE s.book_id = w.id AND {} OFFSET 0) AS found"
        f" ORDER BY w.title, w.id {literal_limit(rows)}",
        all_of(after),
        score,
        all_of(match_conditions("s", match, Criteria())),
    )
