"""Piccolo Admin: the store's back office, mounted at ``/admin/``.

Staff browse and fix the catalog (menu group *Catalog*), read what customers
search for (*Insights*, read-only) and manage staff accounts (*Staff*;
superusers only). Sign-in is Piccolo's ``BaseUser`` with session cookies, on
the tables of the ``user`` and ``session_auth`` apps in piccolo_conf.py.

>>> app.include_router(admin_routes(get_settings()))  # /admin/, and its pool

Four things stand between piccolo-admin 1.14 and our schema, each handled
below where it is met:

- **Foreign keys named in the database.** ``Book.author`` is stored as
  ``author_id`` (``db_column_name``). piccolo-api's pydantic models alias the
  field to ``author_id`` and then look the column up by that alias, so the
  books list fails to render, the author filter answers 400 (or matches
  nothing), and saving a book fails on NOT NULL. The admin therefore sees the
  tables through subclasses whose foreign keys are named as their columns.
- **OFFSET on a million rows.** Every list page is ``ORDER BY ... LIMIT 15
  OFFSET n``, and PostgreSQL builds, joins and discards every skipped row:
  the last page of books took 7 s. ``DeepPageSelect`` counts the skipped rows
  on an index and reads only the page's own rows.
- **Generic plans.** The API's pool plans each statement once, for any
  parameters (``bookstore.database.pool_options``); for ``title ILIKE $1``
  such a plan cannot tell a rare fragment from a common one and walks the
  whole title index (5 s). The admin's tables run on an engine of their own,
  planned per value. Its "Set book categories" form writes through
  ``bookstore.catalog`` on the API's pool: statements by primary key.
- **Writes bypass** ``bookstore.catalog``. Piccolo Admin writes through
  piccolo-api's ``PiccoloCRUD``; hooks keep the API's rules for its writes:
  ISBN-13, a category slug derived from its name, ``updated_at`` moved.
"""

from bookstore.admin.accounts import (
    DEMO_ADMIN_USERNAME,
    Credentials,
    create_admin_user,
    create_demo_admin,
)
from bookstore.admin.site import SITE_NAME, admin_routes, create_admin_app

__all__ = [
    "DEMO_ADMIN_USERNAME",
    "SITE_NAME",
    "Credentials",
    "admin_routes",
    "create_admin_app",
    "create_admin_user",
    "create_demo_admin",
]
