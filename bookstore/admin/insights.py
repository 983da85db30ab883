"""The admin's Insights page, ``/admin/insights/``: the search stats as charts and tables.

piccolo-admin 1.14 has no custom pages: its front end is a prebuilt Vue app.
This page is server-rendered HTML with inline SVG charts (no script, no CDN,
nothing to download), mounted inside the admin app so that the admin's own
rules cover it: its CSRF middleware, and the same session check as the
admin's API (``SessionsAuthBackend``, admins only, session extended on use).
Without a session it redirects to the admin's login. The sidebar links to
it (piccolo-admin lists custom links in their own "Links" section: its menu
groups take tables only).

It reads what ``GET /search-logs/stats`` reads (``catalog.search_insights``),
on the API's pool, as the admin's forms do.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from piccolo_api.session_auth.middleware import SessionsAuthBackend
from piccolo_api.session_auth.tables import SessionsBase
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bookstore.admin.accounts import StaffUser
from bookstore.catalog.search_insights import Bucket, StatsRange, search_stats
from bookstore.errors import InvalidRange
from bookstore.schemas import SearchStatsQuery

INSIGHTS_PATH = "/admin/insights/"
LOGIN_URL = "/admin/#/login/"

# The range picker's presets: (label, duration, bucket).
PRESETS = {
    "24h": ("24 hours", timedelta(hours=24), "hour"),
    "7d": ("7 days", timedelta(days=7), "day"),
    "30d": ("30 days", timedelta(days=30), "day"),
}
DEFAULT_PRESET = "7d"
TOP_ROWS = 20

# Customers' words are shown on this page: nothing but its own styles may run.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _redirect_to_login(connection: HTTPConnection, error: Exception) -> Response:
    return RedirectResponse(LOGIN_URL, status_code=303)


def insights_app() -> ASGIApp:
    """The page behind the admin's session check (mount it inside the admin app)."""
    page = Starlette(routes=[Route("/", insights_page, methods=["GET"])])
    return AuthenticationMiddleware(
        page,
        backend=SessionsAuthBackend(
            auth_table=StaffUser,
            session_table=SessionsBase,
            admin_only=True,
            increase_expiry=timedelta(minutes=20),
        ),
        on_error=_redirect_to_login,
    )


def _range_from(request: Request) -> tuple[StatsRange, str | None, str | None]:
    """The range asked for (a preset, or custom since/until), and an error to show."""
    query = request.query_params
    preset = query.get("range", DEFAULT_PRESET if "since" not in query else "custom")
    if preset in PRESETS:
        _, duration, bucket = PRESETS[preset]
        return StatsRange.last(duration, bucket), preset, None
    try:
        params = SearchStatsQuery.model_validate(
            {
                key: value
                for key, value in query.items()
                if key in ("since", "until", "bucket") and value
            }
        )
        chosen = StatsRange.around(since=params.since, until=params.until, bucket=params.bucket)
        return chosen, "custom", None
    except (ValidationError, InvalidRange) as error:
        message = (
            "; ".join(str(e["msg"]) for e in error.errors())
            if isinstance(error, ValidationError)
            else error.detail
        )
        _, duration, bucket = PRESETS[DEFAULT_PRESET]
        fallback = StatsRange.last(duration, bucket)
        return (
            fallback,
            DEFAULT_PRESET,
            f"That range cannot be shown ({message}): the last 7 days instead.",
        )


async def insights_page(request: Request) -> Response:
    stats_range, preset, error = _range_from(request)
    stats = await search_stats(stats_range, top=TOP_ROWS)
    body = render_page(stats, preset, error)
    return HTMLResponse(body, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})


# -- rendering ---------------------------------------------------------------

e = html.escape


def _number(value: int) -> str:
    return f"{value:,}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _bucket_label(start: datetime, bucket: Bucket) -> str:
    return f"{start:%d %b %H:00}" if bucket == "hour" else f"{start:%a %d %b}"


CHART_WIDTH, CHART_HEIGHT, MARGIN_LEFT, MARGIN_BOTTOM = 900, 200, 56, 28


def _axis_ticks(maximum: float) -> list[float]:
    """Round values from 0 to at least ``maximum``, four or five of them."""
    if maximum <= 0:
        return [0.0]
    raw = maximum / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    count = math.ceil(maximum / step - 1e-9)
    return [n * step for n in range(count + 1)]


def _svg_frame(
    chart_id: str, title: str, ticks: list[float], tick_label: Any, body: str, labels: str
) -> str:
    top = ticks[-1] or 1
    plot_height = CHART_HEIGHT - MARGIN_BOTTOM
    grid = "".join(
        f'<line x1="{MARGIN_LEFT}" x2="{CHART_WIDTH}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">'
        f"{e(tick_label(t))}</text>"
        for t in ticks
        for y in [plot_height - t / top * (plot_height - 8)]
    )
    return (
        f"<figure><figcaption>{e(title)}</figcaption>"
        f'<svg id="{chart_id}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
        f'aria-label="{e(title)}" width="100%">{grid}{body}{labels}</svg></figure>'
    )


def _x_labels(stats: dict[str, Any], slot: float) -> str:
    buckets = stats["by_bucket"]
    every = max(1, len(buckets) // 8)
    return "".join(
        f'<text x="{MARGIN_LEFT + (i + 0.5) * slot:.1f}" y="{CHART_HEIGHT - 8}" '
        f'class="tick" text-anchor="middle">{e(_bucket_label(b["start"], stats["bucket"]))}</text>'
        for i, b in enumerate(buckets)
        if i % every == 0
    )


def searches_chart(stats: dict[str, Any]) -> str:
    """Bars per bucket: searches that found something, and on top those that found nothing."""
    buckets = stats["by_bucket"]
    slot = (CHART_WIDTH - MARGIN_LEFT) / max(1, len(buckets))
    ticks = _axis_ticks(max((b["searches"] for b in buckets), default=0))
    top = ticks[-1] or 1
    plot_height = CHART_HEIGHT - MARGIN_BOTTOM
    scale = (plot_height - 8) / top
    bars = []
    for i, b in enumerate(buckets):
        x = MARGIN_LEFT + i * slot + slot * 0.1
        found = b["searches"] - b["zero_result_searches"]
        found_height, zero_height = found * scale, b["zero_result_searches"] * scale
        label = _bucket_label(b["start"], stats["bucket"])
        bars.append(
            f'<g class="bar" data-start="{b["start"].isoformat()}" data-searches="{b["searches"]}"'
            f' data-zero="{b["zero_result_searches"]}">'
            f"<title>{e(label)}: {_number(b['searches'])} searches, "
            f"{_number(b['zero_result_searches'])} found nothing</title>"
            f'<rect x="{x:.1f}" y="{plot_height - found_height:.1f}" width="{slot * 0.8:.1f}" '
            f'height="{found_height:.1f}" class="found"/>'
            f'<rect x="{x:.1f}" y="{plot_height - found_height - zero_height:.1f}" '
            f'width="{slot * 0.8:.1f}" height="{zero_height:.1f}" class="zero"/></g>'
        )
    return _svg_frame(
        "searches-chart",
        f"Searches per {stats['bucket']} (red: found nothing)",
        ticks,
        lambda t: _number(int(t)),
        "".join(bars),
        _x_labels(stats, slot),
    )


def line_chart(
    stats: dict[str, Any], chart_id: str, title: str, values: list[float | None], unit: Any
) -> str:
    """A line through the buckets that have a value (gaps where there was no search)."""
    buckets = stats["by_bucket"]
    slot = (CHART_WIDTH - MARGIN_LEFT) / max(1, len(buckets))
    ticks = _axis_ticks(max((v for v in values if v is not None), default=0))
    top = ticks[-1] or 1
    plot_height = CHART_HEIGHT - MARGIN_BOTTOM
    segments: list[list[str]] = [[]]
    points = []
    for i, value in enumerate(values):
        if value is None:
            segments.append([])
            continue
        x = MARGIN_LEFT + (i + 0.5) * slot
        y = plot_height - value / top * (plot_height - 8)
        segments[-1].append(f"{x:.1f},{y:.1f}")
        label = _bucket_label(buckets[i]["start"], stats["bucket"])
        points.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" data-value="{value}">'
            f"<title>{e(label)}: {e(unit(value))}</title></circle>"
        )
    lines = "".join(
        f'<polyline points="{" ".join(s)}" class="line"/>' for s in segments if len(s) > 1
    )
    return _svg_frame(
        chart_id, title, ticks, unit, lines + "".join(points), _x_labels(stats, slot)
    )


def _top_table(table_id: str, title: str, rows: list[dict[str, Any]], empty: str) -> str:
    if not rows:
        return (
            f'<section><h2>{e(title)}</h2><p class="empty" id="{table_id}">{e(empty)}</p>'
            "</section>"
        )
    lines = "".join(
        f'<tr><td><a href="/books?{e(urlencode(row["params"]))}" '
        f'title="What GET /books answers for it">{e(row["search"])}</a></td>'
        f'<td class="n">{_number(row["searches"])}</td>'
        f'<td class="n">{_number(row["zero_result_searches"])}</td></tr>'
        for row in rows
    )
    return (
        f'<section><h2>{e(title)}</h2><table id="{table_id}"><thead><tr><th>Search</th>'
        f'<th class="n">Searches</th><th class="n">Found nothing</th></tr></thead>'
        f"<tbody>{lines}</tbody></table></section>"
    )


def _picker(stats: dict[str, Any], preset: str | None) -> str:
    links = "".join(
        f'<a href="?range={key}"{" class=current" if key == preset else ""}>{e(label)}</a>'
        for key, (label, _, _) in PRESETS.items()
    )
    since = stats["since"].strftime("%Y-%m-%dT%H:%M")
    until = stats["until"].strftime("%Y-%m-%dT%H:%M")
    options = "".join(
        f'<option value="{b}"{" selected" if b == stats["bucket"] else ""}>by {b}</option>'
        for b in ("hour", "day")
    )
    return (
        f'<nav class="picker">{links}'
        f'<form method="get" class="{"current" if preset == "custom" else ""}">'
        f'<label>From <input type="datetime-local" name="since" value="{since}"></label>'
        f'<label>to <input type="datetime-local" name="until" value="{until}"></label>'
        f'<select name="bucket">{options}</select> <span class="utc">UTC</span>'
        f'<button type="submit">Show</button></form></nav>'
    )


STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#2d3748;color:#fff;padding:12px 24px;display:flex;gap:24px;align-items:center}
header a{color:#cbd5e0}main{padding:16px 24px;max-width:1100px}
.picker{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-bottom:16px}
.picker a{padding:4px 10px;border:1px solid #a0aec0;border-radius:4px;text-decoration:none;
 color:#2d3748}
.picker a.current,.picker form.current{background:#e2e8f0;font-weight:600}
.picker form{display:flex;gap:6px;align-items:center;padding:2px 6px;border-radius:4px}
.cards{display:flex;gap:12px;margin-bottom:16px}
.card{background:#fff;border-radius:6px;padding:10px 16px;min-width:150px;
 box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:24px}.card span{color:#555;font-size:13px}
figure{background:#fff;margin:0 0 16px;padding:8px 12px;border-radius:6px;
 box-shadow:0 1px 2px #0002}
figcaption{font-weight:600;margin-bottom:4px}
.grid{stroke:#e2e8f0}.tick{font-size:11px;fill:#555}.found{fill:#4a90d9}.zero{fill:#e05252}
.line{fill:none;stroke:#4a5568;stroke-width:2}circle{fill:#4a5568}
.tables{display:grid;grid-template-columns:1fr 1fr;gap:16px}
section{background:#fff;border-radius:6px;padding:8px 12px;box-shadow:0 1px 2px #0002}
h2{font-size:16px}table{border-collapse:collapse;width:100%}
td,th{padding:4px 6px;border-bottom:1px solid #edf2f7;text-align:left}.n{text-align:right}
.error{background:#fed7d7;padding:8px 12px;border-radius:4px}.empty{color:#666}
"""


def render_page(stats: dict[str, Any], preset: str | None, error: str | None) -> str:
    covered = f"{stats['since']:%Y-%m-%d %H:%M} to {stats['until']:%Y-%m-%d %H:%M} UTC"
    buckets = stats["by_bucket"]
    zero_rates = [
        b["zero_result_searches"] / b["searches"] * 100 if b["searches"] else None for b in buckets
    ]
    cards = "".join(
        f'<div class="card" id="{key}"><b>{value}</b><span>{label}</span></div>'
        for key, value, label in (
            ("total-searches", _number(stats["searches"]), "searches"),
            ("zero-result-rate", _rate(stats["zero_result_rate"]), "found nothing"),
            ("p50", _ms(stats["p50_ms"]), "median duration"),
            ("p95", _ms(stats["p95_ms"]), "95th percentile"),
        )
    )
    charts = "".join(
        (
            searches_chart(stats),
            line_chart(
                stats,
                "zero-rate-chart",
                "Share of searches that found nothing",
                zero_rates,
                lambda v: f"{v:.1f}%",
            ),
            line_chart(
                stats,
                "p95-chart",
                "95th percentile duration",
                [b["p95_ms"] for b in buckets],
                lambda v: f"{v:,.1f} ms",
            ),
        )
    )
    tables = _top_table(
        "top-searches", "Top searches", stats["top_queries"], "No searches in this range."
    ) + _top_table(
        "top-zero-result",
        "Top searches that found nothing",
        stats["top_zero_result"],
        "Every search found something.",
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Search insights · Bookstore back office</title>
<style>{STYLE}</style></head><body>
<header><strong>Search insights</strong><a href="/admin/">Back to the admin</a>
<a href="/admin/#/search_logs">Search logs</a></header>
<main>
{_picker(stats, preset)}
{f'<p class="error" role="alert">{e(error)}</p>' if error else ""}
<p>{e(covered)}</p>
<div class="cards">{cards}</div>
{charts}
<div class="tables">{tables}</div>
</main></body></html>"""
