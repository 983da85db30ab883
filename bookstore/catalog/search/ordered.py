"""The search box's matches in a storefront order: ``q=`` with ``sort=price`` and the like.

Like ``pages.page_by_title``, every match is found (GIN bitmap over
``book_search.words``) and the first page sorted out of them: no index
holds both the words and a price. Books without the value come last, ties
by id, as in listings without ``q``.
"""

from __future__ import annotations

from piccolo.querystring import QueryString

from bookstore.catalog.filters import Criteria
from bookstore.catalog.search import ranking
from bookstore.catalog.search.pages import Match, match_conditions
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
