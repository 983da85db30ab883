"""Which way a search reads its page: each way priced, the cheapest chosen before it is sent.

A page of several terms may be walked (``levels``: the terms' postings
merged until a page is found), read by one GIN scan of
``book_search_words_idx``, or, in a category, found by reading a small
category whole. Which is cheapest depends on the sizes alone: the terms'
books (``vocabulary``) and the categories' (``Criteria.category_books``),
both known before the page's statement is written. So the choice is made
here, in Python, by a cost model in one unit (an index entry read and
hashed), each price fitted on the server's CPU time of sampled texts; the
statements that carry out a plan are ``candidates``'.

The level walk reads until a page is found, which is long when the words
are common but rare in the category ("last harbor" in drama at 1M books:
237,000 postings of "last" merged and 1,949 probes of the category, for 21
books). A category met with the postings of its rarest term (the
"meeting") was a way too until session 27 (2026-11-30): it was removed
because ``plan_in_category`` priced the GIN scan strictly below it
whenever the term has a book, which every searched term has
(docs/performance-journal.md keeps its sections).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from bookstore.catalog.filters import Criteria
from bookstore.catalog.search.levels import PROBE_RATIO
from bookstore.catalog.search.vocabulary import ResolvedTerm

# What the paths cost, in units of one index entry read and hashed, from
# the server's CPU time of the page statements of 150 q_filtered texts at
# 100,000 books (2026-11-29, both paths run text by text): an entry hashed
# about 0.7 us, a probe of a book's row with its conditions (3 or 4 pages,
# a few microseconds) about six entries, a posting merged with another run
# about 0.4 entry. With the catalog in memory (the OS cache holds it), CPU
# is the cost, not pages.
PROBE = 6.0
MERGED = 0.4
# A posting probed in a longer run (``walk_cost``): about twenty postings
# merged (``levels.PROBE_RATIO``). Fitted first for a posting's book probed
# in the category (``book_category_unique``, index-only, 3 pages) by the
# meeting removed in session 27: at 4 it took "winter teprotru" in fantasy
# (2,042 postings, 681 in the category's 326,014 books) from a walk that
# stops at its page, 9 -> 28 ms.
CATEGORY_PROBE = 8.0
# A page needs PAGE_ROWS books.
PAGE_ROWS = 21


def walk_cost(terms: Sequence[ResolvedTerm], category_books: int, catalog_books: int) -> float:
    """What the walks (``levels``, or one term's postings) read to fill a page in the category.

    Two terms' postings are merged (every posting a probe of its row, for
    one term) and each book holding them all is probed for the category;
    the walk stops once a page is in the category, a share of the way. The
    books holding every term are guessed from independence.
    """
    return _walk_cost(sorted(term.books for term in terms), category_books, catalog_books)


def _walk_cost(counts: Sequence[int], category_books: int, catalog_books: int) -> float:
    """``walk_cost`` from the terms' books (``counts``)."""
    share = min(max(category_books, 1) / max(catalog_books, 1), 1.0)
    matching = guessed_matches(counts, catalog_books)
    # The walk meets the runs of two terms (``levels.cheapest_walk``: the
    # rarest with another) and checks the others in the row: merged, or the
    # longer probed per posting of the shorter when it is PROBE_RATIO times
    # longer ("fuvemaind volume": 2,908 postings, each a probe of "volume").
    shortest, *longer = sorted(counts)
    if longer and longer[0] >= PROBE_RATIO * shortest:
        merged = shortest * CATEGORY_PROBE
    else:
        merged = sum(sorted(counts)[:2]) * MERGED
    read = matching * PROBE if len(counts) == 1 else merged + matching * PROBE
    return read * min(1.0, PAGE_ROWS / max(matching * share, 1e-9))


def guessed_matches(books: Sequence[int], catalog_books: int) -> float:
    """About how many books hold every key, each held by ``books`` books: from independence.

    A key is a term (its words' books summed) or a category.
    """
    catalog = max(catalog_books, 1)
    matching = float(catalog)
    for count in books:
        matching *= min(count / catalog, 1.0)
    return matching


# A search without a category takes the GIN path (``candidates.page_of_gin``)
# instead of the level walk when the books holding every term are guessed (from
# independence) at most GIN_FIRST_MATCHES and no word stands for two terms
# (``_apart``): the scan skips between its keys and reads about the books in
# all, where the walk reads runs to their ends while the best group does not
# fill a page. A rare word with a prefix of common completions ("kouzeth
# bo", 510 books met with 20 completions, 49 in both): 2.0 ms of PostgreSQL
# CPU at 1M by GIN, 9.6 walked; common words seldom together ("dark river
# bell", 127 books hold all three, none in one title): 2.9 ms by GIN, 56
# walked (docs/performance-journal.md, "Few guessed matches read by GIN", "Common
# words seldom together"). The guess was close to the true matches of the
# sampled texts (60 for 49, 25 for 13).
#
# Nothing else takes it; GIN_FIRST_COMMON_MATCHES below lowers the bound for
# two terms one of which has a common word. Until 2026-11-30 07:00Z a scan
# priced at most 4,000 (its entries' items up to twice the rarest term's at
# 0.25, a row per match at 6) with the rarest term in at most 5,000 books
# did too; fitted against the walk before 22041dd read a level's words as
# one run. Refitted against today's walk (the first and second pages of
# every sampled q_prefix, q_words and q_typo text at 1M, each replayed both
# ways on PG15 and PG18, pages identical; constants chosen on one half of
# the texts, checked on the other): the price took mostly a rare word with a
# common one, cheaper walked ("roufous volu": 1,037 books with "volume"'s
# 300,344, 311 guessed: 0.6 ms walked, 2.1 by GIN, PG18), and each half of
# each server cost least without it (docs/performance-journal.md, "The GIN-or-walk
# choice refitted"); 250 matches stayed best on PG15, within 0.6% of 200 on
# PG18.
GIN_FIRST_MATCHES = 250.0
# Two terms one of whose words is in GIN_FIRST_COMMON_SHARE of the catalog
# or more take the scan only for at most GIN_FIRST_COMMON_MATCHES guessed.
# The scan decodes every item of the common word's key (a rare word's few
# hundred books reach every page of it), where the walk probes the common
# word from the rare one's postings and, the common word in a fifth of the
# titles or more ("volume" in three in ten), fills a page after some seventy
# probes: "drouprasto volume" (811 and 300,344 books, 244 guessed) 6.6 ms of
# PostgreSQL CPU for its two pages by GIN, 1.7 walked; "dreipricand volume"
# (391, 117 guessed) 3.6 and 2.2; "kodouth volume" (353, 106) 3.0 and 3.2.
# With a word of a tenth of the catalog ("beyond", "without", "last") the
# scan kept its 250 ("beyond voumail", 177 guessed: 3.4 by GIN, 4.8 walked),
# and so with three terms (the two rarer merged, the common one told by the
# rows: "last louboubruth volume", 150 guessed, 6.0 and 9.6). PG15 bench_1m,
# 2026-11-30, every sampled q_words text replayed both ways
# (docs/performance-journal.md, "The dearest texts of q_words, q_typo and
# q_filtered").
GIN_FIRST_COMMON_SHARE = 0.2
GIN_FIRST_COMMON_MATCHES = 100.0


def _apart(terms: Sequence[ResolvedTerm]) -> bool:
    """Whether no word stands for two of the terms, as the guess from independence needs.

    "cehair ce": "cehair" is one of the completions of "ce", so every one of
    its 1,350 books holds both terms, where 68 were guessed.
    """
    words = [word for term in terms for word in term.words]
    return len(set(words)) == len(words)


def gin_first(terms: Sequence[ResolvedTerm], catalog_books: int) -> GinKeys | None:
    """The keys of the GIN scan that reads the few matches of several terms without a
    category (``gin_keys``), or None when they are walked.

    Few: guessed at most GIN_FIRST_MATCHES, or GIN_FIRST_COMMON_MATCHES for
    two terms one of whose words is in GIN_FIRST_COMMON_SHARE of the catalog.
    """
    if len(terms) < 2 or catalog_books <= 0:
        return None
    books = [term.books for term in terms]
    most = GIN_FIRST_MATCHES
    # One word of that share: a prefix whose twenty completions add up to
    # it ("graigrubra tr") is read by the scan at 7 ms and walked at 21.
    common = max((variant.books for term in terms for variant in term.variants), default=0)
    if len(terms) == 2 and common >= GIN_FIRST_COMMON_SHARE * catalog_books:
        most = GIN_FIRST_COMMON_MATCHES
    if guessed_matches(books, catalog_books) > most or not _apart(terms):
        return None
    return gin_keys(terms, catalog_books)


# What a GIN scan's keys cost as they skip past each other, and its rows, in
# microseconds of PostgreSQL CPU. The scan leapfrogs its keys in the order
# written, words before the category (the index's column order): "bell city
# volume" in ancient-travel at 1M books read "bell" (41,733 books) and
# "city" (101,380) past each other before the category's 1,091 books were
# asked, 4.2 ms; keyed on "bell" and the category, "city" and "volume"
# checked in the rows the two meet in, 0.7 ms. A key asked for the next
# candidate decodes the rest of its posting page (about GIN_PAGE_ITEMS
# items) or, asked often, steps through all its items: "davei volume" in
# fantasy (603 books holding "davei") stepped through the 300,344 of
# "volume" and the 326,014 of fantasy, 2.8 ms. Fitted 2026-11-30 on the 450
# sampled q_filtered texts at 1M books that take the GIN scan (PG15, warm,
# best of 3, each run with every choice of ``gin_keys``): the choices' total
# 416 ms, where the cheapest choice for each text makes 414 and every
# condition a key 608.
GIN_ROUND = 0.02
GIN_DECODED = 0.005
GIN_PAGE_ITEMS = 1_000
GIN_ROW = 3.0
# The scan priced against the walk (``plan_in_category``,
# whose unit is an index entry hashed, about 0.7 us): anywhere in 0.75-1.5
# entries a microsecond picks within 1-2% of the cheapest total between the
# walk and the scan for the same texts (1 in the middle); the price it
# replaced (a quarter, then a twentieth of an entry per item of each key up
# to twice the rarest key's, 2026-11-30 01:50Z) cost 4% more. That range was
# found with an item decoded at GIN_DECODED, before GIN_PRICED_DECODED, and
# has not been measured again since.
GIN_ENTRIES_PER_MICROSECOND = 1.0
# An item decoded, priced against the walk (``_cheapest_in_category``; the
# choice of keys keeps GIN_DECODED): GIN_PRICED_FACTOR times the keys' fit. Two common
# words in a category decode both posting lists nearly whole before the
# category is asked, and that was where the price fell short of the walk's: "bridge volume" in
# thriller (36,745 and 300,344 books, 61,103 in the category) 20.5 ms of
# PostgreSQL CPU for its two pages by GIN, 6.6 walked; "without fire" in
# science-fiction (PG18) 9 ms more by GIN. Every sampled q_filtered text run
# under each plan (PG15 and PG18, 2026-11-30 session 26): 0.0075 to 0.0125
# send one to five of the dearest texts to the walk; docs/performance-journal.md,
# "The dearest texts of q_words, q_typo and q_filtered".
GIN_PRICED_FACTOR = 2.0
GIN_PRICED_DECODED = GIN_DECODED * GIN_PRICED_FACTOR


@dataclass(frozen=True)
class GinKeys:
    """Which terms a GIN scan is keyed on; its rows check the rest.

    ``terms``: the rarest ``terms`` terms (held by the fewest books) are
    keys, rarest first.
    """

    terms: int


def _keyed_scan_cost(
    keys: Sequence[float], holding: Sequence[float], decoded_item: float
) -> float:
    """A scan keyed on sets of ``keys`` books, in that order, and its rows (``GIN_*``;
    ``decoded_item``: an item decoded; ``holding``: for each key after the first, the
    share of the books met so far that it holds, from independence).

    The first two keys advance past each other about as often as the rarer
    holds books; each later key is asked for the candidates the keys before
    it meet in; every book all the keys meet in is a row read and checked.
    The one price of both scans: ``gin_keys``' and the qualified one
    (``_qualified_scan_cost``).
    """
    first, *later = keys
    rounds, decoded, met = 0.0, float(first), float(first)
    for position, (books, share) in enumerate(zip(later, holding, strict=True)):
        asked = min(first, books) if position == 0 else met
        rounds += asked
        decoded += min(books, GIN_PAGE_ITEMS * asked)
        met *= share
    return rounds * GIN_ROUND + decoded * decoded_item + met * GIN_ROW


def gin_keys(terms: Sequence[ResolvedTerm], catalog_books: int) -> GinKeys:
    """The keys of the cheapest GIN scan of ``terms`` without a category (``gin_first``'s).

    The rarest one, two... or every term, the other terms told by the rows,
    where the scan otherwise meets the terms in the order typed: "bridge
    without tacei" read "bridge" (36,745 books) and "without" (99,704) past
    each other before "tacei" (2,751) was asked, 2.0 ms of PostgreSQL CPU;
    keyed on "tacei" and "bridge", "without" told by the rows, 0.9 ms.
    """
    return _gin_keys(tuple(sorted(term.books for term in terms)), catalog_books)


def _gin_keys(counts: Sequence[int], catalog_books: int) -> GinKeys:
    """``gin_keys`` from the terms' books (``counts``, sorted)."""
    return min(
        (GinKeys(keyed) for keyed in range(1, len(counts) + 1)),
        key=lambda keys: _gin_scan_cost(counts, keys.terms, catalog_books, GIN_DECODED),
    )


def _gin_scan_cost(
    counts: Sequence[int], keyed: int, catalog_books: int, decoded_item: float
) -> float:
    """``_keyed_scan_cost`` of the unqualified scan keyed on the ``keyed`` rarest of the
    terms' books (``counts``, sorted), each later key holding its share of the catalog."""
    catalog = max(catalog_books, 1)
    holding = [books / catalog for books in counts[1:keyed]]
    return _keyed_scan_cost(counts[:keyed], holding, decoded_item)


def qualified_keys(counts: Sequence[int], category_books: int, catalog_books: int) -> GinKeys:
    """The keys of the cheapest scan of ``book_search_category_words_idx`` for terms held
    by ``counts`` books (sorted, rarest first) in a category of ``category_books``: the
    rarest one, two... or every term, each qualified by the category, the others told by
    the rows (``candidates.page_of_gin`` with ``qualified_by``)."""
    return min(
        (GinKeys(keyed) for keyed in range(1, len(counts) + 1)),
        key=lambda keys: _qualified_scan_cost(
            counts, keys.terms, category_books, catalog_books, GIN_DECODED
        ),
    )


def _qualified_scan_cost(
    counts: Sequence[int], keyed: int, category_books: int, catalog_books: int, decoded: float
) -> float:
    """A scan keyed on the ``keyed`` rarest of terms held by ``counts`` books (sorted),
    each qualified by a category of ``category_books``, and its rows (``GIN_*``).

    A qualified key holds the term's books in the category, about its share of
    them (independence); the keys skip past each other as ``_keyed_scan_cost``
    has it, each later one holding its term's share of the catalog of the
    books met, and every book they meet in is a row read, where the other
    terms are told.
    """
    catalog = max(catalog_books, 1)
    share = min(max(category_books, 1) / catalog, 1.0)
    sizes = [count * share for count in counts[:keyed]]
    holding = [min(count / catalog, 1.0) for count in counts[1:keyed]]
    return _keyed_scan_cost(sizes, holding, decoded)


@dataclass(frozen=True)
class CategoryPlan:
    """How a search in a category reads: by one GIN scan, by the category's rows, or else walked.

    ``gin``: the terms met in the category by one scan of
    ``book_search_category_words_idx`` (``candidates.page_of_gin``), the
    ``gin_keys.terms`` rarest terms its keys, each qualified by the categories
    of ``category_ids``.
    """

    small_category: list[int] | None = None  # read whole, each book's row probed
    gin: bool = False
    gin_keys: GinKeys | None = None
    category_ids: list[int] | None = None


WALK = CategoryPlan()


def plan_in_category(
    terms: Sequence[ResolvedTerm], criteria: Criteria, catalog_books: int, small: int
) -> CategoryPlan:
    """The cheapest way to find a page of ``terms`` in the criteria's categories.

    The set of fewest books (``criteria.category_books``, summed from the
    category counts) and the terms are met in one GIN scan (``gin_keys``);
    a category of at most ``small`` books may be read whole instead (a probe
    per book); and the walks (``levels``, or one term's postings) probe the
    category per book found. A category held by a large share of the catalog is cheaper
    walked (every few books walked is in it), and so are two rare words,
    merged, even in a small category: "truchaith breicobaith" in a category
    of 1,823 books at 100,000 reads 419 postings, not 1,823 rows.
    """
    sizes = criteria.category_books
    if not sizes or not criteria.category_sets or not terms:
        return WALK
    if any(category_id not in sizes for ids in criteria.category_sets for category_id in ids):
        return WALK
    category_ids = min(criteria.category_sets, key=lambda ids: sum(sizes[i] for i in ids))
    books = sum(sizes[i] for i in category_ids)
    counts = tuple(sorted(term.books for term in terms))
    plan = _cheapest_in_category(counts, books, catalog_books, books <= small)
    if plan is SMALL:
        return CategoryPlan(small_category=category_ids)
    if plan.gin:
        return CategoryPlan(gin=True, gin_keys=plan.gin_keys, category_ids=category_ids)
    return plan


# Read whole: ``plan_in_category`` gives it the category's ids.
SMALL = CategoryPlan(small_category=[])


@functools.lru_cache(maxsize=4096)
def _cheapest_in_category(
    counts: tuple[int, ...], books: int, catalog_books: int, small: bool
) -> CategoryPlan:
    """``plan_in_category``'s choice from the sizes alone: the terms' books (``counts``,
    sorted), the category's, the catalog's; ``small``: whether it may be read whole
    (``SMALL``).

    Kept per sizes: the terms of a search are kept per catalog version
    (``kept_terms``), so the same search asks again with the same sizes, and
    pricing every choice of keys was some 30 us of a q_filtered request's
    worker CPU (2026-11-30, session 28).
    """
    keys = qualified_keys(counts, books, catalog_books)
    scan = _qualified_scan_cost(counts, keys.terms, books, catalog_books, GIN_PRICED_DECODED)
    costs = [
        (_walk_cost(counts, books, catalog_books), WALK),
        (scan * GIN_ENTRIES_PER_MICROSECOND, CategoryPlan(gin=True, gin_keys=keys)),
    ]
    if small:
        costs.append((books * PROBE, SMALL))
    return min(costs, key=lambda cost: cost[0])[1]


def reads_authors_books(
    terms: Sequence[ResolvedTerm], criteria: Criteria, catalog_books: int, few: int
) -> bool:
    """Whether a page of ``terms`` by the criteria's authors is cheapest found among
    their books, read whole (``pages.page_among_authors``): at most ``few`` of them
    (``Criteria.author_books``), a probe of each book's row.

    The other ways do not know the authors: the walks (``levels``, or one
    term's postings) check each book they meet, and stop once a page is by
    the authors, which for common words and an author of a few books is
    never ("volume" by an author of 8 books at 1M: its 300,344 postings each
    a probe of a row, 635 ms); the GIN scans read every match of the terms
    (and category) wherever its author. So they are priced as ``_planned``
    would choose among them, the authors' share of the catalog (and the
    category's) what the walk's page must pass.
    """
    books = criteria.author_books
    if criteria.author_ids is None or books is None or books > few or not terms:
        return False
    counts = tuple(sorted(term.books for term in terms))
    catalog = max(catalog_books, 1)
    share = min(books / catalog, 1.0)
    sizes = criteria.category_books or {}
    category = None
    if criteria.category_sets and all(i in sizes for ids in criteria.category_sets for i in ids):
        category = min(sum(sizes[i] for i in ids) for ids in criteria.category_sets)
        share *= min(category / catalog, 1.0)
    others = [_walk_cost(counts, max(round(share * catalog), 1), catalog_books)]
    if category is not None:
        keys = qualified_keys(counts, category, catalog_books)
        scan = _qualified_scan_cost(
            counts, keys.terms, category, catalog_books, GIN_PRICED_DECODED
        )
        others.append(scan * GIN_ENTRIES_PER_MICROSECOND)
        if category <= few:
            others.append(category * PROBE)
    elif len(counts) > 1 and gin_first(terms, catalog_books) is not None:
        keys = _gin_keys(counts, catalog_books)
        scan = _gin_scan_cost(counts, keys.terms, catalog_books, GIN_PRICED_DECODED)
        others.append(scan * GIN_ENTRIES_PER_MICROSECOND)
    return books * PROBE < min(others)
