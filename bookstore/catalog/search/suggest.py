"""Completions of what is being typed: titles, authors and categories (``/books/suggest``).

Called on every keystroke, so it is a single statement after the term
lookup: each kind takes the first matches the GIN index of
``book_search.words`` gives, with every term in that kind's own field.
"""

from __future__ import annotations

from piccolo.querystring import QueryString

from bookstore.catalog.search.vocabulary import ResolvedTerm, look_up_terms
from bookstore.catalog.search.words import parse_query
from bookstore.catalog.statements import Row, all_of, literal_limit
from bookstore.database import connection, fetch
from bookstore.tables import Book

KINDS = ("title", "author", "category")


def _every_term_in(column: str, terms: list[ResolvedTerm], *, indexed: bool) -> QueryString:
    conditions = []
    for term in terms:
        words = list(term.words)
        if indexed:
            conditions.append(QueryString("s.words && {}::text[]", words))
        conditions.append(QueryString(f"{column} && {{}}::text[]", words))
    return all_of(conditions)


async def suggest(q: str, *, limit: int) -> list[Row]:
    """Up to ``limit`` completions, taking titles, authors and categories in turn."""
    query = parse_query(q)
    if query.empty:
        return []
    async with connection(Book._meta.db) as db:
        resolved = await look_up_terms(db, query.terms, prefix=query.prefix)
        terms = [t for t in resolved if t.variants]
        if not terms or len(terms) < len([t for t in resolved if t.lexeme is not None]):
            return []  # a word matches nothing: nothing completes the text
        n = literal_limit(limit)
        statement = QueryString(
            "SELECT kind, id, text FROM ("
            f"(SELECT 'title' AS kind, b.id, b.title AS text, 0 AS k FROM book_search s"
            f" JOIN books b ON b.id = s.book_id WHERE {{}} {n})"
            f" UNION ALL (SELECT 'author', a.id, a.name, 1 FROM authors a WHERE a.id IN ("
            f"SELECT s.author_id FROM book_search s WHERE {{}} {literal_limit(limit * 20)}) {n})"
            f" UNION ALL (SELECT 'category', c.id, c.name, 2 FROM categories c"
            f" WHERE {{}} ORDER BY c.name {n})) AS found",
            _every_term_in("s.title", terms, indexed=True),
            _every_term_in("s.author", terms, indexed=True),
            _every_term_in("search_lexemes(c.name)", terms, indexed=False),
        )
        rows = await fetch(db, statement)
    by_kind: dict[str, list[Row]] = {kind: [] for kind in KINDS}
    for row in rows:
        by_kind[row["kind"]].append({"kind": row["kind"], "text": row["text"], "id": row["id"]})
    taken: list[Row] = []
    while len(taken) < limit and any(by_kind.values()):
        for kind in KINDS:
            if by_kind[kind] and len(taken) < limit:
                taken.append(by_kind[kind].pop(0))
    return taken
