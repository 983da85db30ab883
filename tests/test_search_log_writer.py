"""The search log writer: batched, retried, bounded, flushed at shutdown."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from bookstore.search_log import SearchLogger, SearchRecord
from bookstore.tables import Book, SearchLog


def a_search(term: str = "tolkien") -> SearchRecord:
    return SearchRecord(
        author=term, category=None, query=f"author={term}", result_count=3, duration_ms=1.5
    )


async def test_the_apps_writer_task_writes_searches_without_being_asked(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)  # a client that never flushes
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as plain_client:
        assert (await plain_client.get("/books", params={"author": "austen"})).status_code == 200

    for _ in range(500):
        if await SearchLog.count():
            break
        await asyncio.sleep(0.01)
    rows = await SearchLog.select(SearchLog.author, SearchLog.query)
    assert rows == [{"author": "austen", "query": "author=austen"}]


async def test_texts_are_written_as_they_were_searched() -> None:
    texts = ['with "quotes"', "back\\slash", "comma,{brace}", " spaced ", "", "NULL", "García"]
    search_logger = SearchLogger()
    for text in texts:
        await search_logger.record(
            SearchRecord(None, text, f"q={text}", 1, 2.5, q=text)  # q, category, query
        )
    await search_logger.record(SearchRecord(None, None, "author_id=3", 0, 1e-05))

    assert await search_logger.flush() is True
    rows = await SearchLog.select(
        SearchLog.author, SearchLog.category, SearchLog.q, SearchLog.query, SearchLog.duration_ms
    ).order_by(SearchLog.id)
    assert rows == [
        *(
            {"author": None, "category": text, "q": text, "query": f"q={text}", "duration_ms": 2.5}
            for text in texts
        ),
        {
            "author": None,
            "category": None,
            "q": None,
            "query": "author_id=3",
            "duration_ms": 1e-05,
        },
    ]


async def test_records_wait_in_the_buffer_while_writes_fail_and_are_written_later() -> None:
    search_logger = SearchLogger()
    await search_logger.record(a_search("first"))
    await search_logger.record(a_search("second"))

    await Book.raw("ALTER TABLE search_logs RENAME TO search_logs_elsewhere")
    try:
        assert await search_logger.flush() is False
    finally:
        await Book.raw("ALTER TABLE search_logs_elsewhere RENAME TO search_logs")
    assert search_logger.stats.pending == 2
    assert search_logger.stats.failed_writes == 1

    assert await search_logger.flush() is True
    assert sorted(r["author"] for r in await SearchLog.select(SearchLog.author)) == [
        "first",
        "second",
    ]
    assert search_logger.stats.written == 2
    assert search_logger.stats.pending == 0


async def test_a_full_buffer_counts_what_it_cannot_keep() -> None:
    search_logger = SearchLogger(capacity=2)
    for term in ("a", "b", "c", "d"):
        await search_logger.record(a_search(term))

    assert search_logger.stats.pending == 2
    assert search_logger.stats.dropped == 2
    await search_logger.flush()
    assert sorted(r["author"] for r in await SearchLog.select(SearchLog.author)) == ["a", "b"]


async def test_stopping_writes_what_is_still_buffered() -> None:
    search_logger = SearchLogger(flush_interval_s=3600)  # the writer would not get to it
    await search_logger.start()
    for n in range(2500):  # several batches
        await search_logger.record(a_search(f"term {n}"))

    await search_logger.stop()

    assert await SearchLog.count() == 2500
    assert search_logger.stats.pending == 0


async def test_each_row_keeps_the_time_of_its_search() -> None:
    search_logger = SearchLogger()
    earlier = a_search("earlier")
    await asyncio.sleep(0.01)
    later = a_search("later")
    await search_logger.record(later)
    await search_logger.record(earlier)
    await search_logger.flush()

    rows = await SearchLog.select(SearchLog.author, SearchLog.created_at)
    times = {r["author"]: r["created_at"] for r in rows}
    assert times == {"earlier": earlier.created_at, "later": later.created_at}
