"""Piccolo ``QueryString`` trees compiled to PostgreSQL's text, each template parsed once.

Every read of the service builds its statement as nested ``QueryString``
objects and compiles it with ``compile_string``, which parses every
template again (``string.Formatter().parse``) and makes a ``Fragment`` per
placeholder, for every request: 2.6% of a category search's worker CPU
(py-spy, 2026-11-29), for a handful of templates that never change.

``compile_postgres`` gives the same text and arguments as Piccolo's
``compile_string(engine_type="postgres")`` (tests/test_query_text.py
compares them on every statement shape of the listings): the i-th argument
of a template fills its i-th placeholder, a nested ``QueryString`` is
inlined, any other value becomes the next ``$n``; arguments beyond the
placeholders are dropped, placeholders beyond the arguments are left out,
as Piccolo does.
"""

from __future__ import annotations

import functools
from string import Formatter
from typing import Any

from piccolo.querystring import QueryString


@functools.lru_cache(maxsize=4096)
def _literals(template: str) -> tuple[str, ...]:
    """The text before each placeholder of ``template`` (and after the last, if any)."""
    return tuple(literal for literal, *_ in Formatter().parse(template))


def compile_postgres(query: QueryString) -> tuple[str, list[Any]]:
    """``query.compile_string(engine_type="postgres")``, without parsing its templates again."""
    frozen = query._frozen_compiled_strings
    if frozen is not None:
        return frozen
    parts: list[str] = []
    args: list[Any] = []
    _inline(query, parts, args)
    return "".join(parts), args


def _inline(query: QueryString, parts: list[str], args: list[Any]) -> None:
    values = query.args
    count = len(values)
    for index, literal in enumerate(_literals(query.template)):
        parts.append(literal)
        if index >= count:
            continue
        value = values[index]
        if isinstance(value, QueryString):
            _inline(value, parts, args)
        else:
            args.append(value)
            parts.append(f"${len(args)}")
