"""The admin's custom forms: setting a book's categories, importing books, exporting searches."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Literal

from piccolo_admin.endpoints import FileResponse, FormConfig
from pydantic import BaseModel, Field, model_validator
from starlette.requests import Request

from bookstore import catalog
from bookstore.admin.tables import AdminSearchLog
from bookstore.admin.views import CATALOG, INSIGHTS
from bookstore.catalog import imports as catalog_imports
from bookstore.catalog.exports import TransferFormat
from bookstore.errors import CatalogError


def spreadsheet_safe(value: Any) -> Any:
    """Customers type the search terms: keep a spreadsheet from running them
    as formulas (=HYPERLINK(...) and the like)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class BookCategoriesForm(BaseModel):
    book_id: int = Field(gt=0, description="The number at the end of the book's page address.")
    categories: str = Field(
        default="",
        description="Category names or slugs, separated by commas. Empty removes them all.",
    )


async def set_book_categories(request: Request, form: BookCategoriesForm) -> str:
    """Replace a book's categories in one step: the M2M editor the admin lacks."""
    wanted = [name.strip() for name in form.categories.split(",") if name.strip()]
    ids_by_key: dict[str, int] = {}
    for category in await catalog.list_categories():
        ids_by_key[category["name"].casefold()] = category["id"]
        ids_by_key[category["slug"].casefold()] = category["id"]
    unknown = [name for name in wanted if name.casefold() not in ids_by_key]
    if unknown:
        raise ValueError(f"No category named {', '.join(map(repr, unknown))}.")
    category_ids = sorted({ids_by_key[name.casefold()] for name in wanted})
    try:
        book = await catalog.update_book(form.book_id, {}, category_ids)
    except CatalogError as error:
        raise ValueError(str(error)) from error  # the admin shows a ValueError's message
    names = ", ".join(category["name"] for category in book["categories"]) or "no category"
    return f"{book['title']!r} is now in: {names}."


class ImportBooksForm(BaseModel):
    file_format: Literal["csv", "jsonl"] = Field(
        default="csv", description="csv: with a header row. jsonl: one JSON object a line."
    )
    contents: str = Field(
        description="Paste the file here (up to 1 MiB; larger files: bookstore import FILE).",
        json_schema_extra={"extra": {"widget": "text-area"}},
    )
    dry_run: bool = Field(default=False, description="Check and count only; write nothing.")


IMPORT_PROBLEMS_SHOWN = 20


async def import_books(request: Request, form: ImportBooksForm) -> str:
    """``bookstore import`` from the admin: the rows pasted, the report as the answer."""
    try:
        report = await catalog_imports.import_books(
            io.StringIO(form.contents, newline=""),
            TransferFormat(form.file_format),
            dry_run=form.dry_run,
        )
    except CatalogError as error:
        raise ValueError(error.detail) from error
    verb = "Dry run, nothing written" if report.dry_run else "Imported"
    summary = (
        f"{verb}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.rejected} rejected."
    )
    problems = [
        f"line {p.line}{f' ({p.field})' if p.field else ''}: {p.reason}"
        for p in report.problems[:IMPORT_PROBLEMS_SHOWN]
    ]
    if len(report.problems) > IMPORT_PROBLEMS_SHOWN:
        problems.append(f"... and {len(report.problems) - IMPORT_PROBLEMS_SHOWN} more")
    return " ".join([summary, *problems])


class SearchLogRangeForm(BaseModel):
    since: datetime = Field(description="From this time (included).")
    until: datetime = Field(description="To this time (excluded).")
    zero_results_only: bool = Field(default=False, description="Only searches that found nothing.")

    @model_validator(mode="after")
    def _since_before_until(self) -> SearchLogRangeForm:
        if self.until <= self.since:
            raise ValueError("until must be later than since")
        return self


SEARCH_LOG_EXPORT_LIMIT = 100_000
SEARCH_LOG_EXPORT_COLUMNS = (
    AdminSearchLog.created_at,
    AdminSearchLog.author,
    AdminSearchLog.category,
    AdminSearchLog.q,
    AdminSearchLog.query,
    AdminSearchLog.result_count,
    AdminSearchLog.duration_ms,
)


async def export_search_logs(request: Request, form: SearchLogRangeForm) -> FileResponse:
    """The searches between two times, as CSV.

    The list view's filters take one operator per column (after *or* before a
    time); this form takes both bounds. On the admin's engine: planned for
    the range and filter given (the zero-results filter has an index of its
    own, which a plan made for any ``result_count`` could not use).
    """
    query = AdminSearchLog.select(*SEARCH_LOG_EXPORT_COLUMNS).where(
        AdminSearchLog.created_at >= form.since, AdminSearchLog.created_at < form.until
    )
    if form.zero_results_only:
        query = query.where(AdminSearchLog.result_count == 0)
    rows = await query.order_by(AdminSearchLog.created_at).limit(SEARCH_LOG_EXPORT_LIMIT + 1)
    if len(rows) > SEARCH_LOG_EXPORT_LIMIT:
        raise ValueError(f"More than {SEARCH_LOG_EXPORT_LIMIT:,} searches: narrow the range.")
    contents = io.StringIO()
    writer = csv.DictWriter(contents, [column._meta.name for column in SEARCH_LOG_EXPORT_COLUMNS])
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    name = f"searches-{form.since:%Y%m%dT%H%M}-{form.until:%Y%m%dT%H%M}.csv"
    return FileResponse(contents=contents, file_name=name, media_type="text/csv")


def form_configs() -> list[FormConfig]:
    return [
        FormConfig(
            name="Set book categories",
            pydantic_model=BookCategoriesForm,
            endpoint=set_book_categories,
            description="Replaces the book's categories with the ones listed.",
            form_group=CATALOG,
        ),
        FormConfig(
            name="Import books",
            pydantic_model=ImportBooksForm,
            endpoint=import_books,
            description=(
                "Creates or updates books from CSV or JSON Lines, as `bookstore import` does: "
                "matched by ISBN, else title and author; empty fields keep what is stored."
            ),
            form_group=CATALOG,
        ),
        FormConfig(
            name="Export searches",
            pydantic_model=SearchLogRangeForm,
            endpoint=export_search_logs,
            description="The searches customers made between two times, as CSV.",
            form_group=INSIGHTS,
        ),
    ]
