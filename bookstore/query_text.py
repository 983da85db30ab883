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
as Piccolo does. One difference: a list passed more than once (the same
object: a term's words, written once per field by ``catalog.search.ranking``)
is sent once and its placeholder repeated. asyncpg checks every element of an
array for being a nested array (two ``isinstance`` calls against
``collections.abc`` classes, each through a Python-level ``__instancecheck__``),
and a search of a word and a prefix sent the prefix's twenty completions eight
times a statement. Only a list is shared, never a tuple: the empty tuple is one
object, and the text of a statement must not depend on which of its arrays
happen to be empty.

A statement whose text depends on its shape only can be compiled once per
shape and kept: ``Compiled`` holds that text and one request's arguments,
and ``compile_postgres`` inlines it without walking a tree
(``catalog.search.levels``: a search's page by levels, 2026-11-30).
"""

from __future__ import annotations

import functools
import re
from string import Formatter
from typing import Any

from piccolo.querystring import QueryString


class Sql(QueryString):
    """A ``QueryString`` whose arguments are taken as they are.

    Piccolo's constructor asks of every argument whether it is a ``Column``
    and then whether it is a ``QueryString`` (both abstract classes: each
    ``isinstance`` runs ABCMeta's Python-level ``__instancecheck__``) and
    imports ``piccolo.columns`` to ask it. The data layer never passes a
    column, and a search builds some twenty of these per request (a term's
    score is a ``CASE`` per set of words). Compiled by ``compile_postgres``
    or Piccolo alike::

        Sql("s.title && {}::text[]", ["ash"])
    """

    __slots__ = ()

    def __init__(self, template: str, *args: Any) -> None:
        self.template = template
        self.args = args
        self.columns = ()
        self.query_type = "generic"
        self.table = None
        self._frozen_compiled_strings = None
        self._alias = None


class Compiled(Sql):
    """A statement already compiled: its text (``$1`` to ``$n``) and this request's arguments.

    For statements whose text depends on their shape only: the text is
    compiled once per shape and kept, and a request supplies the arguments
    alone, in the order of their placeholders. ``compile_postgres`` inlines
    it as it is where it comes first (the page of ``catalog.details``'s
    statements does), else with its placeholders renumbered after the
    arguments before it. Its text must hold no ``$`` but its placeholders.
    Only ``compile_postgres`` knows it, not Piccolo's ``compile_string``::

        Compiled("SELECT id FROM books WHERE id = ANY($1::integer[])", [[1, 2]])
    """

    __slots__ = ("text", "values")

    def __init__(self, text: str, values: list[Any]) -> None:
        super().__init__("")
        self.text = text
        self.values = values


_PLACEHOLDER = re.compile(r"\$(\d+)")


def _renumbered(text: str, offset: int) -> str:
    """``text`` with each ``$n`` written ``$(n + offset)``."""
    return _PLACEHOLDER.sub(lambda found: f"${int(found[1]) + offset}", text)


@functools.cache
def _is_query_string(kind: type) -> bool:
    """``isinstance(value, QueryString)`` asked of ``type(value)`` once per type, not per value."""
    return issubclass(kind, QueryString)


@functools.lru_cache(maxsize=4096)
def _literals(template: str) -> tuple[str, ...]:
    """The text before each placeholder of ``template`` (and after the last, if any)."""
    return tuple(literal for literal, *_ in Formatter().parse(template))


def compile_postgres(query: QueryString) -> tuple[str, list[Any]]:
    """``query.compile_string(engine_type="postgres")``, without parsing its templates again."""
    frozen = query._frozen_compiled_strings
    if frozen is not None:
        return frozen
    if type(query) is Compiled:
        return query.text, list(query.values)
    parts: list[str] = []
    args: list[Any] = []
    _inline(query, parts, args, {})
    return "".join(parts), args


def _inline(query: QueryString, parts: list[str], args: list[Any], arrays: dict[int, str]) -> None:
    """Append ``query``'s text to ``parts`` and its values to ``args``.

    ``arrays``: the placeholder of each list already sent, by identity (the
    tree holds them all while it compiles, so no id is reused).
    """
    values = query.args
    count = len(values)
    for index, literal in enumerate(_literals(query.template)):
        parts.append(literal)
        if index >= count:
            continue
        value = values[index]
        if type(value) is Compiled:
            parts.append(_renumbered(value.text, len(args)) if args else value.text)
            args.extend(value.values)
        elif _is_query_string(type(value)):
            _inline(value, parts, args, arrays)
        elif isinstance(value, list):
            placeholder = arrays.get(id(value))
            if placeholder is None:
                args.append(value)
                placeholder = arrays[id(value)] = f"${len(args)}"
            parts.append(placeholder)
        else:
            args.append(value)
            parts.append(f"${len(args)}")
