"""Pages a browser renders cannot be framed or sniffed; the JSON API cannot be sniffed."""

from __future__ import annotations

import httpx
import pytest

PAGES = ["/admin/", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_refuse_framing_sniffing_and_foreign_referrers(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code < 400, response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_the_admin_api_behind_the_pages_gets_the_headers_too(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/admin/api/meta/")

    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["/books", "/authors", "/categories", "/health", "/books/999999", "/nowhere"]
)
async def test_the_json_api_is_never_sniffed(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    assert "x-frame-options" not in response.headers


async def test_refusals_before_the_routes_carry_the_headers(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/books", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"
