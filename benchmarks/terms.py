"""Search terms drawn from the benchmark database itself.

Requests must ask for things that exist, in the proportions a store sees:
the fragments a customer types for an author, categories large and small,
combinations that have results, books that exist. Sampling is seeded
(``setseed``), so two runs over the same catalog ask the same questions.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

import asyncpg

# How many of each kind of term; paths are picked from these at random.
SAMPLE_SIZE = 500
BIGGEST_CATEGORIES = 10
# q_word asks for one of the title words most books share.
FREQUENT_WORDS = 20
# Meilisearch's rule: a word needs 5 letters before one typo is allowed.
MIN_TYPO_LENGTH = 5
# What a search box sends while a word is typed: 2 to 4 letters of it (q_prefix),
# 2 to 5 for completions (suggest).
PREFIX_LENGTHS = (2, 4)
SUGGEST_PREFIX_LENGTHS = (2, 5)
# The search box's draw of books starts from this seed, whatever was drawn before it.
SEARCH_BOX_SEED = 0.43
# What q_author types for a book's author is drawn by a generator of its own,
# so that the texts drawn before it stayed as they were.
AUTHOR_FRAGMENT_SEED = 9
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class SampledTerms:
    """Terms for every scenario, each list non-empty."""

    author_fragments: list[str]
    category_slugs: list[str]
    biggest_category_slugs: list[str]
    author_category_pairs: list[tuple[str, str]]
    book_ids: list[int]
    # The search box (q_* scenarios), all drawn from real titles and names.
    frequent_words: list[str]
    title_words: list[str]
    misspelt_title_words: list[str]
    word_and_prefix: list[str]
    title_words_in_category: list[tuple[str, str]]
    typed_prefixes: list[str]
    # q_author: title words and a fragment of the name of that book's author.
    title_words_by_author: list[tuple[str, str]]


def typed_fragment(author_name: str, rng: random.Random) -> str:
    """What a customer types for an author: part of the name, not all of it.

    Synthetic names read "Yusuf Garcia 12044"; half the fragments are the
    last word ("12044"), half the last two, lower-cased ("garcia 12044").

    >>> typed_fragment("Yusuf Garcia 12044", random.Random(1))
    '12044'
    """
    words = author_name.split()
    if len(words) < 2 or rng.random() < 0.5:
        return words[-1]
    return " ".join(words[-2:]).lower()


def words_of(text: str) -> list[str]:
    """The lower-cased words of ``text`` made of letters only, each once, in order.

    >>> words_of("The Bell of the Bell, Volume 3")
    ['the', 'bell', 'of', 'volume']
    """
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text) if w.isalpha()))


def some_words(words: list[str], rng: random.Random) -> list[str] | None:
    """Two or three of ``words``, in their order; None when there are fewer than two.

    >>> some_words(["ash", "bell", "river"], random.Random(3))
    ['ash', 'river']
    """
    if len(words) < 2:
        return None
    picked = sorted(rng.sample(range(len(words)), min(len(words), rng.choice((2, 3)))))
    return [words[index] for index in picked]


def misspell(word: str, rng: random.Random) -> str:
    """``word`` with one typo: two neighbouring letters swapped, or one letter replaced.

    Either counts as one typo by the search box's rules (issue 9).

    >>> misspell("candle", random.Random(3))
    'candel'
    """
    swaps = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
    if swaps and rng.random() < 0.5:
        i = rng.choice(swaps)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    i = rng.randrange(len(word))
    letter = rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != word[i]])
    return word[:i] + letter + word[i + 1 :]


def with_one_typo(words: list[str], rng: random.Random) -> list[str] | None:
    """``words`` with a typo in one of those long enough to allow one; None if none is."""
    long_enough = [i for i, word in enumerate(words) if len(word) >= MIN_TYPO_LENGTH]
    if not long_enough:
        return None
    i = rng.choice(long_enough)
    return [*words[:i], misspell(words[i], rng), *words[i + 1 :]]


def word_and_prefix(words: list[str], rng: random.Random) -> str | None:
    """A word, then the first 2 to 4 letters of another word of the same title.

    The text does not end with a space: the search box reads the last word as a
    prefix. The prefix is shorter than its word, so that it is one.

    >>> word_and_prefix(["river", "lantern"], random.Random(0))
    'river la'
    """
    typed = [i for i, word in enumerate(words) if len(word) > PREFIX_LENGTHS[0]]
    if len(words) < 2 or not typed:
        return None
    last = rng.choice(typed)
    first = rng.choice([i for i in range(len(words)) if i != last])
    length = rng.randint(PREFIX_LENGTHS[0], min(PREFIX_LENGTHS[1], len(words[last]) - 1))
    return f"{words[first]} {words[last][:length]}"


def typed_prefix(word: str, rng: random.Random) -> str | None:
    """The first 2 to 5 letters of ``word``, as typed so far; None for a shorter word."""
    if len(word) < SUGGEST_PREFIX_LENGTHS[0]:
        return None
    return word[
        : rng.randint(SUGGEST_PREFIX_LENGTHS[0], min(SUGGEST_PREFIX_LENGTHS[1], len(word)))
    ]


async def _content_words(connection: asyncpg.Connection, words: set[str]) -> set[str]:
    """The words that are not English stop words.

    The plain full-text reference drops stop words ("the", "of"); asking it for
    one would compare nothing.
    """
    rows = await connection.fetch(
        "SELECT w FROM unnest($1::text[]) AS w WHERE to_tsvector('english', w) <> ''::tsvector",
        sorted(words),
    )
    return {row["w"] for row in rows}


@dataclass(frozen=True)
class SearchBoxTerms:
    """What customers type in the search box, drawn from real titles and names."""

    frequent_words: list[str]
    title_words: list[str]
    misspelt_title_words: list[str]
    word_and_prefix: list[str]
    title_words_in_category: list[tuple[str, str]]
    typed_prefixes: list[str]
    title_words_by_author: list[tuple[str, str]]


async def sample_search_box_terms(
    connection: asyncpg.Connection, author_names: list[str], size: int, rng: random.Random
) -> SearchBoxTerms:
    """Texts for the q_* and suggest scenarios, from books sampled with their categories.

    The same books (the same catalog) give the same texts, wherever their rows
    lie: the draw starts from a seed of its own and takes the books, and each
    book's categories, in id order. ``ORDER BY random()`` straight over
    ``books`` drew one number a row in the order the scan met them, which
    differs from one seeding to the next (rows rewritten by the seed move):
    PostgreSQL 15 and 18 seeded with the same 1,000,000 books shared 14 of
    their some 500 q_prefix texts (2026-11-30), so the two servers were
    asked different questions.
    """
    await connection.execute("SELECT setseed($1::float8)", SEARCH_BOX_SEED)
    rows = await connection.fetch(
        """
        SELECT b.title, c.slug, b.author_id
        FROM (SELECT id, title, author_id
              FROM (SELECT id, title, author_id FROM books ORDER BY id) AS by_id
              ORDER BY random() LIMIT $1) AS b
        JOIN LATERAL (SELECT own.category_id
                      FROM (SELECT category_id FROM book_category
                            WHERE book_id = b.id ORDER BY category_id) AS own
                      ORDER BY random() LIMIT 1) AS bc ON TRUE
        JOIN categories c ON c.id = bc.category_id
        """,
        size,
    )
    names = dict(
        await connection.fetch(
            "SELECT id, name FROM authors WHERE id = ANY($1::integer[])",
            [row["author_id"] for row in rows],
        )
    )
    authors = [names[row["author_id"]] for row in rows]
    titles = [(words_of(row["title"]), row["slug"]) for row in rows]
    everything = {word for words, _ in titles for word in words}
    content = await _content_words(connection, everything)
    titles = [([w for w in words if w in content], slug) for words, slug in titles]
    counts = Counter(word for words, _ in titles for word in words)
    terms = SearchBoxTerms(
        [w for w, _ in counts.most_common(FREQUENT_WORDS)], [], [], [], [], [], []
    )
    own_rng = random.Random(AUTHOR_FRAGMENT_SEED)
    for (words, slug), author in zip(titles, authors, strict=True):
        picked = some_words(words, rng)
        if picked is None:
            continue
        terms.title_words.append(" ".join(picked))
        terms.title_words_in_category.append((" ".join(picked), slug))
        terms.title_words_by_author.append((" ".join(picked), typed_fragment(author, own_rng)))
        misspelt = with_one_typo(picked, rng)
        if misspelt is not None:
            terms.misspelt_title_words.append(" ".join(misspelt))
        prefixed = word_and_prefix(words, rng)
        if prefixed is not None:
            terms.word_and_prefix.append(prefixed)
    # Completions: half from title words, half from author names.
    name_words = [word for name in author_names for word in words_of(name)]
    title_words = sorted(everything)
    for _ in range(size):
        source = title_words if rng.random() < 0.5 or not name_words else name_words
        if source:
            prefix = typed_prefix(rng.choice(source), rng)
            if prefix is not None:
                terms.typed_prefixes.append(prefix)
    return terms


async def sample_terms(dsn: str, *, size: int = SAMPLE_SIZE, seed: int = 7) -> SampledTerms:
    """Sample terms from the catalog at ``dsn``; fails if the catalog is empty."""
    rng = random.Random(seed)
    # random() below is drawn row by row in scan order: with synchronized
    # scans a sequential scan joins one already running at another point of
    # the table (another client's, or a scan of the previous sample), and a
    # parallel worker draws from a seed of its own. Either changed the texts
    # from one run to the next (2026-11-30: 31 of 500 q_prefix texts alike).
    connection = await asyncpg.connect(
        dsn,
        server_settings={"synchronize_seqscans": "off", "max_parallel_workers_per_gather": "0"},
    )
    try:
        # Makes random() below repeatable from run to run.
        await connection.execute("SELECT setseed(0.42)")
        names = await connection.fetch("SELECT name FROM authors ORDER BY random() LIMIT $1", size)
        slugs = await connection.fetch(
            "SELECT slug FROM categories ORDER BY random() LIMIT $1", size
        )
        biggest = await connection.fetch(
            """
            SELECT c.slug FROM categories c JOIN book_category bc ON bc.category_id = c.id
            GROUP BY c.id, c.slug ORDER BY count(*) DESC, c.id LIMIT $1
            """,
            BIGGEST_CATEGORIES,
        )
        # A book's author and one of its categories: the pair has results.
        pairs = await connection.fetch(
            """
            SELECT a.name, c.slug
            FROM (SELECT id, author_id FROM books ORDER BY random() LIMIT $1) AS b
            JOIN authors a ON a.id = b.author_id
            JOIN LATERAL (SELECT category_id FROM book_category
                          WHERE book_id = b.id ORDER BY random() LIMIT 1) AS bc ON TRUE
            JOIN categories c ON c.id = bc.category_id
            """,
            size,
        )
        book_ids = await connection.fetch("SELECT id FROM books ORDER BY random() LIMIT $1", size)
        # Last, so that adding it left the terms above as they were.
        search_box = await sample_search_box_terms(
            connection, [row["name"] for row in names], size, rng
        )
    finally:
        await connection.close()
    terms = SampledTerms(
        author_fragments=[typed_fragment(row["name"], rng) for row in names],
        category_slugs=[row["slug"] for row in slugs],
        biggest_category_slugs=[row["slug"] for row in biggest],
        author_category_pairs=[(typed_fragment(row["name"], rng), row["slug"]) for row in pairs],
        book_ids=[row["id"] for row in book_ids],
        **vars(search_box),
    )
    empty = [name for name, values in vars(terms).items() if not values]
    if empty:
        raise SystemExit(f"the benchmark catalog has nothing to sample for: {', '.join(empty)}")
    return terms
