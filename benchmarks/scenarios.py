"""What is measured: one scenario per kind of request a customer makes.

Each scenario turns the sampled terms into a list of request paths; the wrk
script picks one at random per request, so no cache can answer one fixed
query over and over.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlencode

from benchmarks.terms import SampledTerms


class Scenario(StrEnum):
    """A kind of request, named as in the results table."""

    AUTHOR = "author"
    CATEGORY = "category"
    CATEGORY_BIG = "category_big"
    AUTHOR_CATEGORY = "author_category"
    BOOK_BY_ID = "book_by_id"

    @property
    def is_search(self) -> bool:
        """Searches are logged to ``search_logs``; reading one book is not."""
        return self is not Scenario.BOOK_BY_ID


# What the reference apps can answer: GET /books?author= and ?category= only.
REFERENCE_SCENARIOS = frozenset({Scenario.AUTHOR, Scenario.CATEGORY, Scenario.CATEGORY_BIG})


def _search(**params: str) -> str:
    return "/books?" + urlencode(params)


def scenario_paths(scenario: Scenario, terms: SampledTerms) -> list[str]:
    """The request paths of ``scenario``, one per sampled term.

    >>> scenario_paths(Scenario.BOOK_BY_ID, terms)[:2]
    ['/books/48211', '/books/90412']
    """
    if scenario is Scenario.AUTHOR:
        return [_search(author=fragment) for fragment in terms.author_fragments]
    if scenario is Scenario.CATEGORY:
        return [_search(category=slug) for slug in terms.category_slugs]
    if scenario is Scenario.CATEGORY_BIG:
        return [_search(category=slug) for slug in terms.biggest_category_slugs]
    if scenario is Scenario.AUTHOR_CATEGORY:
        return [
            _search(author=fragment, category=slug)
            for fragment, slug in terms.author_category_pairs
        ]
    return [f"/books/{book_id}" for book_id in terms.book_ids]
