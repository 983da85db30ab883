"""Pieces of hand-written SQL shared by the data layer's statements.

The API's pool plans each statement once for any parameters
(``database.pool_options``), so what a generic plan cannot know is written
into the statement text here: LIMITs as literals, page sizes rounded to a
few values, and the keyset condition in the shape the ordering index serves.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from piccolo.querystring import QueryString

from bookstore.pagination import SortKey
from bookstore.query_text import Sql

Row = dict[str, Any]

# The largest LIMIT a statement may carry: a page is at most 101 rows, a
# narrow author lookup at most 1,001 ids (``filters.NARROW_AUTHOR_MATCH`` + 1),
# and 2,001 counted the books of a small category until 2026-11-29 (now read
# from ``category_counts``).
MAX_LITERAL_LIMIT = 2001

_TRIGRAM = re.compile(r"\w{3}")


def has_trigram(fragment: str) -> bool:
    """Whether a trigram index can find ``fragment``: three word characters in a row."""
    return _TRIGRAM.search(fragment) is not None


def contains_pattern(fragment: str) -> str:
    """An ILIKE pattern matching ``fragment`` literally anywhere in the text.

    ``%``, ``_`` and ``\\`` typed by a user are data, not wildcards.
    """
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def literal_limit(rows: int) -> str:
    """A LIMIT written into the statement, not passed as a parameter.

    Statements are planned once for all parameters (``force_generic_plan``),
    and for ``LIMIT $1`` the planner guesses a tenth of the table: it then
    prefers hashing all of books to probing the few ids of a page. Limits
    are small validated integers, so each value is its own statement.
    """
    if not 1 <= rows <= MAX_LITERAL_LIMIT:
        raise ValueError(f"unexpected LIMIT {rows!r}")
    return f"LIMIT {int(rows)}"


# Page sizes fetched from the database: any other size is rounded up to one of
# these. Each LIMIT is its own statement, prepared and planned per connection;
# clients asking for every size from 1 to 100 would otherwise churn asyncpg's
# cache of 100 statements per connection, and re-plan on every request.
FETCH_SIZES = (11, 21, 51, 101)


def rows_to_fetch(wanted: int) -> int:
    return next((size for size in FETCH_SIZES if size >= wanted), wanted)


def after_key(columns: str, key: SortKey) -> QueryString:
    """Rows after ``key`` in the order of ``columns`` (title, then id): the keyset cursor."""
    return Sql(f"({columns}) > ({{}}, {{}})", key.text, key.id)


def all_of(conditions: list[QueryString]) -> QueryString:
    """The conditions joined by AND; TRUE when there are none."""
    if not conditions:
        return Sql("TRUE")
    return Sql(_conjunction(len(conditions)), *conditions)


@functools.cache
def _conjunction(count: int) -> str:
    """``{} AND {} AND ...``: one template per number of conditions, not one per statement."""
    return " AND ".join(["{}"] * count)
