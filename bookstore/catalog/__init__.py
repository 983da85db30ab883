"""The data layer: every query the service runs, async, with no HTTP in it.

Functions take and return plain values and dicts shaped like the API's
responses; failures are raised as ``bookstore.errors`` classes. Writes use
Piccolo's query builder; the book listings are SQL written by hand (as
QueryString) because their shape is what makes them fast: see
docs/performance.md.

One module per concern: ``filters`` (what a listing asks for, resolved to
ids), ``listing`` (pages of books), ``writes`` (book writes), ``authors``,
``categories``, ``search_logs``, and ``statements`` (the SQL pieces they
share). Routers import this package and call what it exports.
"""

from bookstore.catalog.authors import (
    author_exists,
    create_author,
    delete_author,
    get_author,
    list_authors,
    update_author,
)
from bookstore.catalog.categories import (
    category_exists,
    create_category,
    delete_category,
    get_category,
    list_categories,
    update_category,
)
from bookstore.catalog.details import book_version, count_books, get_book
from bookstore.catalog.filters import NARROW_AUTHOR_MATCH, BookFilters, broad_fragments
from bookstore.catalog.listing import list_books
from bookstore.catalog.search_logs import list_search_logs
from bookstore.catalog.statements import Row
from bookstore.catalog.writes import create_book, delete_book, update_book

__all__ = [
    "NARROW_AUTHOR_MATCH",
    "BookFilters",
    "Row",
    "author_exists",
    "book_version",
    "broad_fragments",
    "category_exists",
    "count_books",
    "create_author",
    "create_book",
    "create_category",
    "delete_author",
    "delete_book",
    "delete_category",
    "get_author",
    "get_book",
    "get_category",
    "list_authors",
    "list_books",
    "list_categories",
    "list_search_logs",
    "update_author",
    "update_book",
    "update_category",
]
