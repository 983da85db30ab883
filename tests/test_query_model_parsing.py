"""FastAPI's query-model parsing, its annotation checks remembered (api.query_model_parsing)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Query
from fastapi._compat.shared import field_annotation_is_sequence
from fastapi.dependencies import utils as fastapi_dependency_utils
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from pydantic import AliasChoices, BaseModel, Field
from starlette.datastructures import QueryParams

from bookstore.api import (
    authors,
    books,
    categories,
    health,
    query_model_parsing,
    search_logs,
    transfers,
)
from bookstore.schemas import BookQuery, BrowseQuery, SuggestQuery


def test_the_remembered_check_answers_as_fastapi_does_for_every_query_model_field() -> None:
    query_model_parsing.install()
    remembered = fastapi_dependency_utils.field_annotation_is_sequence
    annotations = [
        field.annotation
        for model in (BookQuery, BrowseQuery, SuggestQuery)
        for field in model.model_fields.values()
    ]
    assert any(field_annotation_is_sequence(annotation) for annotation in annotations)
    for annotation in annotations:
        assert remembered(annotation) == field_annotation_is_sequence(annotation)
        assert remembered(annotation) == field_annotation_is_sequence(annotation)  # kept


def test_an_unhashable_annotation_is_still_answered() -> None:
    check = query_model_parsing.remembered(field_annotation_is_sequence)
    unhashable = Annotated[list[int], Query(), []]
    assert check(unhashable) is True


def test_installing_twice_wraps_once() -> None:
    query_model_parsing.install()
    first = fastapi_dependency_utils.field_annotation_is_sequence
    query_model_parsing.install()
    assert fastapi_dependency_utils.field_annotation_is_sequence is first
    assert query_model_parsing.installed()


def _query_model_parameters() -> list[tuple[str, Any, type[BaseModel]]]:
    """Every query model parameter of the API's routes: (path, FastAPI's field, model)."""
    found = []
    routes = [
        route
        for module in (transfers, books, authors, categories, search_logs, health)
        for route in module.router.routes
        if isinstance(route, APIRoute)
    ]
    for route in routes:
        for field in route.dependant.query_params:
            model = fastapi_dependency_utils._get_param_model(field)
            if model is not None:
                found.append((route.path, field, model))
    return found


HOSTILE_QUERIES = [
    "",
    "category=fantasy",
    "category=fantasy&category=horror&category_mode=all",
    "category=&category=x",
    "category_id=1&category_id=abc&category_id=0",
    "sort=price&sort=-price",
    "limit=5&limit=500",
    "limit=abc&cursor=&facets=category,decade,category",
    "titel=x&titel=y&zzz=1&category=a&titel=z",
    "q=%00&author=&author_id=-1&year_min=2000&year_max=1999",
    "price_min=abc&price_max=1e999&with_total=maybe&facet_limit=0",
    "price_min=1.001&price_max=NaN&highlight=yes&facets=",
    "sort=relevance&q=%20%20",
    "q=tolkien&sort=relevance&cursor=" + "x" * 2100,
    "&&=&a&=b",
    "name=x&name=y&since=yesterday&until=2026-01-01&bucket=week",
    "Category=fantasy&LIMIT=3",
    "&".join(f"category=c{n}" for n in range(30)),
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_the_planned_walk_answers_as_fastapi_does(query: str) -> None:
    """The same value or the same errors, in the same order, for every route's query model."""
    query_model_parsing.install()
    original = fastapi_dependency_utils._request_param_model_to_args.__bookstore_original__  # type: ignore[attr-defined]
    parameters = _query_model_parameters()
    assert {path for path, _, _ in parameters} >= {"/books", "/categories/{category_id}/books"}
    for path, field, model in parameters:
        plan = query_model_parsing.query_model_plan(field, model)
        assert plan is not None, path
        expected = original(field, model, QueryParams(query))
        got = field.validate(plan.gather(QueryParams(query)), {}, loc=plan.loc)
        assert repr(got) == repr(expected), (path, query)


def test_a_single_valued_parameter_given_twice_is_refused_before_validation() -> None:
    query_model_parsing.install()
    parse = fastapi_dependency_utils._request_param_model_to_args
    [(_, field, model)] = [p for p in _query_model_parameters() if p[0] == "/books"]
    value, errors = parse(field, model, QueryParams("category=a&category=b&limit=3"))
    assert errors == [] and value.category == ["a", "b"]
    with pytest.raises(RequestValidationError) as refused:
        parse(field, model, QueryParams("sort=price&limit=abc&sort=-price&titel=1&titel=2"))
    assert [error["loc"] for error in refused.value.errors()] == [
        ("query", "sort"),
        ("query", "titel"),
    ]


def test_a_model_with_aliases_is_left_to_fastapi() -> None:
    class Aliased(BaseModel):
        page_size: int = Field(default=20, validation_alias=AliasChoices("size", "page_size"))

    field = create_model_field(name="params", type_=Aliased, field_info=Query())
    assert query_model_parsing.query_model_plan(field, Aliased) is None
