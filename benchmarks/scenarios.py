"""What is measured: one scenario per kind of request a customer makes.

Each scenario turns the sampled terms into a list of request paths; the wrk
script picks one at random per request, so no cache can answer one fixed
query over and over.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import zip_longest
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
    Q_AUTHOR = "q_author"
    SUGGEST = "suggest"
    # A storefront's repetitive traffic: 50 popular searches, Zipf-like (issue 12).
    HOT = "hot"
    # Storefront browsing (issue 10).
    CATEGORIES_ANY = "categories_any"
    CATEGORIES_ALL = "categories_all"
    PRICE_RANGE = "price_range"
    SORT_PRICE = "sort_price"
    SORT_NEWEST = "sort_newest"
    FACETS = "facets"
    TOTAL = "total"

    @property
    def is_search(self) -> bool:
        """Searches are logged to ``search_logs``; reading one book, a completion, or the
        catalog in an order with no filter (``sort_newest``) is not."""
        return self not in (Scenario.BOOK_BY_ID, Scenario.SUGGEST, Scenario.SORT_NEWEST)


# What the reference apps can answer: GET /books?author= and ?category= only.
REFERENCE_SCENARIOS = frozenset({Scenario.AUTHOR, Scenario.CATEGORY, Scenario.CATEGORY_BIG})
# The floor app also answers ?q= the textbook way (full-text on titles, no typos
# or prefixes): it is measured where that is the same question.
FLOOR_SCENARIOS = REFERENCE_SCENARIOS | {Scenario.Q_WORD, Scenario.Q_WORDS}
# Completions per keystroke, as a search box asks for them.
SUGGEST_LIMIT = 8
# The hot scenario: how many popular searches, and how often the most popular
# is asked (the n-th most popular is asked HOT_TOP_WEIGHT / n times as often).
HOT_SEARCHES = 50
HOT_TOP_WEIGHT = 100


def _search(**params: str | list[str]) -> str:
    return "/books?" + urlencode(params, doseq=True)


# Price ranges of the price_range scenario: a shopper's "under 10", "10 to 20"...
PRICE_RANGES = (("0", "10"), ("10", "20"), ("15", "30"), ("20", "50"), ("5", "15"))
# Paths of sort_price that are a second page: ``benchmarks.run`` follows the
# first page's next_cursor for these (a cursor is signed by the server).
SECOND_PAGE = "second-page:"


def _category_groups(slugs: list[str]) -> list[list[str]]:
    """Two or three of the biggest categories, every pair and triple of neighbours."""
    count = len(slugs)
    pairs = [[slugs[i], slugs[(i + 1) % count]] for i in range(count)]
    triples = [[slugs[i], slugs[(i + 2) % count], slugs[(i + 5) % count]] for i in range(count)]
    return [group for group in pairs + triples if len(set(group)) == len(group)]


def hot_paths(terms: SampledTerms) -> list[str]:
    """50 popular searches, each listed in proportion to its popularity (Zipf, s = 1).

    What a store's front page and search box send all day: a few category
    pages and words asked very often, a long tail asked rarely. wrk picks
    one path at random per request, so the first search is about 22% of the
    requests and the last 0.4%.

    >>> paths = hot_paths(terms)
    >>> len(set(paths)), paths.count(paths[0]) // paths.count(paths[-1])
    (50, 50)
    """
    kinds = [
        [_search(q=word) for word in terms.frequent_words[:20]],
        [_search(category=slug) for slug in terms.biggest_category_slugs[:10]],
        [_search(q=text) for text in terms.title_words[:10]],
        [_search(author=fragment) for fragment in terms.author_fragments[:10]],
    ]
    # Taken in turn, so that each kind has popular and rare members.
    ranked = [path for group in zip_longest(*kinds) for path in group if path is not None]
    ranked = list(dict.fromkeys(ranked))[:HOT_SEARCHES]
    return [
        path
        for rank, path in enumerate(ranked, start=1)
        for _ in range(max(1, round(HOT_TOP_WEIGHT / rank)))
    ]


def q_author_paths(terms: SampledTerms) -> list[str]:
    """Title words with an author's name (``?q=&author=``): every other one its book's
    author, who wrote it, the others an author sampled apart, who mostly did not.

    The author of a few books is what a page must pass: found among words a
    third of the catalog holds, or proved absent, when the words are dropped
    one by one too.
    """
    fragments = terms.author_fragments
    return [
        _search(q=text, author=own if n % 2 == 0 else fragments[n % len(fragments)])
        for n, (text, own) in enumerate(terms.title_words_by_author)
    ]


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
    if scenario is Scenario.Q_AUTHOR:
        return q_author_paths(terms)
    if scenario is Scenario.HOT:
        return hot_paths(terms)
    if scenario is Scenario.CATEGORIES_ANY:
        return [
            _search(category=group) for group in _category_groups(terms.biggest_category_slugs)
        ]
    if scenario is Scenario.CATEGORIES_ALL:
        return [
            _search(category=group[:2], category_mode="all")
            for group in _category_groups(terms.biggest_category_slugs)
        ]
    if scenario is Scenario.PRICE_RANGE:
        return [
            _search(category=slug, price_min=low, price_max=high)
            for slug in terms.biggest_category_slugs
            for low, high in PRICE_RANGES
        ]
    if scenario is Scenario.SORT_PRICE:
        first = [_search(category=slug, sort="price") for slug in terms.biggest_category_slugs]
        return first + [SECOND_PAGE + path for path in first]
    if scenario is Scenario.SORT_NEWEST:
        return [_search(sort="-created_at")]
    if scenario is Scenario.FACETS:
        return [
            _search(category=slug, facets="category,decade,price_band")
            for slug in terms.biggest_category_slugs
        ]
    if scenario is Scenario.TOTAL:
        return [_search(category=slug, with_total="true") for slug in terms.biggest_category_slugs]
    if scenario is Scenario.SUGGEST:
        return [
            "/books/suggest?" + urlencode({"q": prefix, "limit": SUGGEST_LIMIT})
            for prefix in terms.typed_prefixes
        ]
    return [f"/books/{book_id}" for book_id in terms.book_ids]
