"""The rows of an import file: read from CSV or JSON Lines, then checked by the API's rules.

Pure Python, no database: what is wrong with a row (an unreadable line, a
field the API would refuse) becomes an ``ImportProblem`` with its line
number, and ``bookstore.catalog.imports`` writes only the rows that pass.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bookstore.catalog.exports import TRANSFER_FIELDS, TransferFormat
from bookstore.errors import InvalidImportFile
from bookstore.schemas import BookImportRow, ImportProblem

_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class RowInput:
    """A row as read from the file, before validation."""

    line: int
    fields: dict[str, Any] | None  # None: unreadable, see ``problem``
    problem: str = ""


# -- reading files -------------------------------------------------------------


def read_csv(lines: Iterable[str]) -> Iterator[RowInput]:
    """Rows of a CSV file with a header row naming some of ``TRANSFER_FIELDS``.

    ``title`` and ``author`` are required columns; an unknown column makes
    the whole file unreadable (a misspelt "prise" must not be dropped
    silently). Empty cells are left out: they keep the stored value.
    """
    reader = csv.reader(lines)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise InvalidImportFile("the file is empty; expected a header row") from None
    except csv.Error as error:
        raise InvalidImportFile(f"line 1: {error}") from None
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    unknown = [name for name in header if name not in TRANSFER_FIELDS]
    if unknown:
        raise InvalidImportFile(
            f"unknown column(s) {', '.join(map(repr, unknown))}; "
            f"the columns are {', '.join(TRANSFER_FIELDS)}"
        )
    missing = [name for name in ("title", "author") if name not in header]
    if missing:
        raise InvalidImportFile(f"the header lacks the column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise InvalidImportFile("a column is named twice in the header")
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RowInput(line, None, f"not valid CSV: {error}")
            continue
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            yield RowInput(line, None, f"{len(cells)} fields, the header has {len(header)}")
            continue
        fields: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            if cell.strip() == "":
                continue
            # CSV has only text; a year is an integer in JSON and the API.
            fields[name] = (
                int(cell)
                if name == "published_year" and _INTEGER.fullmatch(cell.strip())
                else cell
            )
        yield RowInput(line, fields)


def read_jsonl(lines: Iterable[str]) -> Iterator[RowInput]:
    """Rows of a JSON Lines file: one object per line; null fields keep the stored value."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as error:
            yield RowInput(number, None, f"not valid JSON: {error}")
            continue
        if not isinstance(value, dict):
            yield RowInput(number, None, "not a JSON object")
            continue
        yield RowInput(number, {key: item for key, item in value.items() if item is not None})


def read_rows(lines: Iterable[str], file_format: TransferFormat) -> Iterator[RowInput]:
    if file_format is TransferFormat.csv:
        return read_csv(lines)
    return read_jsonl(lines)


def validate(row: RowInput) -> BookImportRow | list[ImportProblem]:
    """The row checked by the API's rules, or what is wrong with it."""
    if row.fields is None:
        return [ImportProblem(line=row.line, field="", reason=row.problem)]
    try:
        return BookImportRow.model_validate(row.fields)
    except ValidationError as error:
        return [
            ImportProblem(
                line=row.line,
                field=".".join(str(part) for part in problem["loc"][:1]),
                reason=problem["msg"],
            )
            for problem in error.errors(include_url=False)
        ]
