"""Reading the search log (rows are written by ``bookstore.search_log``)."""

from __future__ import annotations

from bookstore.catalog.statements import Row
from bookstore.tables import SearchLog


async def list_search_logs(limit: int) -> list[Row]:
    return await (
        SearchLog.select()
        .order_by(SearchLog.created_at, ascending=False)
        .order_by(SearchLog.id, ascending=False)
        .limit(limit)
    )
