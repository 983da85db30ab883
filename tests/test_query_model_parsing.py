"""FastAPI's query-model parsing, its annotation checks remembered (api.query_model_parsing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi._compat.shared import field_annotation_is_sequence
from fastapi.dependencies import utils as fastapi_dependency_utils

from bookstore.api import query_model_parsing
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
