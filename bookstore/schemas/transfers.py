"""Catalog import and export: parameters, rows and reports."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
)

from bookstore.schemas.base import (
    AuthorName,
    CategoryName,
    Isbn,
    LongText,
    Model,
    Price,
    PublishedYear,
    Title,
    cached_slug,
)
from bookstore.schemas.queries import (
    AuthorTerm,
    CategoryIdTerms,
    CategoryModeParam,
    CategoryTerms,
    OptionalIdParam,
    QueryModel,
    RangeQuery,
)

# -- catalog import and export -----------------------------------------------


class BookExportQuery(RangeQuery):
    """The filters of ``GET /books/export.csv|jsonl``: those of ``GET /books``, no paging.

    An unknown parameter answers 422 (``extra="forbid"``): a misspelt filter
    must not silently export the whole catalog.
    """

    author: AuthorTerm = None
    category: CategoryTerms = None
    author_id: OptionalIdParam = None
    category_id: CategoryIdTerms = None
    category_mode: CategoryModeParam = "any"


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


class BookImportQuery(QueryModel):
    """The parameters of ``POST /books/import``.

    A ``QueryModel``, so that ``?dry_run=true&dry_run=false`` is a 422: read as
    FastAPI reads it, the last value won and the file was written.
    """

    format: Annotated[
        str | None,
        Field(
            pattern="^(csv|jsonl)$",
            description="csv or jsonl; default: from the Content-Type.",
        ),
    ] = None
    dry_run: bool = Field(default=False, description="Check and count, write nothing.")
