"""The admin as an app, mounted at ``/admin/`` with its pool's lifespan."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from piccolo_admin.endpoints import create_admin
from piccolo_api.session_auth.tables import SessionsBase
from starlette.types import ASGIApp

from bookstore.admin.accounts import StaffUser
from bookstore.admin.database import admin_database
from bookstore.admin.forms import form_configs
from bookstore.admin.insights import INSIGHTS_PATH, insights_app
from bookstore.admin.login_limit import LoginRateLimit, NoLimit
from bookstore.admin.views import table_configs
from bookstore.settings import Settings

SITE_NAME = "Bookstore back office"


def create_admin_app(settings: Settings) -> FastAPI:
    """The admin as an ASGI app, to mount at ``/admin/``.

    The trailing slash matters: the admin's page loads its assets by relative
    path. ``production`` makes the session cookie HTTPS-only; under HTTPS the
    admin refuses writes whose Origin/Referer host is not in ``allowed_hosts``.
    """
    admin: FastAPI = create_admin(
        tables=table_configs(),
        forms=form_configs(),
        # Its login hashes in a worker thread (see StaffUser).
        auth_table=StaffUser,
        session_table=SessionsBase,
        site_name=SITE_NAME,
        production=settings.production,
        allowed_hosts=settings.allowed_hosts,
        # Its limiter counts per process; LoginRateLimit (admin_routes) counts
        # in the database, for every worker at once.
        rate_limit_provider=NoLimit(),
        sidebar_links={"Search insights": INSIGHTS_PATH, "API docs": "/docs"},
    )
    # Inside the admin app: its CSRF middleware covers the page too.
    admin.mount("/insights", insights_app())
    return admin


def limited_admin_app(settings: Settings) -> ASGIApp:
    """The admin behind its login rate limit (``LoginRateLimit``), counted in the database."""
    return LoginRateLimit(
        create_admin_app(settings),
        attempts=settings.admin_login_attempts,
        window_s=settings.admin_login_window,
    )


def admin_routes(settings: Settings) -> APIRouter:
    """The admin at ``/admin/``, with the lifespan of its database pool.

    Include it with ``app.include_router``: FastAPI runs an included router's
    lifespan with the app's, which a plain ``app.mount`` would not.
    """
    router = APIRouter(lifespan=admin_database)
    router.mount("/admin/", limited_admin_app(settings))
    return router
