"""Bodies and responses of the catalog's resources: authors, categories, books."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    field_validator,
    model_validator,
)

from bookstore.schemas.base import (
    AuthorName,
    CategoryName,
    Id,
    Isbn,
    LongText,
    Model,
    Price,
    PublishedYear,
    Slug,
    Title,
    refuse_null,
    slugify,
)

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
        description="With `q=`: the text typed with its misspelt words corrected, when a word"
        " was corrected, and the rest as typed (quotes, `-word`s, stop words, a trailing"
        " space): a text to search as it stands; when no book was found, its words that"
        " found nothing replaced by the nearest words of the catalog beyond their typos, if"
        " that text finds a book ('hobbbbbit' -> 'hobbit'); else null. Absent otherwise.",
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
