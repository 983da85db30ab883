"""FastAPI's parsing of query-parameter models, without re-deriving static facts per request.

``GET /books`` takes its twenty parameters as one pydantic model
(``Annotated[BookQuery, Query()]``). For every request FastAPI 0.165 walks
the model's fields one by one (``_request_param_model_to_args``): for each,
it derives the field's aliases, asks ``field_annotation_is_sequence``
(``typing.get_origin``, ``get_args``, ``issubclass``) and whether it is a
``Json`` field, then looks the name up in the query string; the answers
depend on the model only, which never changes once the app is built. That
walk was 11% of a category search's worker CPU (py-spy, 2026-11-29).

``install()`` does two things, both falling back to FastAPI's own code for
anything they were not written for:

- ``field_annotation_is_sequence`` remembers its answer per annotation
  (every other caller of it, e.g. header and path parameters);
- a query model read from a query string is gathered by a plan made once
  per route parameter (``QueryModelPlan``): one pass over the query
  string's items, then the model's own pydantic validation. The dict
  handed to pydantic is the one FastAPI builds (the same keys, values and
  order, extras included), so validation, error messages and their order
  are FastAPI's; the OpenAPI document is untouched.
  tests/test_query_model_parsing.py compares both on hostile query strings.
- a model whose ``refuse_repeats`` is true (every ``QueryModel``) answers
  422 for a parameter that is not a list given twice, before validation.
  It was a route dependency, which FastAPI solved per request as a
  dependant of its own (``solve_dependencies`` again): 2.6% of a category
  search's instructions.

>>> install()  # once, before the app serves (``create_app`` does it)
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi.dependencies import utils as fastapi_dependency_utils
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.datastructures import QueryParams

_ORIGINAL_ATTRIBUTE = "__bookstore_original__"
_CHECK = "field_annotation_is_sequence"
_MODEL_TO_ARGS = "_request_param_model_to_args"


def remembered(function: Callable[[object], bool]) -> Callable[[object], bool]:
    """``function`` of an annotation, its answers kept per hashable annotation."""
    kept = functools.lru_cache(maxsize=4096)(function)

    def annotation_check(annotation: object) -> bool:
        try:
            return kept(annotation)
        except TypeError:  # unhashable, e.g. Annotated with a list in it
            return function(annotation)

    setattr(annotation_check, _ORIGINAL_ATTRIBUTE, function)
    return annotation_check


@dataclass(frozen=True, slots=True)
class QueryModelPlan:
    """How FastAPI gathers one query model's input, worked out once.

    ``fields``: (query name, takes repeats) per field, in the model's order.
    FastAPI gives a list field every value of its name, any other field the
    last one, leaves out the names not sent, then adds every other name sent
    (the model's ``extra`` policy judges them): one value alone, several as
    a list, in the order they first appear.
    """

    fields: tuple[tuple[str, bool], ...]
    loc: tuple[str, ...]

    def gather(self, query: QueryParams) -> dict[str, Any]:
        sent: dict[str, list[str]] = {}
        for name, value in query.multi_items():
            values = sent.get(name)
            if values is None:
                sent[name] = [value]
            else:
                values.append(value)
        gathered: dict[str, Any] = {}
        for name, repeats in self.fields:
            values = sent.pop(name, None)
            if values is not None:
                gathered[name] = values if repeats else values[-1]
        for name, values in sent.items():
            gathered[name] = values[0] if len(values) == 1 else values
        return gathered


def refuse_repeats(query: QueryParams, repeatable: frozenset[str]) -> None:
    """422 when a name not in ``repeatable`` (the model's list fields) comes twice.

    FastAPI reads the last of ``?sort=price&sort=-price``, and the first
    would be ignored without a word. Unknown names count too: ``extra``
    would refuse them anyway, and a repeated one is named as repeated.
    """
    items = query.multi_items()
    if len(items) == len(query):  # the common case: each name once
        return
    counts = Counter(name for name, _ in items)
    errors = [
        {
            "type": "repeated_parameter",
            "loc": ("query", name),
            "msg": "Given more than once; give it once",
            "input": query.getlist(name),
        }
        for name, count in counts.items()
        if count > 1 and name not in repeatable
    ]
    if errors:
        raise RequestValidationError(errors)


def _repeatable(model: type[BaseModel]) -> frozenset[str] | None:
    """The names ``model`` takes several times, or None if it lets any name repeat."""
    if not getattr(model, "refuse_repeats", False):
        return None
    check = fastapi_dependency_utils.field_annotation_is_sequence
    check = getattr(check, _ORIGINAL_ATTRIBUTE, check)
    return frozenset(name for name, field in model.model_fields.items() if check(field.annotation))


def query_model_plan(model_field: Any, model: type[BaseModel]) -> QueryModelPlan | None:
    """The plan of a query model parameter, or None where FastAPI's own walk must answer.

    Only what this plan reproduces exactly is planned: a ``Query()`` whose
    annotation is the model itself, fields with one name each (no
    ``AliasChoices``, no ``Json``), no two fields under one name.
    """
    field_info = model_field.field_info
    if not isinstance(field_info, params.Query) or field_info.annotation is not model:
        return None
    utils = fastapi_dependency_utils
    check = getattr(utils.field_annotation_is_sequence, _ORIGINAL_ATTRIBUTE, None)
    check = check or utils.field_annotation_is_sequence
    fields = []
    for field in utils.get_cached_model_fields(model):
        aliases = utils._get_param_aliases(field, convert_underscores=False)
        if len(aliases) != 1 or aliases[0][0] != aliases[0][1] or utils._is_json_field(field):
            return None
        fields.append((aliases[0][0], bool(check(field.field_info.annotation))))
    if len({name for name, _ in fields}) != len(fields):
        return None
    return QueryModelPlan(tuple(fields), (field_info.in_.value,))


ModelToArgs = Callable[..., tuple[Any, list[Any]]]


def planned(original: ModelToArgs) -> ModelToArgs:
    """FastAPI's ``_request_param_model_to_args``, answered by a plan per parameter if one fits."""
    plans: dict[int, tuple[Any, QueryModelPlan | None, frozenset[str] | None]] = {}

    def request_param_model_to_args(
        model_field: Any, model: type[BaseModel], received_params: Mapping[str, Any]
    ) -> tuple[Any, list[Any]]:
        if type(received_params) is not QueryParams:
            return original(model_field, model, received_params)
        kept = plans.get(id(model_field))
        if kept is None or kept[0] is not model_field:
            # The field is kept with its plan: its id cannot be reused meanwhile.
            plan = query_model_plan(model_field, model)
            kept = plans[id(model_field)] = (model_field, plan, _repeatable(model))
        _, plan, repeatable = kept
        if repeatable is not None:
            refuse_repeats(received_params, repeatable)
        if plan is None:
            return original(model_field, model, received_params)
        return model_field.validate(plan.gather(received_params), {}, loc=plan.loc)

    setattr(request_param_model_to_args, _ORIGINAL_ATTRIBUTE, original)
    return request_param_model_to_args


def install() -> None:
    """Install both in FastAPI's request parsing (idempotent).

    The functions are FastAPI's internals: a release that renames or drops
    one leaves its parsing as FastAPI ships it (slower), never a service
    that fails to start.
    """
    for name, wrap in ((_CHECK, remembered), (_MODEL_TO_ARGS, planned)):
        current = getattr(fastapi_dependency_utils, name, None)
        if current is None or hasattr(current, _ORIGINAL_ATTRIBUTE):
            continue
        setattr(fastapi_dependency_utils, name, wrap(current))


def installed() -> bool:
    return all(
        hasattr(getattr(fastapi_dependency_utils, name, None), _ORIGINAL_ATTRIBUTE)
        for name in (_CHECK, _MODEL_TO_ARGS)
    )
