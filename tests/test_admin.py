"""Piccolo Admin at /admin/: who gets in, what it shows, and what it writes.

The browser walk-through is in test_admin_browser.py; these tests speak the
admin's own HTTP API, as its page does.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from conftest import fetch_on
from factories import search, suggested, titles
from fastapi import FastAPI
from servers import bookstore, running_server, serving_demo, wait_until_listening
from starlette.routing import BaseRoute, Mount, Route

from bookstore.admin import Credentials, create_admin_app, create_admin_user
from bookstore.admin.accounts import StaffUser
from bookstore.admin.site import limited_admin_app
from bookstore.search_log import SearchRecord
from bookstore.settings import Settings
from bookstore.tables import Author, Book, BookCategory, Category, SearchLog

TIMEOUT_S = 120


# -- helpers -------------------------------------------------------------------


async def add_author(name: str) -> int:
    (row,) = await Author.insert(Author(name=name)).returning(Author.id)
    return int(row["id"])


async def add_book(title: str, author_id: int, **columns: object) -> int:
    (row,) = await Book.insert(Book(title=title, author=author_id, **columns)).returning(Book.id)
    return int(row["id"])


async def add_category(name: str) -> int:
    category = Category(name=name, slug=name.lower().replace(" ", "-"))
    (row,) = await Category.insert(category).returning(Category.id)
    return int(row["id"])


async def sign_in(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    """Log in as the admin's page does: CSRF cookie first, then the token as a header."""
    await http.get("/admin/")
    return await http.post(
        "/admin/public/login/",
        json={"username": username, "password": password},
        headers={"X-CSRFToken": http.cookies["csrftoken"]},
    )


def csrf(http: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRFToken": http.cookies["csrftoken"]}


@pytest.fixture
async def admin_user(app: FastAPI) -> Credentials:
    """A fresh admin; users are not truncated between tests, hence the unique name."""
    credentials = Credentials(f"staff-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
    await create_admin_user(credentials.username, credentials.password)
    return credentials


@pytest.fixture
async def staff(
    client: httpx.AsyncClient, admin_user: Credentials
) -> AsyncIterator[httpx.AsyncClient]:
    """The test client, signed in to the admin."""
    response = await sign_in(client, admin_user.username, admin_user.password)
    assert response.status_code == 200, response.text
    yield client
    client.cookies.clear()


def admin_api_routes() -> list[BaseRoute]:
    """The routes of the admin's private API: the app behind its session middleware."""
    admin = create_admin_app(Settings())
    (api,) = [r for r in admin.routes if isinstance(r, Mount) and r.path == "/api"]
    return list(api.app.app.routes)  # AuthenticationMiddleware(app=private_app)


def piccolo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "piccolo.main", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


# -- it is there ---------------------------------------------------------------


async def test_the_admin_page_is_served_at_admin(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<div id="app">' in page.text

    redirect = await client.get("/admin")
    assert redirect.status_code in {307, 308}
    assert redirect.headers["location"].endswith("/admin/")

    meta = (await client.get("/admin/public/meta/")).json()
    assert meta["site_name"] == "Bookstore back office"


async def test_the_sidebar_links_to_the_api_docs(staff: httpx.AsyncClient) -> None:
    links = (await staff.get("/admin/api/links/")).json()
    assert links == {"Search insights": "/admin/insights/", "API docs": "/docs"}
    assert (await staff.get("/docs")).status_code == 200


async def test_tables_are_grouped_in_catalog_insights_and_staff(staff: httpx.AsyncClient) -> None:
    grouped = (await staff.get("/admin/api/tables/grouped/")).json()
    assert grouped == {
        "grouped": {
            "Catalog": ["authors", "book_category", "books", "categories"],
            "Insights": ["search_logs"],
            "Staff": ["piccolo_user"],
        },
        "ungrouped": [],
    }


# -- who gets in ---------------------------------------------------------------


def _api_calls(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    """(method, path) for every endpoint of the admin's private API."""
    for route in routes:
        if isinstance(route, Mount):  # /docs/, media files: GET only
            yield "GET", f"/admin/api{route.path}/"
            continue
        if not isinstance(route, Route):
            continue
        path = re.sub(r"\{row_id[^}]*\}", "1", route.path)
        path = re.sub(r"\{form_slug[^}]*\}", "export-searches", path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield method, f"/admin/api{path}"


async def test_every_admin_api_call_without_a_session_is_refused(
    client: httpx.AsyncClient,
) -> None:
    calls = sorted(set(_api_calls(admin_api_routes())))
    assert ("PATCH", "/admin/api/tables/books/1/") in calls
    assert ("GET", "/admin/api/tables/search_logs/") in calls
    assert len(calls) > 60

    await client.get("/admin/")  # a CSRF cookie, but no session
    refused = {}
    for method, path in calls:
        response = await client.request(method, path, headers=csrf(client), json={})
        refused[method, path] = response.status_code
    assert {call: code for call, code in refused.items() if code not in {401, 403}} == {}


async def test_a_wrong_password_is_refused(
    client: httpx.AsyncClient, admin_user: Credentials
) -> None:
    response = await sign_in(client, admin_user.username, "not-the-password")
    assert response.status_code == 401
    assert "id" not in client.cookies  # no session cookie
    assert (await client.get("/admin/api/user/")).status_code == 401


async def test_an_inactive_user_cannot_use_the_admin(client: httpx.AsyncClient) -> None:
    from piccolo.apps.user.tables import BaseUser

    username, password = f"former-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await BaseUser.create_user(
        username=username,
        password=password,
        email=f"{username}@example.com",
        admin=True,
        active=False,
    )
    await sign_in(client, username, password)
    assert (await client.get("/admin/api/tables/books/")).status_code == 401
    client.cookies.clear()


async def test_login_is_rate_limited(app: FastAPI, admin_user: Credentials) -> None:
    # An admin app of its own, with a limit of 3 (the table of attempts is
    # emptied before each test).
    admin = limited_admin_app(Settings(admin_login_attempts=3, admin_login_window=60))
    transport = httpx.ASGITransport(app=admin)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        await http.get("/")
        attempt = {
            "url": "/public/login/",
            "json": {"username": admin_user.username, "password": "guess"},
            "headers": csrf(http),
        }
        codes = [(await http.post(**attempt)).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        assert (await http.post(**attempt)).status_code == 429
        # Blocked means blocked: the right password is refused too.
        attempt["json"]["password"] = admin_user.password
        assert (await http.post(**attempt)).status_code == 429


async def test_production_mode_sends_the_session_cookie_over_https_only(
    app: FastAPI, admin_user: Credentials
) -> None:
    admin = create_admin_app(Settings(production=True, allowed_hosts=["shop.example"]))
    transport = httpx.ASGITransport(app=admin)
    async with httpx.AsyncClient(transport=transport, base_url="https://shop.example") as http:
        await http.get("/")
        login = await http.post(
            "/public/login/",
            json={"username": admin_user.username, "password": admin_user.password},
            headers={**csrf(http), "Origin": "https://shop.example"},
        )
        assert login.status_code == 200, login.text
        assert "secure" in login.headers["set-cookie"].lower()

        author = {"name": "Written over HTTPS"}
        elsewhere = await http.post(
            "/api/tables/authors/",
            json=author,
            headers={**csrf(http), "Origin": "https://evil.example"},
        )
        assert elsewhere.status_code == 403  # the CSRF check of allowed_hosts
        here = await http.post(
            "/api/tables/authors/",
            json=author,
            headers={**csrf(http), "Origin": "https://shop.example"},
        )
        assert here.status_code == 201, here.text


def test_allowed_hosts_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKSTORE_ALLOWED_HOSTS", "shop.example, admin.shop.example")
    monkeypatch.setenv("BOOKSTORE_PRODUCTION", "true")
    settings = Settings()
    assert settings.allowed_hosts == ["shop.example", "admin.shop.example"]
    assert settings.production is True


# -- creating admins -------------------------------------------------------------


async def test_createadmin_creates_an_admin_who_can_sign_in(client: httpx.AsyncClient) -> None:
    username, password = f"ops-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    created = bookstore("createadmin", "--username", username, "--password", password)
    assert created.returncode == 0, created.stderr
    assert password not in created.stdout + created.stderr

    assert (await sign_in(client, username, password)).status_code == 200
    me = (await client.get("/admin/api/user/")).json()
    assert me["username"] == username
    client.cookies.clear()

    again = bookstore("createadmin", "--username", username, "--password", password)
    assert again.returncode != 0
    assert "already exists" in again.stderr


async def test_piccolo_user_create_works_non_interactively(client: httpx.AsyncClient) -> None:
    username, password = f"clerk-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    created = piccolo(
        "user", "create", f"--username={username}", f"--password={password}",
        f"--email={username}@example.com", "--is_admin=t", "--is_superuser=t", "--is_active=t",
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr

    assert (await sign_in(client, username, password)).status_code == 200
    client.cookies.clear()


async def test_migrate_creates_the_user_and_session_tables(empty_database: str) -> None:
    migrated = bookstore("migrate", env={**os.environ, "DATABASE_URL": empty_database})
    assert migrated.returncode == 0, migrated.stderr

    tables = await fetch_on(
        empty_database,
        "SELECT tablename FROM pg_tables WHERE tablename IN ('piccolo_user', 'sessions')",
    )
    assert {row["tablename"] for row in tables} == {"piccolo_user", "sessions"}


@pytest.fixture
async def second_empty_database(empty_database: str) -> AsyncIterator[str]:
    from conftest import SERVER_DSN, run_on_server, with_database

    name = f"bookstore_scratch_{uuid.uuid4().hex[:12]}"
    await run_on_server(f'CREATE DATABASE "{name}"')
    yield with_database(SERVER_DSN, name)
    await run_on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PASSWORD_LINE = re.compile(r"as '(?P<username>[^']+)' with password '(?P<password>[^']+)'")


async def test_serve_demo_creates_an_admin_with_a_random_password_printed_once(
    empty_database: str, second_empty_database: str, tmp_path: Path
) -> None:
    passwords = []
    for number, database in enumerate((empty_database, second_empty_database)):
        with serving_demo(database, tmp_path / f"serve-{number}.log") as server:
            output = server.read_until("with password")
            match = PASSWORD_LINE.search(output)
            assert match, output
            passwords.append(match["password"])
            if number == 0:  # the printed login works
                async with httpx.AsyncClient(base_url=server.url) as http:
                    await wait_until_listening(http)
                    login = await sign_in(http, match["username"], match["password"])
                    assert login.status_code == 200, login.text
    assert passwords[0] != passwords[1]
    assert all(len(password) >= 20 for password in passwords)

    # Users exist now: a second start creates and prints nothing.
    with serving_demo(empty_database, tmp_path / "serve-again.log") as server:
        output = server.read_until("Database:")
        assert "password" not in output


# -- what it shows and writes ------------------------------------------------------


async def test_books_can_be_filtered_by_author(staff: httpx.AsyncClient) -> None:
    le_guin = await add_author("Ursula K. Le Guin")
    other = await add_author("Someone Else")
    for title in ("The Dispossessed", "A Wizard of Earthsea"):
        await add_book(title, le_guin)
    await add_book("Unrelated", other)

    params = {"author_id": le_guin, "__readable": "true", "__order": "title,id"}
    rows = (await staff.get("/admin/api/tables/books/", params=params)).json()["rows"]
    assert [(row["title"], row["author_id_readable"]) for row in rows] == [
        ("A Wizard of Earthsea", "Ursula K. Le Guin"),
        ("The Dispossessed", "Ursula K. Le Guin"),
    ]
    count = await staff.get("/admin/api/tables/books/count/", params={"author_id": le_guin})
    assert count.json()["count"] == 2
    picker = await staff.get("/admin/api/tables/authors/ids/", params={"search": "le gu"})
    assert picker.json() == {str(le_guin): "Ursula K. Le Guin"}


async def test_every_page_matches_plain_offset_pagination(staff: httpx.AsyncClient) -> None:
    author = await add_author("Prolific")
    for title in ["Same title"] * 5 + [f"Title {n:02}" for n in range(25)]:
        await add_book(title, author)
    expected = await Book.select(Book.id).order_by(Book.title, Book.id).output(as_list=True)

    seen = []
    for page in range(1, 6):
        params = {"__order": "title,id", "__page_size": 7, "__page": page, "__readable": "true"}
        rows = (await staff.get("/admin/api/tables/books/", params=params)).json()["rows"]
        seen.extend(row["id"] for row in rows)
    assert seen == expected

    filtered = {"title": "title 1", "__order": "-title,id", "__page_size": 4, "__page": 2}
    rows = (await staff.get("/admin/api/tables/books/", params=filtered)).json()["rows"]
    assert [row["title"] for row in rows] == [f"Title {n}" for n in (15, 14, 13, 12)]


async def test_editing_a_book_keeps_the_api_rules(staff: httpx.AsyncClient) -> None:
    book_id = await add_book("Edited", await add_author("Editor"), price=Decimal("10.00"))
    before = await Book.select().where(Book.id == book_id).first()
    url = f"/admin/api/tables/books/{book_id}/"

    changes = {"price": "12.50", "isbn": "0-306-40615-2"}
    edited = await staff.patch(url, json=changes, headers=csrf(staff))
    assert edited.status_code == 200, edited.text
    after = await Book.select().where(Book.id == book_id).first()
    assert after is not None and before is not None
    assert after["price"] == Decimal("12.50")
    assert after["isbn"] == "9780306406157"  # stored as ISBN-13, as the API does
    assert after["updated_at"] > before["updated_at"]

    invalid = await staff.patch(url, json={"isbn": "12345"}, headers=csrf(staff))
    assert invalid.status_code == 422
    assert "isbn" in invalid.text


async def test_a_book_is_linked_to_a_category_through_book_category(
    staff: httpx.AsyncClient,
) -> None:
    book_id = await add_book("Linked", await add_author("Linker"))
    fantasy = await add_category("Fantasy")

    linked = await staff.post(
        "/admin/api/tables/book_category/",
        json={"book_id": book_id, "category_id": fantasy},
        headers=csrf(staff),
    )
    assert linked.status_code == 201, linked.text
    assert await BookCategory.exists().where(
        (BookCategory.book == book_id) & (BookCategory.category == fantasy)
    )

    params = {"book_id": book_id, "__readable": "true"}
    links = await staff.get("/admin/api/tables/book_category/", params=params)
    (link,) = links.json()["rows"]
    assert (link["book_id_readable"], link["category_id_readable"]) == ("Linked", "Fantasy")


async def test_books_written_through_the_admin_are_searched_by_the_next_request(
    staff: httpx.AsyncClient,
) -> None:
    """Issue 9, "Fresh": the admin writes with its own statements, not the API's; the
    search index's triggers keep up with them all the same."""

    async def found(q: str) -> list[str]:
        return titles(await search(staff, q))

    async def completed(q: str) -> list[str]:
        return [text for _, text in await suggested(staff, q)]

    author_id = await add_author("Abdulrazak Gurnah")
    row = (await staff.get("/admin/api/tables/books/new/")).json()
    row.update(title="Zanzibar Crossings", author_id=author_id, description="Cloves and dhows")
    row.pop("id")
    created = await staff.post("/admin/api/tables/books/", json=row, headers=csrf(staff))
    assert created.status_code == 201, created.text
    (book,) = created.json()
    assert await found("zanzibar") == ["Zanzibar Crossings"]
    assert await found("dhows") == ["Zanzibar Crossings"]
    assert await completed("zanzib") == ["Zanzibar Crossings"]

    url = f"/admin/api/tables/books/{book['id']}/"
    renamed = await staff.patch(url, json={"title": "Pemba Crossings"}, headers=csrf(staff))
    assert renamed.status_code == 200, renamed.text
    assert await found("zanzibar ") == []
    assert await found("pemba") == ["Pemba Crossings"]
    assert await completed("zanzib") == []

    author_url = f"/admin/api/tables/authors/{author_id}/"
    renamed = await staff.patch(author_url, json={"name": "Mzee Ngozi"}, headers=csrf(staff))
    assert renamed.status_code == 200, renamed.text
    assert await found("gurnah ") == []
    assert await found("ngozi") == ["Pemba Crossings"]

    deleted = await staff.delete(url, headers=csrf(staff))
    assert deleted.status_code == 204, deleted.text
    assert await found("pemba") == []
    assert await completed("pemb") == []


async def test_the_form_sets_a_books_categories(staff: httpx.AsyncClient) -> None:
    book_id = await add_book("Shelved", await add_author("Shelver"))
    for name in ("Fantasy", "Science Fiction", "Poetry"):
        await add_category(name)

    form = "/admin/api/forms/set-book-categories/"
    answer = await staff.post(
        form, json={"book_id": book_id, "categories": "fantasy, Science Fiction"},
        headers=csrf(staff),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    names = await (
        BookCategory.select(BookCategory.category.name)
        .where(BookCategory.book == book_id)
        .output(as_list=True)
    )
    assert sorted(names) == ["Fantasy", "Science Fiction"]

    unknown = await staff.post(
        form, json={"book_id": book_id, "categories": "Cookery"}, headers=csrf(staff)
    )
    assert unknown.status_code == 422
    assert "Cookery" in unknown.json()["custom_form_error"]


async def test_the_import_form_imports_pasted_books_and_reports(
    staff: httpx.AsyncClient,
) -> None:
    form = "/admin/api/forms/import-books/"
    contents = "title,author,categories,price\nDune,Frank Herbert,Science Fiction,9.99\nBad,,,\n"
    dry = await staff.post(form, json={"contents": contents, "dry_run": True}, headers=csrf(staff))
    assert dry.status_code == 200, dry.text
    assert "1 created" in dry.text and "1 rejected" in dry.text and "line 3" in dry.text
    assert await Book.count() == 0

    done = await staff.post(form, json={"contents": contents}, headers=csrf(staff))
    assert done.status_code == 200, done.text
    assert "Imported: 1 created" in done.text
    assert await Book.select(Book.title).output(as_list=True) == ["Dune"]

    unreadable = await staff.post(
        form, json={"contents": "titel,author\nX,Y\n"}, headers=csrf(staff)
    )
    assert unreadable.status_code == 422
    assert "titel" in unreadable.json()["custom_form_error"]


async def test_search_logs_are_read_only(
    client: httpx.AsyncClient, staff: httpx.AsyncClient
) -> None:
    await client.get("/books", params={"author": "tolkien"})
    (log,) = await SearchLog.select(SearchLog.id)
    url = "/admin/api/tables/search_logs/"

    assert (await staff.get(url)).status_code == 200
    attempts = [
        await staff.post(url, json={"author": "forged"}, headers=csrf(staff)),
        await staff.patch(f"{url}{log['id']}/", json={"author": "x"}, headers=csrf(staff)),
        await staff.delete(f"{url}{log['id']}/", headers=csrf(staff)),
    ]
    assert [attempt.status_code for attempt in attempts] == [405, 405, 405]
    assert await SearchLog.count() == 1


async def test_search_logs_can_be_exported_for_a_time_range(
    client: httpx.AsyncClient, staff: httpx.AsyncClient
) -> None:
    await client.get("/books", params={"author": "pratchett"})
    (log,) = await SearchLog.select(SearchLog.created_at)
    since = log["created_at"] - timedelta(seconds=1)
    until = log["created_at"] + timedelta(seconds=1)
    answer = await staff.post(
        "/admin/api/forms/export-searches/",
        json={"since": since.isoformat(), "until": until.isoformat()},
        headers=csrf(staff),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    header, row = answer.text.splitlines()
    assert header == "created_at,author,category,q,query,result_count,duration_ms"
    assert ",pratchett," in row

    empty = await staff.post(
        "/admin/api/forms/export-searches/",
        json={"since": until.isoformat(), "until": (until + timedelta(days=1)).isoformat()},
        headers=csrf(staff),
    )
    assert empty.text.splitlines() == [header]


async def test_search_log_durations_are_shown_to_a_tenth_of_a_millisecond(
    app: FastAPI, staff: httpx.AsyncClient
) -> None:
    await app.state.search_logger.record(
        SearchRecord("tolkien", None, "author=tolkien", 2, 4.869550000421441)
    )
    await app.state.search_logger.flush()

    rows = (await staff.get("/admin/api/tables/search_logs/")).json()["rows"]

    assert [row["duration_ms"] for row in rows] == [4.9]
    # Stored as measured: the API and the stats read the full value.
    assert await SearchLog.select(SearchLog.duration_ms) == [{"duration_ms": 4.869550000421441}]


# -- the Insights page -----------------------------------------------------------


async def log_searches_now(app: FastAPI, *records: SearchRecord) -> None:
    for record in records:
        await app.state.search_logger.record(record)
    assert await app.state.search_logger.flush()


def a_search(q: str, results: int = 1, ms: float = 3.0) -> SearchRecord:
    return SearchRecord(None, None, f"q={q}", results, ms, q=q)


async def test_the_insights_page_without_a_session_redirects_to_the_login(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.clear()
    response = await client.get("/admin/insights/")

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/#/login/"


async def test_the_insights_page_needs_an_admin_not_just_a_user(
    client: httpx.AsyncClient,
) -> None:
    username, password = f"plain-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await StaffUser.create_user(username=username, password=password, active=True, admin=False)
    await sign_in(client, username, password)

    response = await client.get("/admin/insights/")

    assert response.status_code == 303
    client.cookies.clear()


async def test_the_insights_page_shows_the_numbers_of_the_range(
    app: FastAPI, staff: httpx.AsyncClient
) -> None:
    await log_searches_now(
        app,
        *(a_search("Dune") for _ in range(3)),
        a_search("zzyzx", results=0),
        a_search("<script>alert(1)</script>", results=0),
    )

    page = await staff.get("/admin/insights/", params={"range": "24h"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    text = page.text
    assert '<div class="card" id="total-searches"><b>5</b>' in text
    assert '<div class="card" id="zero-result-rate"><b>40.0%</b>' in text
    assert '<a href="/books?q=Dune" title="What GET /books answers for it">dune</a>' in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count('<g class="bar"') == 24  # one bar an hour
    assert 'id="zero-rate-chart"' in text and 'id="p95-chart"' in text


async def test_the_insights_page_takes_a_custom_range_and_explains_a_bad_one(
    staff: httpx.AsyncClient,
) -> None:
    custom = await staff.get(
        "/admin/insights/",
        params={"since": "2026-10-01T00:00", "until": "2026-10-04T00:00", "bucket": "day"},
    )
    assert custom.status_code == 200
    assert custom.text.count('<g class="bar"') == 3
    assert 'value="2026-10-01T00:00"' in custom.text

    backwards = await staff.get(
        "/admin/insights/",
        params={"since": "2026-10-04T00:00", "until": "2026-10-01T00:00", "bucket": "day"},
    )
    assert backwards.status_code == 200
    assert "until must be later than since" in backwards.text
    assert backwards.text.count('<g class="bar"') in (7, 8)  # the last 7 days instead


def attempt_logins(url: str, username: str, attempts: int) -> list[int]:
    """Wrong passwords, each on a connection of its own (either worker may take it)."""
    codes = []
    for _ in range(attempts):
        with httpx.Client(base_url=url, timeout=30) as http:
            http.get("/admin/")
            answer = http.post(
                "/admin/public/login/",
                json={"username": username, "password": "guess"},
                headers={"X-CSRFToken": http.cookies["csrftoken"]},
            )
            codes.append(answer.status_code)
    return codes


async def test_the_login_limit_holds_across_two_workers(admin_user: Credentials) -> None:
    env = {
        "BOOKSTORE_ADMIN_LOGIN_ATTEMPTS": "4",
        "BOOKSTORE_ADMIN_LOGIN_WINDOW": "60",
        # Two workers open their pools at once on a loaded CI machine.
        "BOOKSTORE_DB_CONNECT_TIMEOUT": "10",
    }
    with running_server(env, timeout_s=120, args=("--workers", "2")) as server:
        try:
            codes = await asyncio.to_thread(attempt_logins, server.url, admin_user.username, 12)
        finally:
            server.terminate()

    # Per process, two workers would have let up to 8 through.
    assert codes == [401] * 4 + [429] * 8
