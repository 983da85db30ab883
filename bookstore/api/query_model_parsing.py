"""FastAPI's parsing of query-parameter models, without re-deriving static facts per request.

``GET /books`` takes its twenty parameters as one pydantic model
(``Annotated[BookQuery, Query()]``). For every request and every field,
FastAPI 0.165 asks ``field_annotation_is_sequence(annotation)`` (is it a
``list[...]``, to read repeated parameters?), which walks the annotation
through ``typing.get_origin``, ``get_args`` and ``issubclass`` again: about
750 of the 3,650 Python calls of a category search, and 4-6% of the
worker's instructions (callgrind, 2026-11-29). The answer depends on the
annotation only, which never changes once the app is built.

``install()`` replaces the function FastAPI's request parsing calls with
one that remembers its answer per annotation. The original still answers
for annotations that cannot be hashed. Nothing else of FastAPI changes:
validation, error messages and the OpenAPI document are its own.

>>> install()  # once, before the app serves (``create_app`` does it)
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from fastapi.dependencies import utils as fastapi_dependency_utils

_ORIGINAL_ATTRIBUTE = "__bookstore_original__"
_CHECK = "field_annotation_is_sequence"


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


def install() -> None:
    """Remember ``field_annotation_is_sequence`` in FastAPI's request parsing (idempotent).

    The function is FastAPI's internal: a release that renames or drops it
    leaves parsing as FastAPI ships it (a few percent slower), never a
    service that fails to start.
    """
    current = getattr(fastapi_dependency_utils, _CHECK, None)
    if current is None or hasattr(current, _ORIGINAL_ATTRIBUTE):
        return
    setattr(fastapi_dependency_utils, _CHECK, remembered(current))


def installed() -> bool:
    return hasattr(getattr(fastapi_dependency_utils, _CHECK, None), _ORIGINAL_ATTRIBUTE)
