"""Completions of what is being typed: titles, authors and categories (``/books/suggest``).

Called on every keystroke, so every read is bounded whatever the catalog
holds. After the term lookup, one statement: titles and authors are found
by walking one term's postings in the title (field 0) or author (field 1),
the term with the fewest words (a prefix stands for up to 20), its words
in their order (the word typed, then corrections, then the commonest
completions) and each word's books by id, checking the other terms in-row;
each walk reads at most a fixed number of postings, so a rare combination
of common words may complete to fewer items than exist. Categories, a few
hundred rows, are matched on an expression index of their words.

A text of several terms that no one field completes ("tolkien hob": the
author's name, then the title) would answer nothing that way; when the
completions leave room, the titles of the books its search finds first
fill it (``first_match_ids``: the search's own planners and page, one page
statement more, bounded by the limit). Its terms are the completions': a
text of several terms is looked up once, counted as the search counts it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from asyncpg import Record
from piccolo.querystring import QueryString

from bookstore.catalog.search import first_match_ids
from bookstore.catalog.search.pages import Match, match_of, text_conditions
from bookstore.catalog.search.vocabulary import ResolvedTerm, look_up_query
from bookstore.catalog.search.words import ParsedQuery, parse_query
from bookstore.catalog.statements import Row, all_of, literal_limit, rows_to_fetch
from bookstore.database import DatabaseConnection, connection, fetch
from bookstore.query_text import Compiled, Sql
from bookstore.tables import Book

KINDS = ("title", "author", "category")
# Postings of the driving term read per kind, at most, when other terms must
# be checked in-row; with one term every posting is a completion.
CHECKED_POSTINGS = 1_000
# Books whose author matched, per author kind: a prolific author fills many.
AUTHOR_POSTINGS_PER_ITEM = 8


def _walk(
    driver_words: list[str],
    field: int,
    per_word: int,
    total: int,
    others: QueryString,
    *,
    once_in: str | None = None,
) -> QueryString:
    """book_search rows of the driver's postings in ``field``, the others checked in-row.

    A nested loop over the driver's words in their order, each word's
    postings by id (search_postings' primary key): rows stream out in that
    order and the LIMIT stops the reading. ``once_in``: the row's column of
    ``field`` (``s.title``), when a book must come out once: a book holding
    two of the driver's words ("Stranger in a Strange Land" for "stra") is
    met under each, and is skipped under a word after the first it holds.
    """
    once = ""
    if once_in is not None:
        once = f" AND (v.n = 1 OR NOT {once_in} && ({{}}::text[])[1:v.n - 1])"
    return Sql(
        "SELECT s.book_id, s.author_id FROM unnest({}::text[]) WITH ORDINALITY AS v (word, n)"
        " CROSS JOIN LATERAL (SELECT p.book_id FROM search_postings p"
        f" WHERE p.word = v.word AND p.field = {field} ORDER BY p.book_id"
        f" {literal_limit(per_word)}) AS p"
        f" JOIN book_search s ON s.book_id = p.book_id WHERE {{}}{once} {literal_limit(total)}",
        driver_words,
        others,
        *([driver_words] if once_in is not None else []),
    )


def _holds_every_term(column: str, words: list[list[str]]) -> QueryString:
    """``column`` (an array of words) holds one of the words of every term.

    ``pages.terms_match``, but with each term's words as one list for the
    whole statement: ``compile_postgres`` sends a list passed several times
    once. The five arrays of a one-term completion (the walks' driver, the
    titles', authors' and categories' conditions) were the same twenty
    completions sent five times, and asyncpg checks every element of every
    array it encodes.
    """
    return all_of([Sql(f"{column} && {{}}::text[]", term_words) for term_words in words])


def completions_statement(
    terms: list[ResolvedTerm], limit: int, conditions: Sequence[QueryString] = ()
) -> QueryString:
    """Up to ``limit`` titles, authors and categories holding every term.

    ``conditions``: what the text asks of a book's row besides its terms
    (``pages.text_conditions``: its exclusions and phrases), checked for the
    books of the titles and of the authors offered: "-hobbit hob" offers no
    Hobbit, and an author is offered for a book of theirs that the text finds.
    A category is not a book: it is offered for its name alone.
    """
    words = [list(term.words) for term in terms]
    driver = min(range(len(terms)), key=lambda n: len(words[n]))
    driver_words = words[driver]
    checked = len(terms) > 1 or bool(conditions)
    n = literal_limit(limit)
    checked_postings = max(limit, CHECKED_POSTINGS // len(driver_words))
    title_postings = checked_postings if checked else limit
    titles = _walk(
        driver_words,
        0,
        title_postings,
        limit,
        all_of([_holds_every_term("s.title", words), *conditions]),
        once_in="s.title",
    )
    in_author = all_of([_holds_every_term("s.author", words), *conditions])
    author_books = limit * AUTHOR_POSTINGS_PER_ITEM
    author_postings = checked_postings if checked else author_books
    # A word is posted once per book, at its best field: "Poems by Emily
    # Dickinson" posts "dickinson" as a title word, so its author is met
    # among the title postings the titles' walk reads, checked in-row; read
    # only when the author postings leave room.
    authors = Sql(
        f"SELECT * FROM (({{}}) UNION ALL ({{}})) AS walked {literal_limit(author_books)}",
        _walk(driver_words, 1, author_postings, author_books, in_author),
        _walk(driver_words, 0, title_postings, author_books, in_author),
    )
    return Sql(
        "SELECT kind, id, text FROM ("
        "(SELECT 'title' AS kind, b.id, b.title AS text FROM ({}) AS found"
        " JOIN books b ON b.id = found.book_id)"
        " UNION ALL (SELECT 'author', a.id, a.name FROM authors a"
        f" WHERE a.id IN (SELECT found.author_id FROM ({{}}) AS found) {n})"
        " UNION ALL (SELECT 'category', c.id, c.name FROM categories c"
        f" WHERE {{}} ORDER BY c.name {n})) AS found",
        titles,
        authors,
        _holds_every_term("search_category_words(c.name)", words),
    )


# The titles of a search's first page, in its order (``details`` orders a
# page by relevance the same way).
_FOUND_TITLES = """WITH page AS MATERIALIZED ({})
SELECT b.id, b.title FROM page JOIN books b ON b.id = page.id ORDER BY page.score DESC, b.id"""


@functools.lru_cache(maxsize=64)
def _found_titles_text(page: str) -> str:
    """``_FOUND_TITLES`` around a page compiled once per shape (``query_text.Compiled``):
    kept, as ``details._compiled_text`` is, so that a page by levels' long text is not
    joined again per request."""
    return _FOUND_TITLES.format(page)


def found_titles_statement(page: QueryString) -> QueryString:
    """The id and title of each book of ``page`` (id, score rows), best first."""
    if type(page) is Compiled:
        return Compiled(_found_titles_text(page.text), page.values)
    return Sql(_FOUND_TITLES, page)


def _every_word_found(resolved: Sequence[ResolvedTerm]) -> list[int] | None:
    """The terms to complete (their positions in ``resolved``), or None when a word
    that is searched found nothing.

    A completion drops no word, as the search may: a word the catalog does
    not hold (stop words aside, which are not searched) leaves nothing to offer.
    Asked of each term: a stop word being typed has completions ("the":
    "themes"), which counted for the word before it when the terms were
    counted ("zzzqqq the" offered "Themes of Winter").
    """
    if any(term.lexeme is not None and not term.variants for term in resolved):
        return None
    return [n for n, term in enumerate(resolved) if term.variants] or None


async def _found_titles(
    db: DatabaseConnection,
    match: Match,
    limit: int,
    catalog_books: int,
    catalog_version: int | None,
) -> list[Record]:
    """The books the search of ``match`` finds first, at most ``limit`` (rounded up to a
    page size, ``rows_to_fetch``, so that a few statements serve every limit).

    ``match``: every term of the text, each word found (``_every_word_found``),
    as in a completion: no word is dropped. ``catalog_books``: the lookup's
    ``top_book``.
    """
    page = await first_match_ids(
        db,
        match,
        rows=rows_to_fetch(limit),
        catalog_books=catalog_books,
        catalog_version=catalog_version,
    )
    return await fetch(db, found_titles_statement(page))


def in_turn(rows: Sequence[Record], limit: int) -> list[Row]:
    """Up to ``limit`` completions, one title, one author, one category in turn."""
    by_kind: dict[str, list[Row]] = {kind: [] for kind in KINDS}
    for row in rows:
        by_kind[row["kind"]].append({"kind": row["kind"], "text": row["text"], "id": row["id"]})
    taken: list[Row] = []
    while len(taken) < limit and any(by_kind.values()):
        for kind in KINDS:
            if by_kind[kind] and len(taken) < limit:
                taken.append(by_kind[kind].pop(0))
    return taken


def with_found_titles(taken: list[Row], found: Sequence[Record], limit: int) -> list[Row]:
    """``taken``, then the titles of ``found`` in its order up to ``limit``, a book already
    offered as a title not again."""
    offered = {item["id"] for item in taken if item["kind"] == "title"}
    for row in found:
        if len(taken) >= limit:
            break
        if row["id"] not in offered:
            taken.append({"kind": "title", "text": row["title"], "id": row["id"]})
            offered.add(row["id"])
    return taken


async def suggest(q: str, *, limit: int, catalog_version: int | None = None) -> list[Row]:
    """Up to ``limit`` completions, taking titles, authors and categories in turn, then,
    for several terms, the titles of the books their search finds first.

    ``catalog_version``: as for ``search_books``, the terms' lookups kept under it.

    A last word being typed that cannot complete anything yet, a single
    letter (too short to be a prefix: "harry p") or a stop word ("pride
    and"), is left out when the text with it completes to nothing: each
    keystroke of "harry potter" offers Harry Potter, where "harry p" offered
    nothing between "harry" and "harry po". A word typed in full, or any
    other, is never left out.
    """
    query = parse_query(q)
    if query.empty:
        return []
    async with connection(Book._meta.db) as db:
        taken, resolved = await _completions(db, query, limit, catalog_version)
        if not taken and _last_word_not_yet_a_word(query, resolved):
            shorter = query.without_last_term()
            taken, _ = await _completions(db, shorter, limit, catalog_version)
    return taken


def _last_word_not_yet_a_word(query: ParsedQuery, resolved: Sequence[ResolvedTerm]) -> bool:
    """Whether the last word, being typed, is a letter or a stop word after another word."""
    if not query.typing or len(query.terms) < 2:
        return False
    return not query.prefix or resolved[-1].lexeme is None


async def _completions(
    db: DatabaseConnection, query: ParsedQuery, limit: int, catalog_version: int | None
) -> tuple[list[Row], list[ResolvedTerm]]:
    """``suggest``'s answer for ``query`` (no word dropped), and its terms looked up."""
    # Looked up once, as the search looks them up (its titles are the
    # search's, ``_found_titles``), so that completions and searches share
    # kept terms.
    resolved, found = await look_up_query(db, query, known_version=catalog_version)
    found_words = _every_word_found(resolved)
    if found_words is None:
        return [], resolved  # a word matches nothing: nothing completes the text
    match = match_of(query, resolved, found_words)
    terms = list(match.terms)
    taken = in_turn(
        await fetch(db, completions_statement(terms, limit, text_conditions("s", match))), limit
    )
    # Only several terms can be held by a book in no one field, and a full
    # answer has no room: the search runs for neither.
    if len(terms) > 1 and len(taken) < limit:
        titles = await _found_titles(db, match, limit, found.get("top_book") or 0, catalog_version)
        taken = with_found_titles(taken, titles, limit)
    return taken, resolved
