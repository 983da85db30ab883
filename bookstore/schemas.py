"""Pydantic models for every request body and response of the API.

Validation lives here so that bad input becomes a 422 before any query runs:
lengths match the column sizes, integers fit PostgreSQL's ``integer``, and
NUL characters (which PostgreSQL text cannot hold) are refused.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bookstore.isbn import normalize_isbn

INT4_MAX = 2_147_483_647


def refuse_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _text(max_length: int, *, min_length: int = 0) -> Any:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(refuse_nul),
    ]


# Strict: JSON true is not the integer 1.
Id = Annotated[int, Field(strict=True, ge=1, le=INT4_MAX)]
Title = _text(300, min_length=1)
AuthorName = _text(200, min_length=1)
CategoryName = _text(100, min_length=1)
LongText = _text(100_000)
Slug = Annotated[str, StringConstraints(max_length=100, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
PublishedYear = Annotated[int, Field(strict=True, ge=-5000, le=2100)]
Price = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False)]


def slugify(name: str) -> str:
    """``"Science Fiction & Fantasy"`` -> ``"science-fiction-fantasy"``."""
    # Apostrophes join words ("Children's" -> "childrens"), they do not split them.
    name = name.replace("'", "").replace("\u2019", "")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:100].rstrip("-")


@lru_cache(maxsize=65_536)
def cached_slug(name: str) -> str:
    """``slugify`` for the category names of an import: a file repeats the same few."""
    return slugify(name)


def refuse_null(value: object) -> object:
    """For PATCH bodies: a field may be left out, but not set to null."""
    if value is None:
        raise ValueError("cannot be null")
    return value


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- authors -----------------------------------------------------------------


class AuthorCreate(Model):
    name: AuthorName
    bio: LongText | None = None


class AuthorUpdate(Model):
    name: AuthorName | None = None
    bio: LongText | None = None

    _not_null = field_validator("name")(refuse_null)


class AuthorRef(BaseModel):
    id: int
    name: str


class AuthorOut(BaseModel):
    id: int
    name: str
    bio: str | None


class AuthorPage(BaseModel):
    items: list[AuthorOut]
    next_cursor: str | None


# -- categories --------------------------------------------------------------


class CategoryCreate(Model):
    name: CategoryName
    slug: Slug | None = Field(default=None, description="Derived from the name when omitted.")
    description: LongText | None = None

    @model_validator(mode="after")
    def _derive_slug(self) -> CategoryCreate:
        if self.slug is None:
            self.slug = slugify(self.name)
            if not self.slug:
                raise ValueError("cannot derive a slug from this name; give one")
        return self


class CategoryUpdate(Model):
    name: CategoryName | None = None
    slug: Slug | None = None
    description: LongText | None = None

    _not_null = field_validator("name", "slug")(refuse_null)


class CategoryRef(BaseModel):
    id: int
    name: str
    slug: str


class CategoryOut(CategoryRef):
    description: str | None


class CategoryList(BaseModel):
    items: list[CategoryOut]


# -- books -------------------------------------------------------------------


def _isbn(value: str | None) -> str | None:
    return None if value is None else normalize_isbn(value)


Isbn = Annotated[
    str, StringConstraints(max_length=32), AfterValidator(refuse_nul), AfterValidator(_isbn)
]
CategoryIds = Annotated[list[Id], Field(max_length=100)]


def _unique_ids(ids: list[int] | None) -> list[int] | None:
    return None if ids is None else list(dict.fromkeys(ids))


class BookCreate(Model):
    title: Title
    author_id: Id
    category_ids: Annotated[CategoryIds, AfterValidator(_unique_ids)] = Field(default_factory=list)
    isbn: Isbn | None = Field(default=None, description="ISBN-10 or ISBN-13; stored as ISBN-13.")
    published_year: PublishedYear | None = None
    price: Price | None = Field(default=None, description='Decimal string ("12.50") or number.')
    description: LongText | None = None


class BookUpdate(Model):
    """Only the fields present change; ``category_ids`` replaces the whole set."""

    title: Title | None = None
    author_id: Id | None = None
    category_ids: Annotated[CategoryIds, AfterValidator(_unique_ids)] | None = None
    isbn: Isbn | None = None
    published_year: PublishedYear | None = None
    price: Price | None = None
    description: LongText | None = None

    _not_null = field_validator("title", "author_id", "category_ids")(refuse_null)


class BookOut(BaseModel):
    id: int
    title: str
    isbn: str | None
    published_year: int | None
    price: str | None = Field(description='Two decimals, e.g. "12.50".')
    description: str | None
    author: AuthorRef
    categories: list[CategoryRef] = Field(description="Sorted by name.")
    created_at: datetime
    updated_at: datetime


class BookHit(BookOut):
    """A book in a listing; with ``q=``, also how well it matched."""

    score: int | None = Field(
        default=None, description="With `q=`: relevance, higher is better. Absent otherwise."
    )
    title_highlight: str | None = Field(
        default=None,
        description="With `q=` and `highlight=true`: the title, HTML-escaped, the matched"
        " words inside `<mark>`. Absent otherwise.",
    )


class BookPage(BaseModel):
    items: list[BookHit]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )
    ignored_words: list[str] | None = Field(
        default=None,
        description="With `q=`: the words left out because no book matched them (with the"
        " rest). Absent otherwise.",
    )
    suggestion: str | None = Field(
        default=None,
        description="With `q=`: the query with its misspelt words corrected, when a word was"
        " corrected or nothing matched; else null. Absent otherwise.",
    )
    total: int | None = Field(
        default=None,
        description="With `with_total=true`: how many books match. Absent otherwise.",
        examples=[1204],
    )
    total_is_estimate: bool | None = Field(
        default=None,
        description="With `with_total=true`: true when `total` is an estimate (more than"
        " 1,000 books match), false when it is exact.",
    )
    facets: Facets | None = Field(
        default=None, description="With `facets=`: the counts per value. Absent otherwise."
    )
    facets_is_estimate: bool | None = Field(
        default=None,
        description="With `facets=`: true when some count is an estimate (a facet's set holds"
        " more than 1,000 books), false when all are exact.",
    )


class CategoryCount(BaseModel):
    id: int
    name: str
    slug: str
    count: int


class AuthorCount(BaseModel):
    id: int
    name: str
    count: int


class DecadeCount(BaseModel):
    value: int = Field(description="The decade's first year: 1960 for 1960-1969.")
    count: int


class PriceBandCount(BaseModel):
    min: str = Field(description='Lowest price of the band, inclusive ("10.00").')
    max: str | None = Field(description="Highest price, exclusive; null for the last band.")
    count: int


class Facets(BaseModel):
    """Per facet asked for, the number of matching books per value, largest first.

    Each facet ignores its own filter: the category counts ignore the
    categories asked for, the decade counts the year range, and so on.
    """

    category: list[CategoryCount] | None = None
    author: list[AuthorCount] | None = None
    decade: list[DecadeCount] | None = None
    price_band: list[PriceBandCount] | None = None


class Suggestion(BaseModel):
    kind: str = Field(description='"title", "author" or "category".')
    text: str
    id: int = Field(description="The book's, author's or category's id.")


class SuggestionList(BaseModel):
    items: list[Suggestion]


# -- query parameters ----------------------------------------------------------
#
# Each listing's query parameters are one model: FastAPI spreads its fields
# into the OpenAPI document as separate parameters, and ``extra="forbid"``
# turns a parameter the route does not know (``?titel=``) into a 422 naming
# it instead of a silently ignored one.


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


def _search_text(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise ValueError("must not be blank")
    if len(text) > MAX_QUERY_TEXT:
        raise ValueError(f"must be at most {MAX_QUERY_TEXT} characters after trimming")
    return value  # as typed: a trailing space means the last word is complete


SearchText = Annotated[
    str | None,
    Field(
        max_length=2000,
        description=(
            "Search text, 1 to 200 characters: every word must match title, author, category"
            ' or description (typos tolerated, accents ignored); `"two words"` next to each'
            " other; `-word` excluded; the last word also as a prefix unless followed by a"
            " space."
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
    str | None, Field(max_length=2000, description="The `next_cursor` of the previous page.")
]


class QueryModel(BaseModel):
    """The query parameters of one route; any other parameter answers 422."""

    model_config = ConfigDict(extra="forbid")


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


class BrowseQuery(QueryModel):
    """The storefront's narrowing, order, facets and total, shared by every book listing."""

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
        default=False, description="With `q`: add `title_highlight` to each book."
    )

    @field_validator("sort")
    @classmethod
    def _relevance_needs_q(cls, sort: str | None, info: ValidationInfo) -> str | None:
        # ``q`` is validated first; a refused ``q`` is missing from ``info.data``
        # and has its own error already.
        if sort == "relevance" and "q" in info.data and info.data["q"] is None:
            raise ValueError("relevance needs q")
        return sort


class SuggestQuery(QueryModel):
    """``GET /books/suggest``: what has been typed so far."""

    q: Annotated[
        str,
        Field(min_length=1, max_length=200, description="What has been typed so far."),
        AfterValidator(refuse_nul),
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


# -- search logs and health --------------------------------------------------


class SearchLogOut(BaseModel):
    id: int
    author: str | None
    category: str | None
    q: str | None = Field(description="The search box's text, as typed.")
    query: str | None
    result_count: int
    duration_ms: float
    created_at: datetime


class SearchLogList(BaseModel):
    items: list[SearchLogOut]


class TopSearch(BaseModel):
    search: str = Field(
        description="The search, folded for case, accents and spacing: the q, or "
        "`author: ... · category: ...` for a search by names."
    )
    q: str | None = Field(description="The search box's text, folded; null for a search by names.")
    author: str | None = Field(description="The author name searched (folded), when no q.")
    category: str | None = Field(description="The category searched (folded), when no q.")
    searches: int = Field(description="How many times it was searched in the range.")
    zero_result_searches: int = Field(description="How many of those found nothing.")
    params: dict[str, str] = Field(
        description="One of its searches as typed, as `GET /books` parameters: replays it."
    )


class StatsBucket(BaseModel):
    start: datetime = Field(description="The hour or (UTC) day this entry covers.")
    searches: int
    zero_result_searches: int
    p95_ms: float | None = Field(description="null when there was no search.")


class SearchStats(BaseModel):
    since: datetime = Field(description="The range covered, widened to whole hours.")
    until: datetime
    bucket: Literal["hour", "day"]
    searches: int
    zero_result_searches: int
    zero_result_rate: float | None = Field(
        description="Share of searches that found nothing, 0 to 1; null without searches."
    )
    p50_ms: float | None = Field(
        description="Median duration: the upper bound of its histogram bucket (at most 10% "
        "above the true value), 0.1 ms; null without searches."
    )
    p95_ms: float | None = Field(description="95th percentile, as p50_ms.")
    top_queries: list[TopSearch] = Field(description="Most frequent searches first.")
    top_zero_result: list[TopSearch] = Field(
        description="The searches that most often found nothing, most zero-result searches first."
    )
    by_bucket: list[StatsBucket] = Field(description="Every hour or day of the range, in order.")


class SearchLogHealth(BaseModel):
    written: int = Field(description="Search rows written since the process started.")
    pending: int = Field(description="Searches buffered, waiting to be written.")
    dropped: int = Field(description="Searches not logged: the buffer was full.")
    failed_writes: int = Field(description="Batch writes that failed and were retried.")


class ReplicaHealth(BaseModel):
    url: str = Field(description="The replica's URL, without its password.")
    state: Literal["ok", "lagging", "down"] = Field(
        description="ok: serving reads; lagging: further behind than "
        "BOOKSTORE_REPLICA_MAX_LAG_S; down: not answering. Either of the last two "
        "is left out of reads until it recovers."
    )
    lag_s: float | None = Field(description="Seconds behind the primary at the last check.")


class Health(BaseModel):
    status: str
    database: str
    replicas: list[ReplicaHealth] = Field(
        default_factory=list,
        description="Each read replica (BOOKSTORE_REPLICA_URLS); one down does not make "
        "the service unhealthy.",
    )
    search_log: SearchLogHealth


class ErrorOut(BaseModel):
    detail: Any


# -- catalog import and export -----------------------------------------------


class BookExportQuery(Model):
    """The filters of ``GET /books/export.csv|jsonl``: those of ``GET /books``, no paging.

    An unknown parameter answers 422 (``extra="forbid"``): a misspelt filter
    must not silently export the whole catalog.
    """

    author: Annotated[
        str | None,
        StringConstraints(min_length=1, max_length=200),
        AfterValidator(refuse_nul),
        Field(description="Case-insensitive substring of the author's name."),
    ] = None
    category: Annotated[
        str | None,
        StringConstraints(min_length=1, max_length=100),
        AfterValidator(refuse_nul),
        Field(description="A category's slug or name, case-insensitive."),
    ] = None
    author_id: Annotated[int | None, Field(ge=1, le=INT4_MAX)] = None
    category_id: Annotated[int | None, Field(ge=1, le=INT4_MAX)] = None


def _category_names(value: object) -> object:
    """``"Fantasy; Classics"`` -> ``["Fantasy", "Classics"]``; a list is taken as it is."""
    if isinstance(value, str):
        return [name for name in value.split(";") if name.strip()]
    return value


def _sluggable_categories(names: list[str] | None) -> list[str] | None:
    """Each name once (ignoring case), each able to give a slug, as ``POST /categories`` asks."""
    if not names:
        return None  # no categories named: the book's stay as they are
    unique: dict[str, str] = {}
    for name in names:
        if not cached_slug(name):
            raise ValueError(f"cannot derive a slug from the category name {name!r}")
        unique.setdefault(name.casefold(), name)
    return list(unique.values())


class BookImportRow(Model):
    """One row of an import file (CSV or JSON Lines), checked by the rules of ``BookCreate``.

    The author and the categories are named, not given by id: missing ones
    are created. ``categories`` is one string of names separated by ``;``
    (a JSON list is accepted too). A field left out, or empty, or null,
    keeps what the catalog holds; it never erases a value.
    """

    title: Title
    author: AuthorName
    isbn: Isbn | None = None
    categories: Annotated[
        list[CategoryName] | None,
        BeforeValidator(_category_names),
        Field(max_length=100),
        AfterValidator(_sluggable_categories),
    ] = None
    published_year: PublishedYear | None = None
    price: Price | None = None
    description: LongText | None = None


class ImportProblem(BaseModel):
    line: int = Field(description="Line of the file where the row starts (the header is 1).")
    field: str = Field(description="The field at fault; empty when it is the whole row.")
    reason: str


class ImportReport(BaseModel):
    created: int = Field(description="Rows that created a book.")
    updated: int = Field(description="Rows that changed a book.")
    unchanged: int = Field(description="Rows that matched a book already as they say.")
    rejected: int = Field(description="Rows refused; each has its reasons in `problems`.")
    dry_run: bool = Field(description="True: checked and counted, nothing written.")
    problems: list[ImportProblem]


class BookImportQuery(Model):
    """The parameters of ``POST /books/import``."""

    format: Annotated[
        str | None,
        Field(
            pattern="^(csv|jsonl)$",
            description="csv or jsonl; default: from the Content-Type.",
        ),
    ] = None
    dry_run: bool = Field(default=False, description="Check and count, write nothing.")
