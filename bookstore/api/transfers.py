"""/books/export.csv, /books/export.jsonl, /books/import: the catalog as a file.

Exports stream; an import takes the file as the request body (up to
``BOOKSTORE_MAX_IMPORT_BYTES``) and answers its report. Included before the
/books router: ``/books/{book_id}`` would otherwise take ``export.csv`` for
an id.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from bookstore import catalog
from bookstore.api.auth import UNAUTHORIZED, TokenFirstRoute, WriteToken
from bookstore.api.errors import RESOURCE_ERROR_RESPONSES
from bookstore.catalog.exports import TransferFormat, export_books
from bookstore.catalog.imports import import_books
from bookstore.schemas import BookExportQuery, BookImportQuery, ErrorOut, ImportReport

router = APIRouter(prefix="/books", tags=["import and export"], route_class=TokenFirstRoute)

_EXPORTED = {
    200: {
        "description": "One line per book (CSV with a header row), in id order.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/jsonl": {"schema": {"type": "string"}},
        },
    }
}


async def _streamed(
    filters: catalog.BookFilters, file_format: TransferFormat
) -> StreamingResponse:
    """Start the export before answering, so that its failures are still error responses."""
    chunks = export_books(filters, file_format)
    first = await anext(chunks)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # a client gone: the transaction ends, the connection returns

    return StreamingResponse(
        body(),
        media_type=file_format.media_type,
        headers={"Content-Disposition": f'attachment; filename="books.{file_format.value}"'},
    )


def _filters(query: BookExportQuery) -> catalog.BookFilters:
    return catalog.BookFilters(
        author=query.author,
        category=tuple(query.category or ()),
        author_id=query.author_id,
        category_id=tuple(query.category_id or ()),
        category_mode=query.category_mode,
        year_min=query.year_min,
        year_max=query.year_max,
        price_min=query.price_min,
        price_max=query.price_max,
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses=_EXPORTED,
    summary="Export books as CSV",
)
async def export_csv(query: Annotated[BookExportQuery, Query()]) -> StreamingResponse:
    """The books matching the filters of ``GET /books``, as ``bookstore import`` reads them."""
    return await _streamed(_filters(query), TransferFormat.csv)


@router.get(
    "/export.jsonl",
    response_class=StreamingResponse,
    responses=_EXPORTED,
    summary="Export books as JSON Lines",
)
async def export_jsonl(query: Annotated[BookExportQuery, Query()]) -> StreamingResponse:
    """As ``export.csv``, one JSON object per line."""
    return await _streamed(_filters(query), TransferFormat.jsonl)


# Content types of an import body, and the format each one means.
IMPORT_MEDIA_TYPES = {
    "text/csv": TransferFormat.csv,
    "application/csv": TransferFormat.csv,
    "application/jsonl": TransferFormat.jsonl,
    "application/x-ndjson": TransferFormat.jsonl,
    "application/x-jsonlines": TransferFormat.jsonl,
}


def _import_format(request: Request, given: str | None) -> TransferFormat:
    if given is not None:
        return TransferFormat(given)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in IMPORT_MEDIA_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"send the file as Content-Type {' or '.join(IMPORT_MEDIA_TYPES)}, "
            "or name its format: ?format=csv|jsonl",
        )
    return IMPORT_MEDIA_TYPES[media_type]


@router.post(
    "/import",
    response_model=ImportReport,
    dependencies=[WriteToken],
    responses={
        **UNAUTHORIZED,
        400: {"model": ErrorOut, "description": "The body is not UTF-8 text."},
        413: RESOURCE_ERROR_RESPONSES[413],
        415: {"model": ErrorOut, "description": "Neither CSV nor JSON Lines."},
    },
    summary="Import books from CSV or JSON Lines",
)
async def import_file(
    request: Request, query: Annotated[BookImportQuery, Query()]
) -> ImportReport:
    """Create or update books from the body, as ``bookstore import`` does with a file.

    The body is CSV with a header row (``text/csv``) or JSON Lines
    (``application/jsonl``), at most ``BOOKSTORE_MAX_IMPORT_BYTES`` (20 MiB by
    default; larger: 413). Bad rows are reported, not fatal; a file that cannot
    be read at all (unknown column, no header) answers 422.
    """
    file_format = _import_format(request, query.format)
    body = await request.body()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise HTTPException(400, detail=f"the body is not UTF-8 text: {error}") from None
    return await import_books(io.StringIO(text, newline=""), file_format, dry_run=query.dry_run)
