"""The schema in the database is the one the contract names."""

from __future__ import annotations

from datetime import UTC, datetime

from bookstore.tables import Book


async def fetch(sql: str, *args: object) -> list[dict]:
    return await Book.raw(sql, *args)


async def test_tables_and_columns_are_named_as_the_contract_says() -> None:
    rows = await fetch(
        "SELECT table_name, column_name, data_type, is_nullable, character_maximum_length,"
        " numeric_precision, numeric_scale FROM information_schema.columns"
        " WHERE table_schema = 'public'"
        " AND table_name IN ('books', 'authors', 'categories', 'book_category', 'search_logs')"
    )
    columns = {(r["table_name"], r["column_name"]): r for r in rows}
    assert {name for table, name in columns if table == "books"} == {
        "id", "title", "isbn", "published_year", "price", "description", "author_id",
        "created_at", "updated_at",
    }  # fmt: skip
    assert {name for table, name in columns if table == "authors"} == {"id", "name", "bio"}
    assert {name for table, name in columns if table == "categories"} == {
        "id", "name", "slug", "description",
    }  # fmt: skip
    # book_title, book_author_id, book_year, book_price and book_created_at are
    # copies of the book's, kept by triggers, for index-ordered search and sorts.
    assert {name for table, name in columns if table == "book_category"} == {
        "id", "book_id", "category_id", "book_title", "book_author_id", "book_year",
        "book_price", "book_created_at",
    }  # fmt: skip
    assert {name for table, name in columns if table == "search_logs"} == {
        "id", "author", "category", "q", "query", "result_count", "duration_ms", "created_at",
    }  # fmt: skip
    assert columns["search_logs", "q"]["data_type"] == "text"
    assert columns["search_logs", "q"]["is_nullable"] == "YES"
    assert columns["books", "title"]["character_maximum_length"] == 300
    assert columns["books", "title"]["is_nullable"] == "NO"
    assert columns["books", "isbn"]["character_maximum_length"] == 13
    assert columns["books", "price"]["numeric_precision"] == 10
    assert columns["books", "price"]["numeric_scale"] == 2
    assert columns["books", "author_id"]["is_nullable"] == "NO"
    assert columns["authors", "name"]["character_maximum_length"] == 200
    assert columns["categories", "name"]["character_maximum_length"] == 100
    assert columns["categories", "slug"]["character_maximum_length"] == 100
    assert columns["search_logs", "duration_ms"]["data_type"] == "double precision"
    assert columns["search_logs", "created_at"]["data_type"] == "timestamp with time zone"
    assert columns["search_logs", "created_at"]["is_nullable"] == "NO"


async def test_books_have_no_redundant_author_or_category_columns() -> None:
    rows = await fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'books'"
    )
    names = {r["column_name"] for r in rows}
    assert not names & {"author", "author_name", "category", "category_id", "categories"}


async def test_foreign_keys_and_their_delete_rules() -> None:
    rows = await fetch(
        """
        SELECT conrelid::regclass::text AS table_name, confrelid::regclass::text AS target,
               a.attname AS column_name, confdeltype::text AS on_delete
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
        WHERE contype = 'f' AND conrelid::regclass::text IN ('books', 'book_category')
        """
    )
    keys = {(r["table_name"], r["column_name"]): (r["target"], r["on_delete"]) for r in rows}
    assert keys[("books", "author_id")] == ("authors", "r")  # RESTRICT
    assert keys[("book_category", "book_id")] == ("books", "c")  # CASCADE
    assert keys[("book_category", "category_id")] == ("categories", "r")


async def test_unique_constraints() -> None:
    rows = await fetch(
        """
        SELECT conrelid::regclass::text AS table_name,
               array_agg(a.attname::text ORDER BY a.attname) AS columns
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
        WHERE contype = 'u'
        GROUP BY c.oid, conrelid
        """
    )
    unique = {(r["table_name"], tuple(r["columns"])) for r in rows}
    assert ("books", ("isbn",)) in unique
    assert ("categories", ("name",)) in unique
    assert ("categories", ("slug",)) in unique
    assert ("book_category", ("book_id", "category_id")) in unique


async def test_price_must_not_be_negative_in_the_database_too() -> None:
    rows = await fetch(
        "SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint"
        " WHERE conrelid = 'books'::regclass AND contype = 'c'"
    )
    assert any("price >= " in r["definition"] for r in rows)


async def test_indexes_serve_the_searches() -> None:
    rows = await fetch("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'")
    definitions = [r["indexdef"] for r in rows]

    def has_index(table: str, leading: str) -> bool:
        # "ON ONLY": the index of a partitioned table (search_logs), built on each partition.
        on_table = (f"ON public.{table} ", f"ON ONLY public.{table} ")
        return any(any(o in d for o in on_table) and f"({leading}" in d for d in definitions)

    assert has_index("books", "author_id")
    assert has_index("book_category", "category_id, book_title, book_id")
    assert has_index("book_category", "category_id, book_author_id, book_title, book_id")
    assert has_index("books", "author_id, title, id")
    assert has_index("books", "title, id")
    assert has_index("search_logs", "created_at, id")
    # The storefront's sorts (issue 10): the whole catalog and a category in each order.
    for column in ("published_year", "price", "created_at"):
        assert has_index("books", f"{column}, id")
    for copy in ("book_year", "book_price", "book_created_at"):
        assert has_index("book_category", f"category_id, {copy}, book_id")
    assert any("authors" in d and "gin_trgm_ops" in d for d in definitions)


async def test_search_logs_have_no_index_on_created_at_alone() -> None:
    # (created_at, id) serves every query by time; one on created_at alone
    # would only make the logging of each search slower.
    rows = await fetch(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'search_logs'"
    )
    definitions = [r["indexdef"] for r in rows]
    assert any(d.endswith("(created_at, id)") for d in definitions), definitions
    assert not any(d.endswith("(created_at)") for d in definitions), definitions


async def _new_author(name: str) -> int:
    from bookstore.tables import Author

    return (await Author.insert(Author(name=name)).returning(Author.id))[0]["id"]


async def _frankenstein_in_gothic(author: int) -> int:
    """A book linked to a category, through the tables as the API writes them."""
    from bookstore.tables import BookCategory, Category

    category = (
        await Category.insert(Category(name="Gothic", slug="gothic")).returning(Category.id)
    )[0]["id"]
    book = (await Book.insert(Book(title="Frankenstein", author=author)).returning(Book.id))[0][
        "id"
    ]
    await BookCategory.insert(BookCategory(book=book, category=category))
    return book


async def _copied(column: str, book: int) -> object:
    rows = await fetch(f"SELECT {column} AS value FROM book_category WHERE book_id = {{}}", book)
    return rows[0]["value"]


async def test_the_title_copy_on_book_category_follows_the_book() -> None:
    book = await _frankenstein_in_gothic(await _new_author("Mary Shelley"))

    assert await _copied("book_title", book) == "Frankenstein"
    await Book.update({Book.title: "The Modern Prometheus"}).where(Book.id == book)
    assert await _copied("book_title", book) == "The Modern Prometheus"
    await fetch("UPDATE book_category SET book_title = 'tampered' WHERE book_id = {}", book)
    assert await _copied("book_title", book) == "The Modern Prometheus"


async def test_the_author_copy_on_book_category_follows_the_book() -> None:
    shelley, godwin = await _new_author("Mary Shelley"), await _new_author("William Godwin")
    book = await _frankenstein_in_gothic(shelley)

    assert await _copied("book_author_id", book) == shelley
    await Book.update({Book.author: godwin}).where(Book.id == book)
    assert await _copied("book_author_id", book) == godwin
    await fetch("UPDATE book_category SET book_author_id = {} WHERE book_id = {}", shelley, book)
    assert await _copied("book_author_id", book) == godwin


async def test_search_logs_are_partitioned_by_day_with_bigint_ids() -> None:
    (table,) = await fetch(
        "SELECT pg_get_partkeydef('search_logs'::regclass) AS key,"
        " format_type(a.atttypid, a.atttypmod) AS id_type"
        " FROM pg_attribute a WHERE a.attrelid = 'search_logs'::regclass AND a.attname = 'id'"
    )
    assert table["key"] == "RANGE (created_at)"
    assert table["id_type"] == "bigint"
    partitions = await fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'search_logs'::regclass"
    )
    # Today's exists before any search is written.
    today = f"search_logs_{datetime.now(UTC):%Y%m%d}"
    assert today in {p["relname"] for p in partitions}
