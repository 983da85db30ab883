"""Step 5: the statement that fetches one page of matches, best first.

Two shapes, chosen by the number of terms:

- One term (``harry``, or ``pot`` standing for pot, potter, potion...):
  each of its words is walked in ``search_postings`` primary key order,
  which is that word's order of relevance (best field, then id), and the
  walk stops after a page of books passing the filters. A word held by
  300,000 books costs a page of index entries, not 300,000.
- Several terms: every term must match, an AND of array overlaps on
  ``book_search.words`` that its GIN index answers as a bitmap; the
  matches are scored from their rows and the best page sorted out.

Both continue after a cursor (score, id) and return (id, score) rows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from piccolo.querystring import QueryString

from bookstore.catalog.filters import Criteria
from bookstore.catalog.pages import ranges_of_book
from bookstore.catalog.search import ranking
from bookstore.catalog.search.vocabulary import ResolvedTerm
from bookstore.catalog.search.words import Exclusions, ParsedQuery
from bookstore.catalog.statements import all_of, literal_limit
from bookstore.query_text import Sql


@dataclass(frozen=True)
class Relevance:
    """Where a page in order of relevance resumes: after this (score, id)."""

    score: int
    id: int


FIRST = Relevance(ranking.TOP_SCORE, 0)


@dataclass(frozen=True)
class Match:
    """What a book must satisfy besides its terms."""

    terms: tuple[ResolvedTerm, ...]
    # Each a ``tsquery``'s text (``phrase_query``): the words next to each other.
    phrases: tuple[str, ...] = ()
    # Words and phrases left out (``words.ParsedQuery.excluded``).
    excluded: Exclusions = field(default_factory=Exclusions)


def tsquery_of(words: Sequence[str]) -> str:
    """The text of a ``tsquery`` matching a document holding any of ``words``, as they are.

    Each word a quoted lexeme (a quote or backslash in it escaped by a
    backslash): the cast to ``tsquery`` neither stems nor folds it.
    """
    return " | ".join("'" + word.replace("\\", "\\\\").replace("'", "\\'") + "'" for word in words)


def document_matches(row: str, tsquery: object) -> QueryString:
    """``row`` (an alias of book_search) matches a ``tsquery``'s text (``tsquery_of``,
    ``phrase_query``), or a placeholder's ``QueryString``."""
    return Sql(f"{row}.document @@ {{}}::tsquery", tsquery)


def phrase_query(positions: Sequence[Sequence[str]]) -> str | None:
    """The text of a ``tsquery`` matching a book holding one word of each position, in order,
    next to each other; None with fewer than two positions of words (a term says as much).

    A position without words (a stop word: "lord of the rings") keeps its
    place, as ``phraseto_tsquery`` counts it: ``'lord' <3> 'ring'``. A word
    corrected or spelt several ways is one of its words: ``"two towrs"``
    is ``'two' <1> ('tower')``. Each word quoted as it is (a quote or
    backslash escaped): the cast to ``tsquery`` neither stems nor folds it.

    >>> phrase_query([["lord"], [], [], ["ring", "rings"]])
    "('lord') <3> ('ring' | 'rings')"
    """
    parts: list[str] = []
    distance = 0
    for words in positions:
        distance += 1
        if not words:
            continue
        operand = "(" + tsquery_of(words) + ")"
        parts.append(f" <{distance}> {operand}" if parts else operand)
        distance = 0
    return "".join(parts) if len(parts) > 1 else None


def match_of(query: ParsedQuery, looked_up: Sequence[ResolvedTerm], kept: Sequence[int]) -> Match:
    """What the books must hold for ``query``: the terms ``kept`` (positions in
    ``looked_up``, the query's terms resolved, in their order), the phrases all of
    whose searched words are kept, and the exclusions.

    The search builds it for the words it keeps (dropping the last ones when
    nothing matches them all), the completions (``suggest``) for all the words
    found: both through here, so that a phrase or an exclusion means the same in each.
    """
    phrases = _phrases_kept(query.phrases, looked_up, set(kept))
    return Match(tuple(looked_up[n] for n in kept), phrases, query.excluded)


def _phrases_kept(
    phrases: Sequence[range], looked_up: Sequence[ResolvedTerm], kept: Collection[int]
) -> tuple[str, ...]:
    """The ``tsquery`` of each phrase (``words.ParsedQuery.phrases``) whose searched
    words are all ``kept`` (positions in ``looked_up``).

    A dropped word takes its phrase with it, else the response would name it
    ignored while the phrase still required it ("hand left": nothing, "left"
    said ignored). Stop words are not searched, and keep their places.
    """
    queries = []
    for phrase in phrases:
        if any(looked_up[n].lexeme is not None and n not in kept for n in phrase):
            continue
        query = phrase_query([looked_up[n].words for n in phrase])
        if query is not None:
            queries.append(query)
    return tuple(queries)


def terms_match(column: str, terms: Sequence[ResolvedTerm]) -> list[QueryString]:
    """``column`` (an array of words) holds one of the words of every term."""
    return [holds_one_of(column, list(term.words)) for term in terms]


def holds_one_of(column: str, words: object) -> QueryString:
    """``column`` (an array of words) holds one of ``words``, a list or a placeholder's
    ``QueryString``."""
    return Sql(f"{column} && {{}}::text[]", words)


def filter_conditions(row: str, match: Match, criteria: Criteria) -> list[QueryString]:
    """What ``row`` (an alias of book_search) must satisfy besides holding the terms."""
    return [*row_conditions(row, match, criteria), *book_conditions(f"{row}.book_id", criteria)]


def row_conditions(row: str, match: Match, criteria: Criteria) -> list[QueryString]:
    """The filters that read the book's row of book_search: phrases, exclusions, authors."""
    conditions = text_conditions(row, match)
    if criteria.author_ids is not None:
        conditions.append(Sql(f"{row}.author_id = ANY({{}}::integer[])", criteria.author_ids))
    if criteria.author_pattern is not None:
        conditions.append(
            Sql(
                f"EXISTS (SELECT 1 FROM authors a WHERE a.id = {row}.author_id"
                " AND a.name ILIKE {} OFFSET 0)",
                criteria.author_pattern,
            )
        )
    return conditions


def text_conditions(row: str, match: Match) -> list[QueryString]:
    """What the text asks of ``row`` (an alias of book_search) beyond its terms: the
    exclusions left out, the phrases' words next to each other. The search's and
    the completions' (``suggest``) alike."""
    conditions = []
    if match.excluded.words:
        # Stemmed as the books' words are: "-sequels" excludes "sequel".
        conditions.append(
            Sql(
                f"NOT {row}.words && coalesce((SELECT array_agg(l.lexeme)"
                " FROM unnest(to_tsvector('english', {})) AS l), '{{}}')",
                " ".join(match.excluded.words),
            )
        )
    for phrase in match.excluded.phrases:
        # Stop words only ("-\"of the\""): an empty query, which matches no
        # book, so that none is left out.
        conditions.append(Sql(f"NOT {row}.document @@ phraseto_tsquery('english', {{}})", phrase))
    for phrase in match.phrases:
        conditions.append(document_matches(row, phrase))
    return conditions


def book_conditions(book_id: str, criteria: Criteria) -> list[QueryString]:
    """The filters that need only the book's id: ranges and categories, each a probe."""
    conditions = ranges_of_book(book_id, criteria)
    conditions += [in_categories(book_id, category_ids) for category_ids in criteria.category_sets]
    return conditions


def in_categories(book_id: str, category_ids: object) -> QueryString:
    """The book ``book_id`` is in one of ``category_ids`` (a list or a placeholder's
    ``QueryString``): a probe of ``book_category_unique``.

    OFFSET 0 keeps the EXISTS a probe per book: flattened into a join, a
    generic plan hashed the whole category first (32,000 rows at 100,000
    books) to find a page of a frequent word in it.
    """
    return Sql(
        f"EXISTS (SELECT 1 FROM book_category x WHERE x.book_id = {book_id}"
        " AND x.category_id = ANY({}::integer[]) OFFSET 0)",
        category_ids,
    )


def after_condition(
    score: QueryString, row: str, after: Relevance, id_column: str = "book_id"
) -> QueryString:
    """``row`` comes after the cursor: a lower score, or the same and a higher id."""
    return cursor_condition(score, row, (after.score, after.score, after.id), id_column)


def cursor_condition(
    score: QueryString, row: str, cursor: tuple[object, object, object], id_column: str
) -> QueryString:
    """``after_condition`` from its three arguments, each sent on its own: the cursor's
    score compared below, its score compared equal, its id (values, or placeholders'
    ``QueryString`` when the text is compiled for its shape alone)."""
    below, equal, after_id = cursor
    return Sql(
        f"({{}} < {{}} OR ({{}} = {{}} AND {row}.{id_column} > {{}}))",
        score,
        below,
        score,
        equal,
        after_id,
    )


# A category of at most this many books is read whole to find the matches of
# a single term in it; a bigger one is tested book by book along the term's
# postings, where one book in every SMALL_CATEGORY / 21 or so is in it.
SMALL_CATEGORY = 2_000
# The authors of at most this many books are read whole to find the matches
# of a search by author (``plans.reads_authors_books``): the same bound as a
# category's, each book a probe of its row alike.
FEW_AUTHORS_BOOKS = SMALL_CATEGORY


def page_by_relevance(
    match: Match,
    criteria: Criteria,
    after: Relevance,
    limit: int,
    small_category: list[int] | None = None,
) -> QueryString:
    """(id, score) of the best ``limit`` matches after ``after``, best first.

    ``small_category``: one of the criteria's category sets, known to hold
    few books: the matches are looked for among them.
    """
    if small_category is not None:
        return _score_category(match, criteria, after, limit, small_category)
    if len(match.terms) == 1 and not match.phrases:
        return _walk_postings(match, criteria, after, limit)
    return _score_matches(match, criteria, after, limit)


def _walk_postings(match: Match, criteria: Criteria, after: Relevance, limit: int) -> QueryString:
    (term,) = match.terms
    score = ranking.score("s", match.terms)
    words = [variant.word for variant in term.variants]
    starts = [ranking.walk_start(v.inexact, after.score, after.id) for v in term.variants]
    conditions = [*filter_conditions("s", match, criteria), after_condition(score, "s", after)]
    return Sql(
        "SELECT DISTINCT found.id, found.score FROM"
        " unnest({}::text[], {}::smallint[], {}::integer[]) AS v (word, field, book_id)"
        " CROSS JOIN LATERAL ("
        " SELECT s.book_id AS id, {} AS score"
        " FROM search_postings p JOIN book_search s ON s.book_id = p.book_id"
        " WHERE p.word = v.word AND (p.field, p.book_id) > (v.field, v.book_id) AND {}"
        f" ORDER BY p.field, p.book_id {literal_limit(limit)}) AS found"
        f" ORDER BY found.score DESC, found.id {literal_limit(limit)}",
        words,
        [field for field, _ in starts],
        [book_id for _, book_id in starts],
        score,
        all_of(conditions),
    )


def _score_matches(match: Match, criteria: Criteria, after: Relevance, limit: int) -> QueryString:
    score = ranking.score("s", match.terms)
    conditions = match_conditions("s", match, criteria)
    return best_of_rows(score, conditions, after, limit)


def best_of_rows(
    score: QueryString, conditions: list[QueryString], after: Relevance, limit: int
) -> QueryString:
    """(id, score) of the best ``limit`` rows of ``book_search s`` meeting ``conditions``
    after ``after``.

    Every row meeting them is scored and the best page sorted out: the GIN
    path's statement, whichever keys the index is scanned with. Each row is
    scored once: the rows are a subquery (``OFFSET 0``, not pulled up) and
    the cursor is asked of its ``score`` column. Pulled up, or with the
    cursor among the row's conditions, the score's ``CASE`` was written (and
    run) twice per row, in the cursor's test and in the select list.
    """
    return best_of_rows_after(score, conditions, (after.score, after.score, after.id), limit)


def best_of_rows_after(
    score: QueryString,
    conditions: list[QueryString],
    cursor: tuple[object, object, object],
    limit: int,
) -> QueryString:
    """``best_of_rows`` with the cursor's three arguments (``cursor_condition``)."""
    return Sql(
        "SELECT id, score FROM (SELECT s.book_id AS id, {} AS score FROM book_search s"
        " WHERE {} OFFSET 0) AS found WHERE {}"
        f" ORDER BY score DESC, id {literal_limit(limit)}",
        score,
        all_of(conditions),
        cursor_condition(Sql("found.score"), "found", cursor, "id"),
    )


def _score_category(
    match: Match, criteria: Criteria, after: Relevance, limit: int, among: list[int]
) -> QueryString:
    """The matches among a small category's books: each book's row read by its key.

    Each row is a LATERAL probe (``OFFSET 0``): joined plainly, the generic
    plan hashed the category and took every match of the terms in the whole
    catalog from the GIN index ("without volume" in a category of 636 books
    at 100,000 books: 3,069 rows, 12,172 pages, where the category's rows
    are 636). The category set read is not probed again per book.
    """
    rest = replace(
        criteria, category_sets=tuple(ids for ids in criteria.category_sets if ids is not among)
    )
    books = Sql(
        "SELECT DISTINCT book_id AS id FROM book_category WHERE category_id = ANY({}::integer[])",
        among,
    )
    return _best_among(books, match, rest, after, limit)


def page_among_authors(
    match: Match, criteria: Criteria, after: Relevance, limit: int
) -> QueryString:
    """(id, score) of the best ``limit`` matches after ``after`` among the books of the
    criteria's authors, best first: each book's id from ``books_author_id``, its row
    of book_search probed by its key (a LATERAL, ``OFFSET 0``, as in
    ``_score_category``), scored as every other plan scores it.

    The row still checks its own ``author_id`` with the other filters: the
    page holds what the walks would find, whichever table told the authors.
    """
    books = Sql("SELECT id FROM books WHERE author_id = ANY({}::integer[])", criteria.author_ids)
    return _best_among(books, match, criteria, after, limit)


def _best_among(
    books: QueryString, match: Match, criteria: Criteria, after: Relevance, limit: int
) -> QueryString:
    """(id, score) of the best ``limit`` matches after ``after`` among ``books`` (a
    statement of book ids, ``id``), each book's row of book_search probed by its key.

    A few books known from another index (a small category's links, an
    author's books) are cheaper to check one by one than the terms' postings
    are to walk until the page is among them.
    """
    score = ranking.score("s", match.terms)
    conditions = [*match_conditions("s", match, criteria), after_condition(score, "s", after)]
    return Sql(
        "SELECT found.id, found.score FROM ({}) AS few"
        " CROSS JOIN LATERAL (SELECT s.book_id AS id, {} AS score FROM book_search s"
        " WHERE s.book_id = few.id AND {} OFFSET 0) AS found"
        f" ORDER BY found.score DESC, found.id {literal_limit(limit)}",
        books,
        score,
        all_of(conditions),
    )


def match_conditions(row: str, match: Match, criteria: Criteria) -> list[QueryString]:
    """What a book_search row ``row`` must satisfy: every term, and the rest of ``match``."""
    return [*terms_match(f"{row}.words", match.terms), *filter_conditions(row, match, criteria)]


def page_by_title(
    match: Match, criteria: Criteria, after_title: tuple[str, int] | None, limit: int
) -> QueryString:
    """(id, score) of the first ``limit`` matches in (title, id) order."""
    score = ranking.score("s", match.terms)
    conditions = match_conditions("s", match, criteria)
    if after_title is not None:
        conditions.append(Sql("(b.title, b.id) > ({}, {})", *after_title))
    return Sql(
        "SELECT b.id, {} AS score FROM book_search s JOIN books b ON b.id = s.book_id"
        f" WHERE {{}} ORDER BY b.title, b.id {literal_limit(limit)}",
        score,
        all_of(conditions),
    )
