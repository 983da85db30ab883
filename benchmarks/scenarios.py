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
    # The search box (issue 9): GET /books?q= and its completions.
    Q_WORD = "q_word"
    Q_WORDS = "q_words"
    Q_TYPO = "q_typo"
    Q_PREFIX = "q_prefix"
    Q_FILTERED = "q_filtered"
    SUGGEST = "suggest"

    @property
    def is_search(self) -> bool:
        """Searches are logged to ``search_logs``; reading one book or a completion is not."""
        return self not in (Scenario.BOOK_BY_ID, Scenario.SUGGEST)


# What the reference apps can answer: GET /books?author= and ?category= only.
REFERENCE_SCENARIOS = frozenset({Scenario.AUTHOR, Scenario.CATEGORY, Scenario.CATEGORY_BIG})
# The floor app also answers ?q= the textbook way (full-text on titles, no typos
# or prefixes): it is measured where that is the same question.
FLOOR_SCENARIOS = REFERENCE_SCENARIOS | {Scenario.Q_WORD, Scenario.Q_WORDS}
# Completions per keystroke, as a search box asks for them.
SUGGEST_LIMIT = 8


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
    if scenario is Scenario.Q_WORD:
        return [_search(q=word) for word in terms.frequent_words]
    if scenario is Scenario.Q_WORDS:
        return [_search(q=text) for text in terms.title_words]
    if scenario is Scenario.Q_TYPO:
        return [_search(q=text) for text in terms.misspelt_title_words]
    if scenario is Scenario.Q_PREFIX:
        return [_search(q=text) for text in terms.word_and_prefix]
    if scenario is Scenario.Q_FILTERED:
        return [_search(q=text, category=slug) for text, slug in terms.title_words_in_category]
    if scenario is Scenario.SUGGEST:
        return [
            "/books/suggest?" + urlencode({"q": prefix, "limit": SUGGEST_LIMIT})
            for prefix in terms.typed_prefixes
        ]
    return [f"/books/{book_id}" for book_id in terms.book_ids]
