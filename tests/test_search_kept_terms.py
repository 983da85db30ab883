"""Terms' lookups kept per catalog version (``bookstore.catalog.search.kept_terms``)."""

from __future__ import annotations

import pytest
from factories import (
    create_author,
    create_book,
    create_category,
    record_statements,
    search,
    titles,
)

from bookstore.catalog import search as search_module
from bookstore.catalog.search import levels
from bookstore.catalog.search.kept_pages import kept_pages
from bookstore.catalog.search.kept_terms import KeptTerm, KeptTerms

# What only the terms' lookup statement holds (``vocabulary._LOOKUP``).
LOOKUP_MARK = "typed AS MATERIALIZED"


def lookups(sent) -> int:
    return sum(LOOKUP_MARK in statement.sql for statement in sent)


async def suggestions(client, q: str) -> list[str]:
    response = await client.get("/books/suggest", params={"q": q})
    assert response.status_code == 200, response.text
    return [item["text"] for item in response.json()["items"]]


@pytest.fixture
async def novels(client) -> None:
    author = await create_author(client, "Ursula K. Le Guin")
    for title in ("The Dispossessed", "The Lathe of Heaven", "The Left Hand of Darkness"):
        await create_book(client, title=title, author_id=author["id"])


@pytest.fixture
def planned(monkeypatch) -> list[str]:
    """The first pages planned by relevance from now on, each its terms as typed."""
    planned: list[str] = []
    plan = search_module._planned

    async def counting(db, match, *args):
        planned.append(" ".join(term.term.typed for term in match.terms))
        return await plan(db, match, *args)

    monkeypatch.setattr(search_module, "_planned", counting)
    return planned


@pytest.mark.parametrize("text", ["lathe heaven", "dispossesed", "left darkn"])
async def test_a_search_of_terms_looked_up_before_sends_no_lookup(
    client, novels, monkeypatch, text
) -> None:
    sent = record_statements(monkeypatch)
    first = await search(client, text)
    assert lookups(sent) == 1
    sent.clear()
    # Another page size: another request for the response cache, the same terms.
    again = await search(client, text, limit=5)
    assert lookups(sent) == 0
    assert titles(again) == titles(first) and titles(first)
    assert again["suggestion"] == first["suggestion"]


async def test_a_kept_terms_levels_are_planned_once_per_catalog_version(
    client, novels, monkeypatch, force_walk
) -> None:
    # The level walk, not the GIN scan a small shelf's few matches take.
    force_walk()
    planned: list[str] = []
    levels_of = levels.levels_of

    def counting(term, postings):
        planned.append(term.term.folded)
        return levels_of(term, postings)

    monkeypatch.setattr(levels, "levels_of", counting)
    first = await search(client, "left darkn")
    assert titles(first) == ["The Left Hand of Darkness"]
    assert sorted(planned) == ["darkn", "left"]
    # Asked again (another page size, past the response cache): the kept
    # terms are given with the levels planned for them.
    planned.clear()
    assert titles(await search(client, "left darkn", limit=5)) == titles(first)
    assert planned == []
    # A write moves the catalog version: the terms are looked up and planned anew.
    await create_book(client, title="The Left Darkness")
    assert len(titles(await search(client, "left darkn", limit=4))) == 2
    assert sorted(planned) == ["darkn", "left"]


@pytest.mark.parametrize("walked", [True, False], ids=["walked", "gin"])
async def test_a_first_page_searched_again_is_planned_once_per_catalog_version(
    client, novels, planned, force_walk, walked
) -> None:
    if walked:
        force_walk()
    first = await search(client, "left darkn")
    assert titles(first) == ["The Left Hand of Darkness"]
    assert planned == ["left darkn"]
    # Asked again (highlighted: past the response cache, the same page): the
    # statement kept with its terms is sent, not planned again.
    again = await search(client, "left darkn", highlight="true")
    assert titles(again) == titles(first)
    assert planned == ["left darkn"]
    # A write moves the catalog version: the terms and their page are new.
    await create_book(client, title="The Left Darkness")
    assert len(titles(await search(client, "left darkn"))) == 2
    assert planned == ["left darkn", "left darkn"]


async def test_a_first_page_typed_another_way_is_not_planned_again(
    client, novels, planned
) -> None:
    # "Left DARKN" is new ResolvedTerms around the lookups kept for "left
    # darkn": the same page, planned once, kept once.
    first = await search(client, "left darkn")
    pages_kept = len(kept_pages())
    for typed in ("Left DARKN", "LEFT darkn", "Left DARKN"):
        assert titles(await search(client, typed, highlight="true")) == titles(first)
    assert (planned, len(kept_pages())) == (["left darkn"], pages_kept)


async def test_only_the_terms_not_kept_are_looked_up(client, novels, monkeypatch) -> None:
    await search(client, "heaven lathe")
    sent = record_statements(monkeypatch)
    assert titles(await search(client, "heaven of lath")) == ["The Lathe of Heaven"]
    (lookup,) = [s for s in sent if LOOKUP_MARK in s.sql]
    assert lookup.args[0] == ["of", "lath"]


async def test_a_word_of_a_new_title_is_found_though_its_lookup_found_nothing_before(
    client, novels
) -> None:
    assert titles(await search(client, "zorblax")) == []
    assert titles(await search(client, "heaven zorblax")) == ["The Lathe of Heaven"]
    assert (await search(client, "zorblaks"))["suggestion"] is None
    assert await suggestions(client, "zorb") == []

    await create_book(client, title="The Zorblax Gambit")

    assert titles(await search(client, "zorblax")) == ["The Zorblax Gambit"]
    assert (await search(client, "heaven zorblax"))["ignored_words"] == ["zorblax"]
    assert titles(await search(client, "gambit zorblax")) == ["The Zorblax Gambit"]
    assert (await search(client, "zorblaks"))["suggestion"] == "zorblax"
    assert titles(await search(client, "zorb")) == ["The Zorblax Gambit"]
    assert await suggestions(client, "zorb") == ["The Zorblax Gambit"]


async def test_a_deleted_books_words_are_no_longer_completed(client, novels) -> None:
    book = await create_book(client, title="Quuxifer Rising")
    assert titles(await search(client, "quuxi")) == ["Quuxifer Rising"]
    await client.delete(f"/books/{book['id']}")
    assert titles(await search(client, "quuxi")) == []
    assert await suggestions(client, "quuxi") == []


# What only the filters' lookup of a category term holds (``filters._CATEGORIES_OF_TERM``).
CATEGORY_LOOKUP_MARK = "WHERE slug = lower(t.term)"


async def test_a_search_in_a_category_looked_up_before_sends_no_lookup(
    client, novels, monkeypatch
) -> None:
    category = await create_category(client, "Hainish Cycle")
    await create_book(client, title="The Word for World", category_ids=[category["id"]])
    first = await search(client, "world", category="hainish-cycle")
    sent = record_statements(monkeypatch)
    again = await search(client, "world", category="hainish-cycle", limit=5)
    assert not [s for s in sent if LOOKUP_MARK in s.sql or CATEGORY_LOOKUP_MARK in s.sql]
    assert titles(again) == titles(first) == ["The Word for World"]


async def test_a_category_renamed_is_searched_under_its_new_slug_only(client, novels) -> None:
    # The kept category lookup must not outlive the write: "hainish-cycle"
    # would otherwise still name the category after its slug changed.
    category = await create_category(client, "Hainish Cycle")
    await create_book(client, title="The Word for World", category_ids=[category["id"]])
    assert titles(await search(client, "world", category="hainish-cycle")) == [
        "The Word for World"
    ]
    response = await client.patch(f"/categories/{category['id']}", json={"slug": "ekumen"})
    assert response.status_code == 200, response.text
    # "world" kept at the new version, so that only the category lookup is in question.
    assert titles(await search(client, "world")) == ["The Word for World"]
    assert titles(await search(client, "world", category="hainish-cycle")) == []
    assert titles(await search(client, "world", category="ekumen")) == ["The Word for World"]


# What only the statements asking for a trigram correction's postings
# (``levels._POSTINGS_PER_FIELD``) and its spelling (``vocabulary._SURFACE``) hold.
POSTINGS_MARK = "AS v (word),"
SURFACE_MARK = "AS c (stem)"


async def test_a_correction_found_by_trigrams_is_counted_and_spelt_once_per_version(
    client, monkeypatch, force_walk
) -> None:
    # A small shelf's few matches take the GIN path (plans.gin_first):
    # the level walk is what is tested here.
    force_walk()
    # "frankinstien" is two typos from "frankenstein" and one from no word:
    # the lookup finds it among the trigram neighbours, without its postings
    # per field, which the page asks for; its spelling comes with it (since
    # session 29), so the suggestion asks for none.
    await create_book(client, title="Frankenstein Unbound")
    await create_book(client, title="The Unbound Heart")
    sent = record_statements(monkeypatch)
    first = await search(client, "frankinstien unbound")
    assert [s for s in sent if POSTINGS_MARK in s.sql]
    assert not [s for s in sent if SURFACE_MARK in s.sql]
    sent.clear()
    again = await search(client, "frankinstien unbound", limit=5)
    assert not [s for s in sent if any(m in s.sql for m in (POSTINGS_MARK, SURFACE_MARK))]
    assert lookups(sent) == 0
    assert titles(again) == titles(first) == ["Frankenstein Unbound"]
    assert again["suggestion"] == first["suggestion"] == "frankenstein unbound"


async def test_a_trigram_corrections_spelling_follows_a_rename(client) -> None:
    book = await create_book(client, title="Frankenstein Unbound")
    assert (await search(client, "frankinstien unbound"))["suggestion"] == "frankenstein unbound"
    response = await client.patch(f"/books/{book['id']}", json={"title": "Frankensteins Unbound"})
    assert response.status_code == 200, response.text
    assert (await search(client, "frankinstien unbound"))["suggestion"] == (
        "frankensteins unbound"
    )


def _kept(word: str) -> KeptTerm:
    return KeptTerm(word, (), None, None, counted=False)


def test_the_least_recently_used_terms_go_beyond_the_bound() -> None:
    kept = KeptTerms(max_terms=2)
    kept.keep(7, 100, [(("dune", False), _kept("dune")), (("arrakis", False), _kept("arrakis"))])
    assert kept.held(7, ("dune", False), counted=False) is not None
    kept.keep(7, 100, [(("spice", False), _kept("spice"))])
    assert len(kept) == 2
    assert kept.held(7, ("arrakis", False), counted=False) is None
    assert kept.held(7, ("dune", False), counted=False) is not None


def test_terms_are_held_for_their_version_only_and_never_replaced_by_older_ones() -> None:
    kept = KeptTerms(max_terms=10)
    kept.keep(7, 100, [(("dune", False), _kept("dune"))])
    assert kept.held(8, ("dune", False), counted=False) is None
    assert kept.held(None, ("dune", False), counted=False) is None
    kept.keep(6, 90, [(("spice", False), _kept("spice"))])  # a replica behind
    assert kept.held(6, ("spice", False), counted=False) is None
    kept.keep(8, 101, [(("spice", False), _kept("spice"))])
    assert kept.held(7, ("dune", False), counted=False) is None
    assert kept.held(8, ("dune", False), counted=False) is None
    assert kept.top_book == 101


def test_a_term_kept_without_postings_is_not_held_for_a_search_that_needs_them() -> None:
    kept = KeptTerms(max_terms=10)
    kept.keep(7, 100, [(("dune", False), _kept("dune"))])
    assert kept.held(7, ("dune", False), counted=True) is None
    assert kept.held(7, ("dune", True), counted=False) is None  # as a prefix: another term
