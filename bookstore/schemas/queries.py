"""Query parameters of the listings and the search box."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from bookstore.schemas.base import (
    INT4_MAX,
    refuse_nul,
)

# -- query parameters ----------------------------------------------------------
#
# Each listing's query parameters are one model: FastAPI spreads its fields
# into the OpenAPI document as separate parameters, and ``extra="forbid"``
# turns a parameter the route does not know (``?titel=``) into a 422 naming
# it instead of a silently ignored one. A parameter that is not a list given
# twice is a 422 too (``refuse_repeats``, applied where the query string is
# read: bookstore.api.query_model_parsing).


# Free text: 1 to N characters, no NUL. Not stripped: spaces are text too.
AuthorTerm = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=200,
        description="Case-insensitive substring of the author's name.",
    ),
    AfterValidator(refuse_nul),
]
CategoryTerm = Annotated[
    str | None,
    Field(
        min_length=1, max_length=100, description="A category's slug or name, case-insensitive."
    ),
    AfterValidator(refuse_nul),
]
NameTerm = Annotated[
    str | None,
    Field(min_length=1, max_length=200, description="Case-insensitive substring of the name."),
    AfterValidator(refuse_nul),
]
# Longest search text, after trimming: longer is refused, not cut.
MAX_QUERY_TEXT = 200
MAX_QUERY_TEXT_AS_SENT = 2000
"""Longest value, as sent, of a search text (``q`` on /books and /books/suggest):
longer is refused before anything reads it.

Why 2000: far above anything well formed, and small enough that a hostile
value costs nothing to refuse. A search text is measured again after
trimming (``MAX_QUERY_TEXT``): 200 characters with spaces around them pass,
as the search box may send them.
"""
MAX_CURSOR = 3000
"""Longest ``cursor`` accepted: above the longest the API gives out.

A cursor carries the last book's title (a ``Title``: 300 characters) as
JSON in base64 with its id and signature: 440 characters for 300 ASCII
letters, 1,640 for 300 emoji (4 bytes each in UTF-8), 2,432 for 300 control
characters (escaped in JSON as six bytes each, "\u0001"), the longest. At
2000, the bound of a search text, a title of some 230 control characters
gave a next_cursor its own next page refused (422).
"""


def _at_most_max_after_trimming(value: str) -> str:
    if len(value.strip()) > MAX_QUERY_TEXT:
        raise ValueError(f"must be at most {MAX_QUERY_TEXT} characters after trimming")
    return value  # as typed: a trailing space means the last word is complete


def composed(value: str) -> str:
    """A search text composed (NFC): "Ma\u0301rquez", an accent typed as a letter and
    a combining mark (as some keyboards and pasted text send it), is "Márquez", so that
    its length is counted as the customer sees it (``MAX_QUERY_TEXT``) and the log and
    the suggestion hold one form of it. Its words are found either way: a word keeps
    its marks (``catalog.search.words.word_spans``) and the index folds them off."""
    return unicodedata.normalize("NFC", value)


def _search_text(value: str | None) -> str | None:
    if value is None:
        return None
    value = composed(value)
    if not value.strip():
        raise ValueError("must not be blank")
    return _at_most_max_after_trimming(value)


SearchText = Annotated[
    str | None,
    Field(
        max_length=MAX_QUERY_TEXT_AS_SENT,
        description=(
            "Search text, 1 to 200 characters: every word must match title, author, category"
            ' or description (typos tolerated, accents ignored); `"two words"` next to each'
            ' other; `-word` and `-"two words"` excluded (a text of exclusions only: 422);'
            " the last word also as a prefix unless followed by a space."
        ),
        examples=["tolkein hobit"],
    ),
    AfterValidator(refuse_nul),
    AfterValidator(_search_text),
]
# Not strict, unlike ``Id``: query parameters arrive as text.
OptionalIdParam = Annotated[int | None, Field(ge=1, le=INT4_MAX)]
PageLimit = Annotated[int, Field(ge=1, le=100, description="Page size, 1 to 100.")]
Cursor = Annotated[
    str | None,
    Field(max_length=MAX_CURSOR, description="The `next_cursor` of the previous page."),
]


class QueryModel(BaseModel):
    """The query parameters of one route; any other parameter answers 422, and so does
    one that is not a list given twice (FastAPI would read the last and ignore the first)."""

    model_config = ConfigDict(extra="forbid")
    refuse_repeats: ClassVar[bool] = True


class PageQuery(QueryModel):
    """A page of a listing: ``GET /authors/{id}/books``, ``/categories/{id}/books``."""

    limit: PageLimit = 20
    cursor: Cursor = None


# At most this many values of ``category`` (and as many of ``category_id``):
# each category of ``category_mode=any`` is one more index range per page.
MAX_CATEGORY_TERMS = 20
FACETS = ("category", "author", "decade", "price_band")
SortParam = Literal[
    "title",
    "-title",
    "published_year",
    "-published_year",
    "price",
    "-price",
    "created_at",
    "-created_at",
]
YearParam = Annotated[int | None, Field(ge=-5000, le=2100)]
PriceParam = Annotated[
    Decimal | None, Field(ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False)
]


def _facet_names(value: str | None) -> str | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",")]
    unknown = [name for name in names if name not in FACETS]
    if unknown:
        raise ValueError(f"unknown facet {unknown[0]!r}; facets are {', '.join(FACETS)}")
    if len(set(names)) != len(names):
        raise ValueError("each facet at most once")
    return ",".join(names)


class RangeQuery(QueryModel):
    """Year and price ranges, inclusive: the listings' and the exports'."""

    year_min: YearParam = Field(
        default=None, description="Published this year or later.", examples=[1950]
    )
    year_max: YearParam = Field(
        default=None, description="Published this year or earlier.", examples=[1979]
    )
    price_min: PriceParam = Field(
        default=None,
        description='At least this price, inclusive ("9.99" or 9.99). Books without a price'
        " are outside any price range.",
        examples=["5.00"],
    )
    price_max: PriceParam = Field(
        default=None, description="At most this price, inclusive.", examples=["15.00"]
    )

    @field_validator("year_max", "price_max")
    @classmethod
    def _range_in_order(cls, high: Any, info: ValidationInfo) -> Any:
        # The minimum is validated first; a refused one is missing from
        # ``info.data`` and has its own error already.
        field = info.field_name.removesuffix("_max")
        low = info.data.get(f"{field}_min")
        if low is not None and high is not None and low > high:
            raise ValueError(f"must not be less than {field}_min")
        return high


class BrowseQuery(RangeQuery):
    """The storefront's narrowing, order, facets and total, shared by every book listing."""

    facets: Annotated[str | None, Field(max_length=200), AfterValidator(_facet_names)] = Field(
        default=None,
        description="Comma-separated, any of `category`, `author`, `decade`, `price_band`: the"
        " number of matching books per value, each facet ignoring its own filter.",
        examples=["category,decade,price_band"],
    )
    facet_limit: Annotated[int, Field(ge=1, le=100)] = Field(
        default=20, description="Values per facet, largest first, 1 to 100.", examples=[10]
    )
    with_total: bool = Field(
        default=False,
        description="Add `total` (how many books match) and `total_is_estimate`.",
        examples=[True],
    )
    limit: PageLimit = 20
    cursor: Cursor = None


class ListingQuery(BrowseQuery):
    """``GET /categories/{id}/books``: the category's books, narrowed, sorted, counted."""

    sort: SortParam | None = Field(
        default=None,
        description="`title` (the default), `-title`, `published_year`, `price`, `created_at`"
        " (date added), each with `-` for descending. Books without the value come last in"
        " both directions; ties by id. A cursor continues only the sort it was issued for.",
        examples=["-published_year"],
    )


CategoryTerms = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100), AfterValidator(refuse_nul)]] | None,
    Field(
        max_length=MAX_CATEGORY_TERMS,
        description="A category's slug or name, case-insensitive; may be repeated (at most"
        f" {MAX_CATEGORY_TERMS}).",
        examples=[["fantasy", "horror"]],
    ),
]
CategoryIdTerms = Annotated[
    list[Annotated[int, Field(ge=1, le=INT4_MAX)]] | None,
    Field(
        max_length=MAX_CATEGORY_TERMS,
        description=f"A category's id; may be repeated (at most {MAX_CATEGORY_TERMS}).",
        examples=[[5, 12]],
    ),
]
CategoryModeParam = Annotated[
    Literal["any", "all"],
    Field(
        description="With several categories: `any` (the default) lists the books in at least"
        " one of them, `all` the books in every one.",
        examples=["all"],
    ),
]


class AuthorBooksQuery(ListingQuery):
    """``GET /authors/{id}/books``: the author's books, narrowed by category too."""

    category: CategoryTerms = None
    category_id: CategoryIdTerms = None
    category_mode: CategoryModeParam = "any"


class _BookTerms(QueryModel):
    """The search terms of ``GET /books``, listed first in its documentation."""

    q: SearchText = None
    author: AuthorTerm = None
    category: CategoryTerms = None
    author_id: OptionalIdParam = None
    category_id: CategoryIdTerms = None
    category_mode: CategoryModeParam = "any"


class BookQuery(BrowseQuery, _BookTerms):
    """``GET /books``: the search filters, combined with AND, the order and the page."""

    sort: Literal["relevance", SortParam] | None = Field(
        default=None,
        description="`relevance` (the default with `q`; needs `q`), `title` (the default"
        " otherwise), `-title`, `published_year`, `-published_year`, `price`, `-price`,"
        " `created_at`, `-created_at` (date added). Books without the value come last in"
        " both directions; ties by id. A cursor continues only the sort it was issued for.",
        examples=["price"],
    )
    highlight: bool = Field(
        default=False,
        description="With `q` (422 without): add `title_highlight` to each book.",
    )

    @field_validator("sort")
    @classmethod
    def _relevance_needs_q(cls, sort: str | None, info: ValidationInfo) -> str | None:
        # ``q`` is validated first; a refused ``q`` is missing from ``info.data``
        # and has its own error already.
        if sort == "relevance" and "q" in info.data and info.data["q"] is None:
            raise ValueError("relevance needs q")
        return sort

    @field_validator("highlight")
    @classmethod
    def _highlight_needs_q(cls, highlight: bool, info: ValidationInfo) -> bool:
        # As ``sort=relevance``: a listing has no matched words to mark, and a
        # silently ignored parameter looks like an answer (issue 9).
        if highlight and "q" in info.data and info.data["q"] is None:
            raise ValueError("highlight needs q")
        return highlight


class SuggestQuery(QueryModel):
    """``GET /books/suggest``: what has been typed so far."""

    # Measured as ``q=`` is, after trimming: the search box sends both the same
    # text, so both must take the same texts. Blank is no error: a space typed
    # first completes nothing.
    q: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_QUERY_TEXT_AS_SENT,
            description="What has been typed so far, up to 200 characters after trimming.",
        ),
        AfterValidator(refuse_nul),
        AfterValidator(composed),
        AfterValidator(_at_most_max_after_trimming),
    ]
    limit: Annotated[int, Field(ge=1, le=20, description="At most this many, 1 to 20.")] = 8


class AuthorQuery(QueryModel):
    """``GET /authors``: a name filter and the page."""

    name: NameTerm = None
    limit: PageLimit = 20
    cursor: Cursor = None


class SearchLogQuery(QueryModel):
    """``GET /search-logs``."""

    limit: Annotated[int, Field(ge=1, le=1000, description="How many, 1 to 1000.")] = 50


class SearchStatsQuery(QueryModel):
    """``GET /search-logs/stats``: a range of time and the chart's bucket."""

    since: datetime | None = Field(
        default=None,
        description="ISO 8601; default: 7 days before `until`. Rounded down to the hour. "
        "Without an offset, UTC.",
    )
    until: datetime | None = Field(
        default=None,
        description="ISO 8601, excluded; default: now. Rounded up to the hour.",
    )
    bucket: Literal["hour", "day"] = Field(
        default="day", description="The width of `by_bucket`'s entries (days are UTC days)."
    )
    limit: Annotated[int, Field(ge=1, le=100, description="Length of each top list.")] = 20
