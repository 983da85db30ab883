"""Importing a catalog from CSV or JSON Lines: match, then update or create.

Each row is checked by ``schemas.BookImportRow`` (the API's own rules for a
book). A valid row is matched to a book by its ISBN, else by its title and
author (a book with another ISBN is another edition, not a match); a match
is updated where the row differs, else a book is created, with any author
or category it names that does not exist yet. A field left empty keeps the
stored value. Rows go in batches, each batch in one transaction, written
with a few set-based statements (not one round trip per row). A batch the
database refuses (a concurrent writer took an ISBN, say) is retried row by
row, so a bad row is reported, never half written, and never stops the
import.

A batch's books join the search index's queue in the batch's transaction;
a second connection indexes the queue while the next batches are written
(``Indexer``), and the import returns once its books are indexed. Stopped
midway, it leaves committed books queued: the next import indexes them.

Importing the same file twice changes nothing the second time: a row that
says what the catalog holds counts as unchanged and writes nothing.

>>> report = await import_books(open("supplier.csv", newline=""), TransferFormat.csv)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bookstore.catalog.exports import TransferFormat
from bookstore.catalog.import_indexing import BATCH_STATEMENT_TIMEOUT_MS, Indexer
from bookstore.catalog.import_rows import RowInput, read_rows, validate
from bookstore.database import DatabaseConnection, connection, transaction
from bookstore.schemas import BookImportRow, ImportProblem, ImportReport
from bookstore.schemas import cached_slug as slugify
from bookstore.tables import Book

ROWS_PER_BATCH = 1000

# The columns of ``books`` an import sets, in the order of ``Target.values``.
BOOK_COLUMNS = ("title", "author_id", "isbn", "published_year", "price", "description")

# -- matching rows to books ----------------------------------------------------

# An author or category is its id, or ("new", name) / ("new", slug) until created.
Key = int | tuple[str, str]


@dataclass
class Target:
    """A book the import creates or changes: what is stored, and what it will be."""

    book_id: int | None  # None: to be created
    stored: dict[str, Any]  # BOOK_COLUMNS (author_id as a Key) and "categories"
    wanted: dict[str, Any]
    claimed: bool = False  # a row of this import is about this book


@dataclass
class Resolution:
    """What is known of the catalog while rows are matched.

    A write run keeps one per batch (the database holds the rest); a dry run
    keeps one for the whole file, since nothing it matched was written.
    """

    authors: dict[str, Key] = field(default_factory=dict)  # name -> key
    categories: dict[str, Key] = field(default_factory=dict)  # casefold name or slug -> key
    category_names: dict[Key, str] = field(default_factory=dict)
    books: dict[int, Target] = field(default_factory=dict)  # stored, by id
    by_isbn: dict[str, Target] = field(default_factory=dict)
    # Books with that title and author, in id order: the n-th row naming them
    # (without a matching ISBN) is about the n-th, so that a catalog holding
    # two books of one title and author exports and imports back unchanged.
    by_title_author: dict[tuple[str, Key], list[Target]] = field(default_factory=dict)
    new_books: list[Target] = field(default_factory=list)
    # Books of this batch queued for the search index (written ones only).
    queued: list[int] = field(default_factory=list)
    titles_looked_up: set[tuple[str, int]] = field(default_factory=set)
    # Books claimed by rows of earlier batches (their targets are gone).
    claimed_ids: set[int] = field(default_factory=set)


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: Outcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


_BOOK_ROW = (
    "SELECT b.id, b.title, b.author_id, b.isbn, b.published_year, b.price, b.description,"
    " ARRAY(SELECT category_id FROM book_category WHERE book_id = b.id) AS category_ids"
    " FROM books b"
)


async def _look_up(db: DatabaseConnection, rows: list[BookImportRow], known: Resolution) -> None:
    """Load into ``known`` the authors, categories and books the rows may name.

    Three statements a batch. Each list is joined as ``unnest($1)`` rather
    than matched with ``= ANY($1)``: under a generic plan (the API's pool
    forces them) PostgreSQL guesses ten elements for an array parameter,
    and for ten names pg_trgm's GIN index on ``authors.name`` looked
    cheapest; for a thousand it took 24 s a batch (6 ms a row, all of the
    time of re-importing an unchanged file). Joined, the list is walked once
    with a b-tree probe per name.
    """
    names = sorted({row.author for row in rows} - known.authors.keys())
    if names:
        for record in await db.fetch(
            "SELECT DISTINCT ON (n.name) n.name, a.id FROM unnest($1::text[]) AS n (name)"
            " JOIN authors a ON a.name = n.name ORDER BY n.name, a.id",
            names,
        ):
            known.authors[record["name"]] = record["id"]

    wanted_categories = {name for row in rows for name in row.categories or ()}
    folded = sorted({name.casefold() for name in wanted_categories} - known.categories.keys())
    slugs = sorted({slugify(name) for name in wanted_categories} - known.categories.keys())
    if folded or slugs:
        for record in await db.fetch(
            "SELECT id, name, slug FROM categories"
            " WHERE lower(name) = ANY($1::text[]) OR slug = ANY($2::text[]) ORDER BY id",
            folded,
            slugs,
        ):
            known.categories.setdefault(record["name"].casefold(), record["id"])
            known.categories.setdefault(record["slug"], record["id"])
            known.category_names[record["id"]] = record["name"]

    isbns = sorted({row.isbn for row in rows if row.isbn} - known.by_isbn.keys())
    pairs = {
        (row.title, author_id)
        for row in rows
        if isinstance(author_id := known.authors.get(row.author), int)
    } - known.titles_looked_up
    known.titles_looked_up |= pairs
    if isbns or pairs:
        titles, author_ids = zip(*sorted(pairs), strict=True) if pairs else ((), ())
        # One statement for both keys: the books of the listed ISBNs, and
        # those of the listed (title, author) pairs, each by its b-tree.
        for record in await db.fetch(
            f"{_BOOK_ROW} WHERE b.id IN ("
            " SELECT x.id FROM unnest($1::text[]) AS k (isbn) JOIN books x ON x.isbn = k.isbn"
            " UNION SELECT x.id FROM unnest($2::text[], $3::integer[]) AS k (title, author_id)"
            " JOIN books x ON x.title = k.title AND x.author_id = k.author_id)"
            " ORDER BY b.id",
            isbns,
            list(titles),
            list(author_ids),
        ):
            _remember(known, record)


def _remember(known: Resolution, record: asyncpg.Record) -> Target:
    target = known.books.get(record["id"])
    if target is None:
        stored = {column: record[column] for column in BOOK_COLUMNS}
        stored["categories"] = frozenset(record["category_ids"])
        target = Target(record["id"], stored, dict(stored), record["id"] in known.claimed_ids)
        known.books[record["id"]] = target
        same = known.by_title_author.setdefault((record["title"], record["author_id"]), [])
        same.append(target)
        same.sort(key=lambda book: book.book_id or 0)
    if record["isbn"] is not None:
        known.by_isbn.setdefault(record["isbn"], target)
    return target


def _author_key(known: Resolution, name: str) -> Key:
    return known.authors.setdefault(name, ("new", name))


def _category_key(known: Resolution, name: str) -> Key:
    slug = slugify(name)
    key = known.categories.get(name.casefold(), known.categories.get(slug))
    if key is None:
        key = ("new", slug)
        known.categories[name.casefold()] = known.categories[slug] = key
        known.category_names[key] = name
    return key


def _match(known: Resolution, row: BookImportRow, author: Key) -> Target | None:
    """The book ``row`` names: by ISBN, else by title and author (if not another edition)."""
    if row.isbn is not None and row.isbn in known.by_isbn:
        return known.by_isbn[row.isbn]
    for target in known.by_title_author.get((row.title, author), ()):
        if not target.claimed and (row.isbn is None or target.wanted["isbn"] in (None, row.isbn)):
            return target
    return None


def _resolve(known: Resolution, row: BookImportRow, outcome: Outcome) -> None:
    """Fold ``row`` into the targets of ``known``, and count what it does."""
    author = _author_key(known, row.author)
    given = row.model_dump(exclude_unset=True)
    wanted: dict[str, Any] = {"title": row.title, "author_id": author}
    for column in ("isbn", "published_year", "price", "description"):
        if column in given:
            wanted[column] = given[column]
    if row.categories is not None:
        wanted["categories"] = frozenset(_category_key(known, name) for name in row.categories)

    target = _match(known, row, author)
    if target is None:
        values = {column: None for column in BOOK_COLUMNS} | {"categories": frozenset()}
        target = Target(None, values, values | wanted)
        known.new_books.append(target)
        known.by_title_author.setdefault((row.title, author), []).append(target)
        outcome.created += 1
    else:
        before = dict(target.wanted)
        if target.wanted["isbn"] is not None and target.wanted["isbn"] != wanted.get(
            "isbn", target.wanted["isbn"]
        ):
            known.by_isbn.pop(target.wanted["isbn"], None)  # the book leaves its old ISBN
        target.wanted.update(wanted)
        if target.wanted == before:
            outcome.unchanged += 1
        else:
            outcome.updated += 1
    target.claimed = True
    if target.wanted["isbn"] is not None:
        known.by_isbn[target.wanted["isbn"]] = target


# -- writing -------------------------------------------------------------------


def _is_changed(target: Target) -> bool:
    return target.book_id is None or _differs(target.stored, target.wanted)


def _differs(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    # Decimals compare by value: a stored 8.50 is the 8.5 of a file.
    return any(stored[column] != value for column, value in wanted.items())


async def _create_authors_and_categories(db: DatabaseConnection, known: Resolution) -> None:
    """Give every ("new", ...) author and category of the changed books an id."""
    changed = [target for target in known.books.values() if _is_changed(target)]
    changed += known.new_books
    new_authors = sorted(
        {t.wanted["author_id"][1] for t in changed if isinstance(t.wanted["author_id"], tuple)}
    )
    if new_authors:
        for record in await db.fetch(
            "INSERT INTO authors (name) SELECT unnest($1::text[]) RETURNING id, name",
            new_authors,
        ):
            known.authors[record["name"]] = record["id"]
    new_categories = {
        key: known.category_names[key]
        for target in changed
        for key in target.wanted["categories"]
        if isinstance(key, tuple)
    }
    ids: dict[Key, int] = {}
    if new_categories:
        slugs = [key[1] for key in new_categories]
        for record in await db.fetch(
            "INSERT INTO categories (name, slug) SELECT * FROM unnest($1::text[], $2::text[])"
            " RETURNING id, slug",
            list(new_categories.values()),
            slugs,
        ):
            ids[("new", record["slug"])] = record["id"]
    for target in changed:
        author = target.wanted["author_id"]
        if isinstance(author, tuple):
            target.wanted["author_id"] = known.authors[author[1]]
        target.wanted["categories"] = frozenset(
            ids.get(key, key) if isinstance(key, tuple) else key
            for key in target.wanted["categories"]
        )


def _columns(targets: list[Target]) -> list[list[Any]]:
    """The targets' ids and wanted values, one list per column, for unnest()."""
    return [[t.book_id for t in targets]] + [
        [t.wanted[column] for t in targets] for column in BOOK_COLUMNS
    ]


_UNNEST_BOOKS = (
    "unnest($1::integer[], $2::text[], $3::integer[], $4::text[], $5::integer[],"
    " $6::numeric[], $7::text[])"
)


# The columns of a book that the text search index reads (with its categories).
INDEXED_COLUMNS = ("title", "author_id", "description")


async def _write(db: DatabaseConnection, known: Resolution) -> None:
    """Create and change the books of ``known``, with their category links.

    Inside the batch's transaction. The search index's triggers stand aside
    (``search_index_deferred``, migration 2026-11-29T05:50): they would index
    a new book once for its row and again for its links, inside this
    transaction. Instead the books whose indexed fields or categories
    changed join ``search_index_queue`` (migration 2026-11-29T10:00), in this
    transaction: committed, they are owed to the index, and the ``Indexer``
    indexes them on its own connection while the next batch is written.
    """
    await db.execute(
        "SELECT set_config('bookstore.search_index_deferred', 'on', true),"
        " set_config('statement_timeout', $1, true)",
        str(BATCH_STATEMENT_TIMEOUT_MS),
    )
    await _create_authors_and_categories(db, known)
    new = known.new_books
    if new:
        sequence_ids = await db.fetch(
            "SELECT nextval(pg_get_serial_sequence('books', 'id')) AS id"
            " FROM generate_series(1, $1::integer)",
            len(new),
        )
        for target, record in zip(new, sequence_ids, strict=True):
            target.book_id = record["id"]
        await db.execute(
            f"INSERT INTO books (id, {', '.join(BOOK_COLUMNS)}) SELECT * FROM {_UNNEST_BOOKS}",
            *_columns(new),
        )
    changed = [
        t
        for t in known.books.values()
        if _differs({c: t.stored[c] for c in BOOK_COLUMNS}, {c: t.wanted[c] for c in BOOK_COLUMNS})
        or t.stored["categories"] != t.wanted["categories"]
    ]
    if changed:
        assignments = ", ".join(f"{column} = u.{column}" for column in BOOK_COLUMNS)
        # updated_at as update_book moves it: strictly later, so a new version.
        await db.execute(
            f"UPDATE books b SET {assignments},"
            " updated_at = GREATEST(clock_timestamp(), b.updated_at + interval '1 microsecond')"
            f" FROM {_UNNEST_BOOKS} AS u (id, {', '.join(BOOK_COLUMNS)}) WHERE b.id = u.id",
            *_columns(changed),
        )
    removed = [
        (t.book_id, category)
        for t in changed
        for category in t.stored["categories"] - t.wanted["categories"]
    ]
    added = [
        (t.book_id, category)
        for t in [*new, *changed]
        for category in t.wanted["categories"] - t.stored["categories"]
    ]
    if removed:
        await db.execute(
            "DELETE FROM book_category bc USING unnest($1::integer[], $2::integer[])"
            " AS r (book_id, category_id)"
            " WHERE bc.book_id = r.book_id AND bc.category_id = r.category_id",
            *map(list, zip(*removed, strict=True)),
        )
    if added:
        await db.execute(
            "INSERT INTO book_category (book_id, category_id)"
            " SELECT * FROM unnest($1::integer[], $2::integer[])",
            *map(list, zip(*added, strict=True)),
        )
    reindexed = [t.book_id for t in new] + [
        t.book_id
        for t in changed
        if t.stored["categories"] != t.wanted["categories"]
        or any(t.stored[column] != t.wanted[column] for column in INDEXED_COLUMNS)
    ]
    if reindexed:
        await db.execute(
            "INSERT INTO search_index_queue (book_id) SELECT unnest($1::integer[])"
            " ON CONFLICT DO NOTHING",
            reindexed,
        )
        known.queued = reindexed


def _database_reason(error: asyncpg.PostgresError) -> str:
    if isinstance(error, asyncpg.UniqueViolationError):
        if error.constraint_name == "books_isbn_key":
            return "a book with this ISBN was created meanwhile; import again"
        return "it names a category or book created meanwhile; import again"
    return f"refused by the database: {error}"


# -- the import ----------------------------------------------------------------


@dataclass
class Importer:
    """One import: rows in, batches written, a report out."""

    dry_run: bool = False
    rows_per_batch: int = ROWS_PER_BATCH
    outcome: Outcome = field(default_factory=Outcome)
    problems: list[ImportProblem] = field(default_factory=list)
    rejected: int = 0
    # A dry run remembers what it would have written, batch after batch.
    _dry_run_resolution: Resolution = field(default_factory=Resolution)
    _claimed_ids: set[int] = field(default_factory=set)
    _indexer: Indexer = field(default_factory=Indexer)

    async def run(
        self,
        rows: Iterable[RowInput],
        on_batch: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Validate and write batch after batch, the next batch read while one is written.

        Reading and validating (CSV or JSON, then pydantic) is Python work,
        writing is PostgreSQL's: the next batch is read in a worker thread
        while the database writes the current one, so the two overlap on
        two cores instead of adding up, and a request's event loop is never
        held by a whole batch's validation.
        """
        batches = self._validated(rows)
        upcoming = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
        if not self.dry_run:
            self._indexer.start()
        try:
            while (checked := await upcoming) is not None:
                batch, problems = checked
                upcoming = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
                self.rejected += len({problem.line for problem in problems})
                self.problems.extend(problems)
                if batch:
                    await self._import_batch(batch)
                if on_batch is not None:
                    on_batch(len(batch))
        finally:
            if not upcoming.done():
                await asyncio.wait([upcoming])  # the thread's read ends before the file closes
            # Also when a batch failed: the books of committed ones get indexed.
            await self._indexer.finish()
        return self.report()

    def _validated(
        self, rows: Iterable[RowInput]
    ) -> Iterator[tuple[list[tuple[int, BookImportRow]], list[ImportProblem]]]:
        """Batches of valid rows (with their lines), and the problems of the rest."""
        batch: list[tuple[int, BookImportRow]] = []
        problems: list[ImportProblem] = []
        for row in rows:
            checked = validate(row)
            if isinstance(checked, list):
                problems.extend(checked)
            else:
                batch.append((row.line, checked))
            if len(batch) >= self.rows_per_batch:
                yield batch, problems
                batch, problems = [], []
        if batch or problems:
            yield batch, problems

    def report(self) -> ImportReport:
        return ImportReport(
            created=self.outcome.created,
            updated=self.outcome.updated,
            unchanged=self.outcome.unchanged,
            rejected=self.rejected,
            dry_run=self.dry_run,
            problems=sorted(self.problems, key=lambda problem: problem.line),
        )

    async def _import_batch(self, batch: list[tuple[int, BookImportRow]]) -> None:
        if self.dry_run:
            known = self._dry_run_resolution
            async with connection(Book._meta.db) as db:
                self.outcome.add(await self._apply(db, known, batch, write=False))
            return
        try:
            self.outcome.add(await self._in_transaction(batch))
        except asyncpg.PostgresError:
            if len(batch) == 1:
                raise
            # One row spoilt the batch: each row on its own, to find it.
            for line, row in batch:
                try:
                    self.outcome.add(await self._in_transaction([(line, row)]))
                except asyncpg.PostgresError as error:
                    self.rejected += 1
                    self.problems.append(
                        ImportProblem(line=line, field="", reason=_database_reason(error))
                    )

    async def _in_transaction(self, batch: list[tuple[int, BookImportRow]]) -> Outcome:
        known = Resolution(claimed_ids=self._claimed_ids)
        async with transaction(Book._meta.db), connection(Book._meta.db) as db:
            outcome = await self._apply(db, known, batch, write=True)
        self._indexer.queued(known.queued)
        # Committed: later batches must not give these books to other rows.
        self._claimed_ids.update(
            target.book_id
            for target in [*known.books.values(), *known.new_books]
            if target.claimed and target.book_id is not None
        )
        return outcome

    async def _apply(
        self,
        db: DatabaseConnection,
        known: Resolution,
        batch: list[tuple[int, BookImportRow]],
        *,
        write: bool,
    ) -> Outcome:
        outcome = Outcome()
        rows = [row for _, row in batch]
        await _look_up(db, rows, known)
        for row in rows:
            _resolve(known, row, outcome)
        if write:
            await _write(db, known)
        return outcome


async def import_books(
    lines: Iterable[str],
    file_format: TransferFormat,
    *,
    dry_run: bool = False,
    rows_per_batch: int = ROWS_PER_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the rows of ``lines`` (a text file opened with ``newline=""``)."""
    importer = Importer(dry_run=dry_run, rows_per_batch=rows_per_batch)
    return await importer.run(read_rows(lines, file_format), on_batch=on_batch)
