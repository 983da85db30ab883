"""The title with the words that matched inside ``<mark>``, safe to put in a page."""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping

from piccolo.querystring import QueryString

from bookstore.catalog.search.words import span_words, split_words, word_spans
from bookstore.database import DatabaseConnection, fetch


async def stems_of(db: DatabaseConnection, titles: Collection[str]) -> dict[str, str]:
    """The stem of every word of ``titles`` (folded word -> stem), as the index has them."""
    words = sorted({word for title in titles for word in split_words(title)})
    rows = await fetch(
        db,
        QueryString(
            "SELECT t.word, (SELECT min(l.lexeme) FROM unnest(to_tsvector('english', t.word)) l)"
            " AS stem FROM unnest({}::text[]) AS t (word)",
            words,
        ),
    )
    return {row["word"]: row["stem"] for row in rows if row["stem"] is not None}


def highlight_title(
    title: str, matched: Collection[str], stems: Mapping[str, str], prefix: str | None
) -> str:
    """``"The Hobbit"`` -> ``"The <mark>Hobbit</mark>"``, HTML-escaped.

    A word is marked when its stem is one of the ``matched`` words, or when
    it starts with ``prefix`` (the word still being typed).
    """
    parts = []
    position = 0
    for start, end in word_spans(title):
        parts.append(html.escape(title[position:start]))
        word = html.escape(title[start:end])
        hit = any(
            stems.get(folded) in matched or (prefix is not None and folded.startswith(prefix))
            for folded in span_words(title[start:end])
        )
        parts.append(f"<mark>{word}</mark>" if hit else word)
        position = end
    parts.append(html.escape(title[position:]))
    return "".join(parts)
