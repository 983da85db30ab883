"""Filling the catalog: the shipped demo catalog, or a synthetic one of any size.

The synthetic catalog is shaped like a real store's, because the shape is
what makes queries slow or fast: a few huge categories and many small ones,
a few prolific authors and a long tail, one to three categories a book. It
is written with COPY (asyncpg's ``copy_records_to_table``): a million books
row by row would take most of an hour, COPY takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from itertools import accumulate
from math import exp, log
from statistics import NormalDist
from typing import Any

from asyncpg import Connection
from piccolo.engine import engine_finder

from bookstore.schemas import slugify
from bookstore.tables import Author, Book, BookCategory, Category

# -- the demo catalog ----------------------------------------------------------


def load_demo_catalog() -> dict[str, Any]:
    """Real books, authors, years and genres: facts only, shipped with the package."""
    text = resources.files("bookstore").joinpath("data/demo_catalog.json").read_text("utf-8")
    return json.loads(text)


# What a bookshop charges for a paperback of each kind, in whole units: the
# demo's prices are drawn from these ranges, deterministically per book.
_CLASSIC_PAPERBACK = (5, 10)  # out of copyright: many cheap editions
_CHILDRENS_PAPERBACK = (6, 12)
_PAPERBACK = (9, 18)
_RECENT_PAPERBACK = (12, 20)  # published in the last ten years
_CLASSIC_BEFORE = 1930


def demo_price(book: dict[str, Any]) -> Decimal:
    """A plausible shop price for a demo book, the same on every run.

    Drawn from the range of its kind (a classic's paperback 5-10, a recent
    novel's 12-20), by a hash of its title and author, ending in .99 or
    .49 as shop prices do. Not a fact about the book: a believable price
    for trying the price filters and sorts.
    """
    year = book.get("published_year") or 0
    categories = set(book.get("categories", ()))
    if year < _CLASSIC_BEFORE or "Classics" in categories:
        low, high = _CLASSIC_PAPERBACK
    elif "Children's" in categories:
        low, high = _CHILDRENS_PAPERBACK
    elif year >= 2016:
        low, high = _RECENT_PAPERBACK
    else:
        low, high = _PAPERBACK
    digest = hashlib.blake2b(f"{book['title']}\0{book['author']}".encode(), digest_size=8)
    draw = int.from_bytes(digest.digest(), "big")
    units = low + draw % (high - low)
    cents = 49 if (draw >> 32) % 4 == 0 else 99
    return Decimal(units * 100 + cents) / 100


async def seed_demo() -> int:
    """Insert the demo catalog in one transaction; return the number of books."""
    catalog = load_demo_catalog()
    async with Book._meta.db.transaction():
        categories = await Category.insert(
            *(
                Category(name=c["name"], slug=slugify(c["name"]), description=c.get("description"))
                for c in catalog["categories"]
            )
        ).returning(Category.id, Category.name)
        category_ids = {row["name"]: row["id"] for row in categories}

        author_names = list(dict.fromkeys(book["author"] for book in catalog["books"]))
        authors = await Author.insert(*(Author(name=name) for name in author_names)).returning(
            Author.id, Author.name
        )
        author_ids = {row["name"]: row["id"] for row in authors}

        books = await Book.insert(
            *(
                Book(
                    title=book["title"],
                    author=author_ids[book["author"]],
                    published_year=book.get("published_year"),
                    isbn=book.get("isbn"),
                    price=demo_price(book),
                )
                for book in catalog["books"]
            )
        ).returning(Book.id)
        await BookCategory.insert(
            *(
                BookCategory(book=row["id"], category=category_ids[name])
                for row, book in zip(books, catalog["books"], strict=True)
                for name in book["categories"]
            )
        )
    return len(books)


# -- the synthetic catalog -----------------------------------------------------


@lru_cache
def _words() -> dict[str, list[str]]:
    """Names, title words and genres the synthetic catalog is built from."""
    text = resources.files("bookstore").joinpath("data/synthetic_words.json").read_text("utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class SyntheticCatalog:
    """Row counts of a generated catalog."""

    authors: int
    categories: int
    books: int
    links: int


def _zipf_weights(count: int, exponent: float) -> list[float]:
    return [1.0 / (rank**exponent) for rank in range(1, count + 1)]


def _category_names(count: int, rng: random.Random) -> list[str]:
    names = list(_words()["genres"])
    combos = [f"{q} {g}" for q in _words()["qualifiers"] for g in _words()["genres"]]
    rng.shuffle(combos)
    names.extend(combos[: max(0, count - len(names))])
    return names[:count]


def _author_name(author_id: int, rng: random.Random) -> str:
    # The id makes names unique, as a store's authority file would.
    words = _words()
    return f"{rng.choice(words['first_names'])} {rng.choice(words['last_names'])} {author_id}"


@dataclass(frozen=True)
class Vocabulary:
    """Words drawn with a long-tailed frequency: a few in many books, most in few.

    The head is real words; the tail, made-up ones (stand-ins for the
    names, places and rare words of real blurbs). The weights follow
    Zipf-Mandelbrot, 1 / (rank + offset): with the description vocabulary
    the commonest word lands in about a fifth of a million books, the
    hundredth in about 2%, the last in a few hundred.
    """

    words: list[str]
    cumulative: list[float]

    def draw(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cumulative, k=k)


def _made_up_words(count: int, rng: random.Random, taken: set[str]) -> list[str]:
    onsets = [
        "b",
        "br",
        "c",
        "ch",
        "d",
        "dr",
        "f",
        "g",
        "gr",
        "h",
        "k",
        "l",
        "m",
        "n",
        "p",
        "pr",
        "r",
        "s",
        "st",
        "t",
        "tr",
        "v",
        "z",
    ]
    vowels = ["a", "e", "i", "o", "u", "ai", "ei", "ou"]
    codas = ["", "", "n", "r", "l", "s", "th", "nd"]
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(2, 3)))
        word += rng.choice(codas)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


def _vocabulary(head: list[str], tail: int, offset: float, seed: int) -> Vocabulary:
    words = [*head, *_made_up_words(tail, random.Random(seed), {w.lower() for w in head})]
    weights = [1.0 / (rank + offset) for rank in range(1, len(words) + 1)]
    return Vocabulary(words, list(accumulate(weights)))


@lru_cache
def _title_vocabulary() -> Vocabulary:
    return _vocabulary(_words()["title_words"], 1_000, 5.0, seed=1)


@lru_cache
def _description_vocabulary() -> Vocabulary:
    return _vocabulary(_words()["description_words"], 5_000, 10.0, seed=2)


def _title(rng: random.Random) -> str:
    shape = rng.choice(_words()["title_shapes"])
    a, b = (word.capitalize() for word in _title_vocabulary().draw(rng, 2))
    return shape.format(a=a, b=b)


def _description(rng: random.Random) -> str | None:
    """A blurb of 8 to 20 words, or none (about one book in seven has none)."""
    if rng.random() < 0.15:
        return None
    words = _description_vocabulary().draw(rng, rng.randint(8, 20))
    return " ".join(words).capitalize() + "."


def _book_rows(
    books: int, authors: int, categories: int, rng: random.Random
) -> Iterator[tuple[tuple[Any, ...], list[int]]]:
    """Yield (book record, its category ids) for ids 1..books."""
    author_cumulative = list(accumulate(_zipf_weights(authors, 0.8)))
    category_cumulative = list(accumulate(_zipf_weights(categories, 1.1)))
    author_ids = range(1, authors + 1)
    category_ids = range(1, categories + 1)
    for book_id in range(1, books + 1):
        # Every author gets at least one book; the rest follow the long tail.
        if book_id <= authors:
            author_id = book_id
        else:
            (author_id,) = rng.choices(author_ids, cum_weights=author_cumulative)
        picked = set(
            rng.choices(
                category_ids, cum_weights=category_cumulative, k=rng.choice((1, 1, 2, 2, 3))
            )
        )
        price = _price(rng)
        title = _title(rng)
        if rng.random() < 0.3:
            title = f"{title}, Volume {rng.randrange(1, 12)}"
        description = _description(rng)
        year = _year(rng)
        created_at = added_at(book_id, books)
        record = (book_id, title, None, year, price, description, author_id, created_at)
        yield record, sorted(picked)


_FIRST_ADDED = datetime(2016, 1, 1, tzinfo=UTC)
_ADDING_PERIOD = timedelta(days=3652)


def added_at(book_id: int, books: int) -> datetime:
    """When synthetic book ``book_id`` of ``books`` was added: over ten years, in id order.

    The share is taken first: the period times the id overflows ``timedelta``
    past 273,000 books (the 1M benchmark seed failed so).
    """
    return _FIRST_ADDED + _ADDING_PERIOD * (book_id / books)


# Shop prices are log-normal around 13.50 (half of the books between 9 and
# 20, one in fifty above 45); publication years decay into the past (median
# about 2005, a long tail back to 1850).
_PRICE_LOG_MEAN, _PRICE_LOG_SIGMA = 2.6, 0.55
_YEAR_MEAN_AGE = 28
_NORMAL = NormalDist()


def _price(rng: random.Random) -> Decimal | None:
    """A shop price, ending in .99 (or .49, .00) as prices do; one book in ten has none.

    The draws are those of the first synthetic catalogs (a uniform price),
    turned into the log-normal by its inverse distribution function: the
    random stream, hence every title and category of a seed, is unchanged.
    """
    if rng.random() >= 0.9:
        return None
    uniform = (rng.randrange(299, 4999) - 298.5) / 4701
    euros = int(exp(_PRICE_LOG_MEAN + _PRICE_LOG_SIGMA * _NORMAL.inv_cdf(uniform)))
    cents = (99, 99, 99, 49, 0)[int(uniform * 10_000) % 5]
    return Decimal(min(max(euros, 2), 199) * 100 + cents) / 100


def _year(rng: random.Random) -> int | None:
    """A publication year, recent books the most common; one book in twenty has none.

    From the uniform draw of the first catalogs, by the inverse of an
    exponential distribution of the book's age (see ``_price``).
    """
    uniform = (rng.randrange(1850, 2026) - 1850 + 0.5) / 176
    if uniform < 0.05:
        return None
    age = -_YEAR_MEAN_AGE * log(1 - (uniform - 0.05) / 0.95 * 0.999)
    return max(1850, 2025 - int(age))


_BULK_TABLES = ("authors", "books", "book_category")
# The search index, rebuilt in one pass once the catalog is written.
_SEARCH_TABLES = ("book_search", "search_postings", "search_words", "search_prefixes")


@asynccontextmanager
async def _bulk_load(connection: Connection, tables: Sequence[str]) -> AsyncIterator[None]:
    """Drop secondary indexes and keys, and pause triggers, of ``tables``; restore after.

    Building an index once over sorted data is many times faster than
    updating it a million times, and re-adding a foreign key validates it
    with one join instead of a lookup per row. Runs inside the caller's
    transaction: if the load fails, the schema is untouched. Its memory for
    the index builds is set for that transaction only (``SET LOCAL``): a
    session-level SET would outlive the load on a pooler's server
    connection (``bookstore.database.keep_session``).
    """
    await connection.execute("SET LOCAL maintenance_work_mem = '512MB'")
    constraints = await connection.fetch(
        """
        SELECT conrelid::regclass::text AS table_name, conname AS name,
               pg_get_constraintdef(oid) AS definition
        FROM pg_constraint
        WHERE conrelid = ANY($1::regclass[]) AND contype IN ('f', 'u')
        ORDER BY contype DESC  -- unique keys first when re-adding
        """,
        list(tables),
    )
    indexes = await connection.fetch(
        """
        SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition
        FROM pg_index
        WHERE indrelid = ANY($1::regclass[]) AND NOT indisprimary
          AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE contype IN ('u', 'x'))
        """,
        list(tables),
    )
    for constraint in constraints:
        await connection.execute(
            f'ALTER TABLE {constraint["table_name"]} DROP CONSTRAINT "{constraint["name"]}"'
        )
    for index in indexes:
        await connection.execute(f"DROP INDEX {index['name']}")
    # The loader writes what triggers would derive (book_category's copies of
    # the book's title and author).
    for table in tables:
        await connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    yield
    for table in tables:
        await connection.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    for index in indexes:
        await connection.execute(index["definition"])
    for constraint in constraints:
        await connection.execute(
            f'ALTER TABLE {constraint["table_name"]} ADD CONSTRAINT "{constraint["name"]}" '
            f"{constraint['definition']}"
        )


async def catalog_is_empty() -> bool:
    return not await Book.exists() and not await Author.exists() and not await Category.exists()


async def clear_catalog() -> None:
    """Remove every book, author and category; search logs are kept."""
    await Book.raw("TRUNCATE books, authors, categories, book_category RESTART IDENTITY CASCADE")


async def seed_synthetic(books: int, *, seed: int = 42) -> SyntheticCatalog:
    """COPY a synthetic catalog of ``books`` books into empty tables.

    Ids are assigned here rather than by the sequences so that links can be
    written without reading anything back; the sequences are moved past
    them at the end.
    """
    if books < 1:
        raise ValueError("books must be at least 1")
    rng = random.Random(seed)
    author_count = max(1, books // 10)
    category_count = min(300, max(10, books // 100))
    engine = engine_finder()
    connection = await engine.get_new_connection()
    try:
        async with (
            connection.transaction(),
            _bulk_load(connection, (*_BULK_TABLES, *_SEARCH_TABLES)),
        ):
            category_names = _category_names(category_count, rng)
            await connection.copy_records_to_table(
                "categories",
                records=[(i, n, slugify(n), None) for i, n in enumerate(category_names, 1)],
                columns=["id", "name", "slug", "description"],
            )
            await connection.copy_records_to_table(
                "authors",
                records=((i, _author_name(i, rng), None) for i in range(1, author_count + 1)),
                columns=["id", "name", "bio"],
            )
            book_records: list[tuple[Any, ...]] = []
            link_records: list[tuple[Any, ...]] = []
            for record, category_ids in _book_rows(books, author_count, len(category_names), rng):
                book_records.append(record)
                book_id, title, _, year, price, _, author_id, created_at = record
                link_records.extend(
                    (book_id, c, title, author_id, year, price, created_at) for c in category_ids
                )
            await connection.copy_records_to_table(
                "books",
                records=book_records,
                columns=[
                    "id",
                    "title",
                    "isbn",
                    "published_year",
                    "price",
                    "description",
                    "author_id",
                    "created_at",
                ],
            )
            await connection.copy_records_to_table(
                "book_category",
                records=link_records,
                columns=[
                    "book_id",
                    "category_id",
                    "book_title",
                    "book_author_id",
                    "book_year",
                    "book_price",
                    "book_created_at",
                ],
            )
            link_count = len(link_records)
            for table in ("categories", "authors", "books", "book_category"):
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            await connection.execute("SELECT search_rebuild()")
            # Its triggers were paused too: the facet counts, in one GROUP BY.
            await connection.execute("SELECT category_counts_rebuild()")
        # VACUUM sets the visibility map, which index-only scans rely on.
        await connection.execute(
            "VACUUM (ANALYZE) categories, authors, books, book_category, "
            + ", ".join(_SEARCH_TABLES)
        )
    finally:
        await connection.close()
    return SyntheticCatalog(author_count, len(category_names), books, link_count)
