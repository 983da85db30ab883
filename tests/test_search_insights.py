"""GET /search-logs/stats: totals, percentiles, top lists and buckets, from the rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from factories import create_author, create_book, create_category
from fastapi import FastAPI

from bookstore.search_log import SearchRecord, latency_bucket, latency_bucket_upper_ms
from bookstore.tables import SearchLog

DAY1 = datetime(2026, 10, 5, tzinfo=UTC)


async def log_searches(app: FastAPI, *records: SearchRecord) -> None:
    """Through the app's own writer (rollups and all), then flushed."""
    for record in records:
        await app.state.search_logger.record(record)
    assert await app.state.search_logger.flush()


def a_search(
    at: datetime,
    *,
    q: str | None = None,
    author: str | None = None,
    category: str | None = None,
    results: int = 3,
    ms: float = 5.0,
) -> SearchRecord:
    return SearchRecord(
        author=author,
        category=category,
        q=q,
        query="...",
        result_count=results,
        duration_ms=ms,
        created_at=at,
    )


async def stats(client: httpx.AsyncClient, **params: object) -> dict:
    response = await client.get("/search-logs/stats", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def day_range(days: int = 1, start: datetime = DAY1) -> dict[str, str]:
    return {"since": start.isoformat(), "until": (start + timedelta(days=days)).isoformat()}


async def test_stats_need_a_token(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
        response = await anonymous.get("/search-logs/stats")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_searches_through_the_api_are_counted_with_their_zero_results(client) -> None:
    author = await create_author(client, "Frank Herbert")
    await create_book(client, title="Dune", author_id=author["id"])
    for q in ("Dune", "dune", "Dûne", "nothing here"):
        assert (await client.get("/books", params={"q": q})).status_code == 200

    body = await stats(client)

    assert body["searches"] == 4
    assert body["zero_result_searches"] == 1
    assert body["zero_result_rate"] == 0.25
    listed = [(t["search"], t["searches"], t["zero_result_searches"]) for t in body["top_queries"]]
    assert listed == [("dune", 3, 0), ("nothing here", 1, 1)]
    assert [t["search"] for t in body["top_zero_result"]] == ["nothing here"]
    assert body["bucket"] == "day"
    assert len(body["by_bucket"]) in (7, 8)  # 7 days back from the next whole hour
    assert sum(b["searches"] for b in body["by_bucket"]) == 4


async def test_searches_differing_in_case_accents_and_spacing_are_one_search(app, client):
    typed = ["García Márquez", "  garcia   MARQUEZ ", "Garcia Marquez", "GARCÍA\tmárquez"]
    await log_searches(app, *(a_search(DAY1 + timedelta(hours=1), q=q) for q in typed))

    (top,) = (await stats(client, **day_range()))["top_queries"]

    assert top["search"] == top["q"] == "garcia marquez"
    assert top["searches"] == 4
    # One of them as typed, to replay on GET /books.
    assert top["params"]["q"] in typed


async def test_without_q_a_search_is_its_author_and_category_terms(app, client) -> None:
    at = DAY1 + timedelta(hours=2)
    await log_searches(
        app,
        a_search(at, author="Le Guin", category="Fantasy"),
        a_search(at, author="le guin", category="fantasy", results=0),
        a_search(at, author="Le Guin"),
        a_search(at, q="earthsea", author="Le Guin"),  # the q is the search
        a_search(at),  # by ids only: counted, but names nothing
    )

    body = await stats(client, **day_range())

    assert body["searches"] == 5
    listed = {(t["search"], t["searches"], t["zero_result_searches"]) for t in body["top_queries"]}
    assert listed == {
        ("author: le guin · category: fantasy", 2, 1),
        ("author: le guin", 1, 0),
        ("earthsea", 1, 0),
    }
    by_names = next(t for t in body["top_queries"] if t["category"])
    assert (by_names["q"], by_names["author"], by_names["category"]) == (
        None,
        "le guin",
        "fantasy",
    )
    assert by_names["params"] in (
        {"author": "Le Guin", "category": "Fantasy"},
        {"author": "le guin", "category": "fantasy"},
    )


async def test_a_top_search_links_to_what_the_api_returns_for_it(app, client) -> None:
    category = await create_category(client, "Science Fiction")
    await create_book(client, title="Solaris", category_ids=[category["id"]])
    await client.get("/books", params={"category": "Science Fiction"})

    (top,) = (await stats(client))["top_queries"]
    replayed = await client.get("/books", params=top["params"])

    assert [book["title"] for book in replayed.json()["items"]] == ["Solaris"]


async def test_percentiles_come_from_the_latency_histogram(app, client) -> None:
    at = DAY1 + timedelta(hours=3)
    await log_searches(app, *(a_search(at, q=f"q{ms}", ms=float(ms)) for ms in range(1, 101)))

    body = await stats(client, **day_range())

    # Upper bounds of the buckets holding the 50th and 95th values: at most 10% above.
    assert 50.0 <= body["p50_ms"] <= 55.0
    assert 95.0 <= body["p95_ms"] <= 104.5
    assert body["p95_ms"] == round(latency_bucket_upper_ms(latency_bucket(95.0)), 1)


async def test_hour_buckets_count_each_hour_and_leave_empty_hours_empty(app, client) -> None:
    await log_searches(
        app,
        a_search(DAY1 + timedelta(hours=1, minutes=5), q="a", ms=2.0),
        a_search(DAY1 + timedelta(hours=1, minutes=55), q="b", results=0, ms=2.0),
        a_search(DAY1 + timedelta(hours=4), q="c", ms=30.0),
    )

    body = await stats(client, bucket="hour", **day_range())

    buckets = body["by_bucket"]
    assert len(buckets) == 24
    assert datetime.fromisoformat(buckets[0]["start"]) == DAY1
    assert [(b["searches"], b["zero_result_searches"]) for b in buckets[:5]] == [
        (0, 0),
        (2, 1),
        (0, 0),
        (0, 0),
        (1, 0),
    ]
    assert buckets[0]["p95_ms"] is None
    assert 2.0 <= buckets[1]["p95_ms"] <= 2.2
    assert 30.0 <= buckets[4]["p95_ms"] <= 33.0


async def test_day_buckets_are_utc_days(app, client) -> None:
    await log_searches(
        app,
        a_search(DAY1 + timedelta(hours=23, minutes=59), q="late"),
        a_search(DAY1 + timedelta(days=1), q="midnight"),
        a_search(DAY1 + timedelta(days=1, hours=5), q="morning"),
    )

    buckets = (await stats(client, **day_range(3)))["by_bucket"]

    assert [b["searches"] for b in buckets] == [1, 2, 0]


async def test_a_range_counts_whole_days_and_its_edge_hours_exactly(app, client) -> None:
    since, until = DAY1 + timedelta(hours=22), DAY1 + timedelta(days=3, hours=3)
    inside = [
        since + timedelta(minutes=30),
        DAY1 + timedelta(days=1, hours=12),
        until - timedelta(minutes=1),
    ]
    outside = [since - timedelta(minutes=1), until, until + timedelta(hours=1)]
    await log_searches(
        app,
        *(a_search(at, q="dune") for at in inside + outside),
        *(a_search(at, q="solaris", results=0) for at in inside),
    )

    body = await stats(client, since=since.isoformat(), until=until.isoformat())

    assert body["searches"] == 6
    counts = {t["search"]: (t["searches"], t["zero_result_searches"]) for t in body["top_queries"]}
    assert counts == {"dune": (3, 0), "solaris": (3, 3)}
    assert [t["search"] for t in body["top_zero_result"]] == ["solaris"]


async def test_a_range_within_one_day_reads_hours_only(app, client) -> None:
    since, until = DAY1 + timedelta(hours=6), DAY1 + timedelta(hours=9)
    await log_searches(
        app,
        a_search(DAY1 + timedelta(hours=5, minutes=59), q="dune"),
        a_search(DAY1 + timedelta(hours=6), q="dune"),
        a_search(DAY1 + timedelta(hours=8, minutes=59), q="dune"),
        a_search(DAY1 + timedelta(hours=9), q="dune"),
    )

    body = await stats(client, since=since.isoformat(), until=until.isoformat(), bucket="hour")

    assert body["top_queries"][0]["searches"] == 2
    assert [b["searches"] for b in body["by_bucket"]] == [1, 0, 1]


async def test_the_range_is_widened_to_whole_hours(client) -> None:
    body = await stats(
        client, since="2026-10-05T10:20:00+02:00", until="2026-10-05T12:00:01Z", bucket="hour"
    )

    assert datetime.fromisoformat(body["since"]) == datetime(2026, 10, 5, 8, tzinfo=UTC)
    assert datetime.fromisoformat(body["until"]) == datetime(2026, 10, 5, 13, tzinfo=UTC)
    assert len(body["by_bucket"]) == 5


async def test_the_default_range_is_the_last_seven_days(app, client) -> None:
    now = datetime.now(UTC)
    await log_searches(
        app,
        a_search(now - timedelta(minutes=1), q="recent"),
        a_search(now - timedelta(days=6, hours=22), q="recent"),
        a_search(now - timedelta(days=8), q="old"),
    )

    body = await stats(client)

    assert body["searches"] == 2
    assert [t["search"] for t in body["top_queries"]] == ["recent"]
    assert datetime.fromisoformat(body["until"]) - datetime.fromisoformat(
        body["since"]
    ) == timedelta(days=7)


async def test_no_searches_give_zeros_and_nulls(client) -> None:
    body = await stats(client, **day_range())

    assert (body["searches"], body["zero_result_searches"]) == (0, 0)
    assert body["zero_result_rate"] is body["p50_ms"] is body["p95_ms"] is None
    assert body["top_queries"] == body["top_zero_result"] == []


async def test_the_top_lists_are_cut_at_the_limit_most_frequent_first(app, client) -> None:
    at = DAY1 + timedelta(hours=1)
    records = [a_search(at, q=f"term{n}", results=0) for n in range(1, 6) for _ in range(n)]
    await log_searches(app, *records)

    body = await stats(client, limit=2, **day_range())

    assert [t["search"] for t in body["top_queries"]] == ["term5", "term4"]
    assert [t["search"] for t in body["top_zero_result"]] == ["term5", "term4"]


async def test_rollups_match_the_raw_rows(app, client) -> None:
    at = DAY1 + timedelta(hours=7)
    await log_searches(app, *(a_search(at, q=f"w{n % 7}", results=n % 3) for n in range(300)))

    body = await stats(client, **day_range())

    assert body["searches"] == await SearchLog.count() == 300
    zero = await SearchLog.count().where(SearchLog.result_count == 0)
    assert body["zero_result_searches"] == zero


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-10-05T00:00:00Z", "until": "2026-10-05T00:00:00Z"},
        {"since": "2026-10-06T00:00:00Z", "until": "2026-10-05T00:00:00Z"},
        {"since": "2020-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z", "bucket": "hour"},
        {"until": "0001-01-01T00:30:00Z"},
        {"since": "9999-12-31T23:30:00Z"},
        {"bucket": "week"},
        {"since": "yesterday"},
        {"limit": 0},
        {"limit": 101},
        {"top": 5},
    ],
)
async def test_bad_parameters_are_a_422(client, params) -> None:
    response = await client.get("/search-logs/stats", params=params)

    assert response.status_code == 422, response.text
    assert "detail" in response.json()


async def test_a_repeated_parameter_is_a_422(client) -> None:
    response = await client.get("/search-logs/stats?bucket=day&bucket=hour")

    assert response.status_code == 422
