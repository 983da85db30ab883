"""Field types and the base model shared by every request and response.

Validation lives in these types so that bad input becomes a 422 before any
query runs: lengths match the column sizes, integers fit PostgreSQL's
``integer``, and NUL characters (which PostgreSQL text cannot hold) are
refused.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
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


def _isbn(value: str | None) -> str | None:
    return None if value is None else normalize_isbn(value)


Isbn = Annotated[
    str, StringConstraints(max_length=32), AfterValidator(refuse_nul), AfterValidator(_isbn)
]


def slugify(name: str) -> str:
    """``"Science Fiction & Fantasy"`` -> ``"science-fiction-fantasy"``."""
    # Imported here: the catalog package imports these schemas.
    from bookstore.catalog.search.words import fold

    # Apostrophes join words ("Children's" -> "childrens"), they do not split them.
    name = name.replace("'", "").replace("\u2019", "")
    # Folded as the search folds ("Ærø Œnology" -> "aero oenology"): NFKD keeps
    # æ, ø, œ, ß, ł whole, and the ASCII encoding below dropped them.
    ascii_name = fold(name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:100].rstrip("-")


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


class ErrorOut(BaseModel):
    detail: Any
