"""The back office as a person uses it: a real browser against a real server.

Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it
when missing) is driven by Playwright for Python through ``executable_path``:
no browser download. The server is uvicorn in a subprocess on the test
database. A failed step saves a screenshot, and the server's log sits next to
it, in ``$BOOKSTORE_TEST_ARTIFACTS`` (default: the test's tmp_path).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Locator, Page, async_playwright, expect
from servers import free_port

from bookstore.admin import create_admin_user
from bookstore.search_log import SearchLogger, SearchRecord
from bookstore.tables import Author, Book, SearchLog

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("BOOKSTORE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("BOOKSTORE_TEST_ARTIFACTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@contextmanager
def uvicorn_serving(log: Path) -> Iterator[str]:
    """The service on a free port of 127.0.0.1, on the test database (DATABASE_URL)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "bookstore.app:create_app"]
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, f"the server exited; see {log}"
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"no answer on {url}; see {log}"
                time.sleep(0.1)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.fixture
def live_server(artifacts: Path) -> Iterator[str]:
    with uvicorn_serving(artifacts / "admin-browser-server.log") as url:
        yield url


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    return CHROMIUM


@pytest.fixture
async def page(chromium: Path) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            await browser.close()


class Walkthrough:
    """Named steps; a failing one leaves a screenshot of the page as it was."""

    def __init__(self, page: Page, artifacts: Path) -> None:
        self.page = page
        self.artifacts = artifacts
        self.number = 0

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        self.number += 1
        try:
            yield
        except BaseException as error:
            slug = name.lower().replace(" ", "-").replace("'", "")
            path = self.artifacts / f"admin-browser-{self.number:02}-{slug}.png"
            await self.page.screenshot(path=str(path), full_page=True)
            error.add_note(f"step {self.number} {name!r} failed; screenshot: {path}")
            raise


def sidebar_link(page: Page, name: str) -> Locator:
    return page.get_by_role("link", name=re.compile(f"^{name}$", re.IGNORECASE))


async def wait_for(condition, what: str, timeout_s: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_staff_filter_edit_a_book_and_find_a_search_in_the_logs(
    live_server: str, page: Page, artifacts: Path
) -> None:
    # The catalog (emptied before each test) and a member of staff.
    le_guin = (await Author.insert(Author(name="Ursula K. Le Guin")).returning(Author.id))[0]["id"]
    other = (await Author.insert(Author(name="Somebody Else")).returning(Author.id))[0]["id"]
    await Book.insert(
        Book(title="A Wizard of Earthsea", author=le_guin, price=Decimal("9.99")),
        Book(title="The Dispossessed", author=le_guin, price=Decimal("11.00")),
        Book(title="Not by Le Guin", author=other, price=Decimal("5.00")),
    )
    username, password = f"clerk-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await create_admin_user(username, password)

    walk = Walkthrough(page, artifacts)
    admin = f"{live_server}/admin/"

    async with walk.step("log in"):
        await page.goto(admin)
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", password)
        async with page.expect_response(
            lambda response: response.url.endswith("/admin/public/login/")
        ) as login:
            await page.click("button[data-uitest=login_button]")
        assert (await login.value).status == 200
        welcome = page.get_by_role("heading", name="Welcome to Bookstore back office")
        await expect(welcome).to_be_visible()

    async with walk.step("open the books list"):
        await sidebar_link(page, "Books").click()
        rows = page.locator(".table_wrapper tbody tr")
        await expect(rows).to_have_count(3)

    async with walk.step("filter by an author"):
        await page.click("a[data-uitest=filter_button]")
        sidebar = page.locator("div[data-uitest=right_sidebar]")
        author_filter = sidebar.locator("label:has-text('Author Id') + .key_search")
        await author_filter.locator("input[type=text]").click()
        await author_filter.locator(".modal input[type=search]").fill("le guin")
        await author_filter.locator(".results_list a", has_text="Ursula K. Le Guin").click()
        await sidebar.locator("button[data-uitest=submit_filter_button]").click()
        await expect(rows).to_have_count(2)
        await expect(page.locator(".table_wrapper tbody")).not_to_contain_text("Not by Le Guin")
        await expect(page.locator(".table_wrapper tbody")).to_contain_text("A Wizard of Earthsea")

    async with walk.step("open a book"):
        books = page.locator(".table_wrapper tbody")
        await books.get_by_role("link", name="A Wizard of Earthsea").click()
        price = page.locator("input[name=price]")
        await expect(price).to_have_value("9.99")

    async with walk.step("edit its price"):
        await price.fill("12.50")
        async with page.expect_response(
            lambda response: response.request.method == "PATCH"
        ) as saved:
            await page.click("button[data-uitest=save_button]")
        assert (await saved.value).status == 200
        stored = await Book.select(Book.price).where(Book.title == "A Wizard of Earthsea").first()
        assert stored == {"price": Decimal("12.50")}
        await page.reload()
        await expect(page.locator("input[name=price]")).to_have_value("12.50")

    term = f"earthsea-{uuid.uuid4().hex[:6]}"
    async with walk.step("search through the API"):
        async with httpx.AsyncClient(base_url=live_server) as api:
            search = await api.get("/books", params={"author": term})
        assert search.status_code == 200

        async def logged() -> bool:  # written by the server's batch writer
            return await SearchLog.exists().where(SearchLog.author == term)

        await wait_for(logged, "the search's log row")

    async with walk.step("find it in the search logs"):
        await page.goto(admin)
        await sidebar_link(page, "Search Logs").click()
        newest = page.locator(".table_wrapper tbody tr").first
        await expect(newest).to_contain_text(term)


async def log_searches(*records: SearchRecord) -> None:
    """Written as the service writes them: raw rows and rollups (search_log.py)."""
    writer = SearchLogger()
    for record in records:
        await writer.record(record)
    assert await writer.flush()


async def test_staff_read_the_search_insights(
    live_server: str, page: Page, artifacts: Path
) -> None:
    now = datetime.now(UTC)
    records = [
        SearchRecord(None, None, f"q={q}", 0 if q == "zzyzx" else 3, 2.0 + hours, q=q,
                     created_at=now - timedelta(hours=hours, minutes=1))
        for hours, q in [
            *((h, "Dune") for h in range(0, 24, 2)),  # 12, in every other hour
            *((h, "earthsea") for h in range(0, 7)),  # 7
            *((h, "zzyzx") for h in range(3, 8)),  # 5, found nothing
        ]
    ]  # fmt: skip
    records.append(SearchRecord("tolkien", None, "author=tolkien", 2, 4.869550000421441))
    await log_searches(*records)
    username, password = f"analyst-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await create_admin_user(username, password)

    walk = Walkthrough(page, artifacts)
    async with walk.step("log in"):
        await page.goto(f"{live_server}/admin/insights/")  # no session yet: to the login
        await expect(page.locator("input[name=username]")).to_be_visible()
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", password)
        await page.click("button[data-uitest=login_button]")
        await expect(page.get_by_role("heading", name=re.compile("^Welcome"))).to_be_visible()

    async with walk.step("durations in the search logs are rounded"):
        await sidebar_link(page, "Search Logs").click()
        newest = page.locator(".table_wrapper tbody tr").first
        await expect(newest).to_contain_text("tolkien")
        await expect(newest).to_contain_text("4.9")
        await expect(newest).not_to_contain_text("4.8695")
        await page.screenshot(path=str(artifacts / "admin-search-logs.png"))

    async with walk.step("open the insights from the sidebar"):
        await sidebar_link(page, "Search insights").click()
        await expect(page.get_by_role("strong").filter(has_text="Search insights")).to_be_visible()

    async with walk.step("pick the last 24 hours"):
        await page.get_by_role("link", name="24 hours").click()
        await expect(page.locator("#total-searches b")).to_have_text("25")
        await expect(page.locator("#zero-result-rate b")).to_have_text("20.0%")

    async with walk.step("the charts show every hour"):
        bars = page.locator("#searches-chart g.bar")
        await expect(bars).to_have_count(24)
        per_hour = [
            int(v) for v in await bars.evaluate_all("bs => bs.map(b => b.dataset.searches)")
        ]
        assert sum(per_hour) == 25
        zero = [int(v) for v in await bars.evaluate_all("bs => bs.map(b => b.dataset.zero)")]
        assert sum(zero) == 5
        assert await page.locator("#zero-rate-chart circle").count() >= 5
        assert await page.locator("#p95-chart circle").count() >= 12
        box = await page.locator("#searches-chart").bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 100

    async with walk.step("the tables list the top searches"):
        top = page.locator("#top-searches tbody tr")
        await expect(top).to_have_count(4)
        await expect(top.nth(0)).to_have_text(re.compile(r"^dune\s*12\s*0$"))
        await expect(top.nth(1)).to_have_text(re.compile(r"^earthsea\s*7\s*0$"))
        await expect(top.nth(2)).to_have_text(re.compile(r"^zzyzx\s*5\s*5$"))
        await expect(top.nth(3)).to_have_text(re.compile(r"^author: tolkien\s*1\s*0$"))
        zero = page.locator("#top-zero-result tbody tr")
        await expect(zero).to_have_count(1)
        await expect(zero.first).to_have_text(re.compile(r"^zzyzx\s*5\s*5$"))
        await page.screenshot(path=str(artifacts / "admin-insights.png"), full_page=True)

    async with walk.step("a search links to what the API answers for it"):
        await top.nth(0).get_by_role("link").click()
        await expect(page).to_have_url(f"{live_server}/books?q=Dune")
        assert '"items"' in await page.content()
