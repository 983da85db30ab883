"""Step 1 of a search: what the customer typed, folded and split into terms.

Folding must give exactly what ``search_fold`` gives in the database (the
migration that creates the search index): lower case, accents stripped
through NFKD, and the letters NFKD leaves whole spelled out. Both sides
then agree on "marquez" whichever of "Márquez" or "Marquez" was typed or
stored.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

_SPELLED_OUT = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "\u0131": "i",
    }
)
_COMBINING_MARKS = re.compile("[\u0300-\u036f]")
# Letters and digits; a word also takes the combining marks within and after
# them (``word_spans``), which Python's ``\w`` leaves out.
_LETTERS_AND_DIGITS = re.compile(r"[^\W_]+")
# A quoted phrase excluded with a leading minus (its closing quote may be
# missing: it runs to the end of the text), a quoted phrase, a word excluded
# with a leading minus (or several: "--word" is no double negation), or a run
# of other text. A minus leads where a word could start: at the start, after a
# space, or after a quote ('"two towers"-movie').
_SYNTAX = re.compile(
    r'(?<![^\s"])-+"(?P<excluded_phrase>[^"]*)"?'
    r'|"(?P<phrase>[^"]*)"'
    r'|(?<![^\s"])-+(?P<excluded>[^\s"]*?[^\W_][^\s"]*)'
    r'|(?P<text>"|[^\s"]+|\s+)'
)

# A prefix shorter than this would expand to most of the vocabulary.
MIN_PREFIX = 2


def fold(text: str) -> str:
    """``"Gabriel García Márquez"`` -> ``"gabriel garcia marquez"``."""
    if text.isascii():
        # Nothing to spell out or decompose: most of what is typed.
        return text.lower()
    lowered = text.lower().translate(_SPELLED_OUT)
    return _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", lowered))


def word_spans(text: str) -> list[tuple[int, int]]:
    """Where each word of ``text`` stands, (start, end): a run of letters and digits
    with the combining marks within and after them, as the index splits a field
    (``search_vector``: the parser meets no ASCII punctuation, and other characters
    end a word).

    A mark is neither letter nor digit, but the parser keeps it in its word:
    "हिन्दी" is one word of the index, whose vowel signs and virama would cut it
    into "ह", "न", "द", and "Ma\u0301rquez" (an accent typed as a mark) into
    "ma", "rquez", none found. The one split of the search box: its terms, its
    exclusions (``split_words``) and its highlights.

    >>> word_spans("hi-fi, हिन्दी")
    [(0, 2), (3, 5), (7, 13)]
    """
    spans: list[tuple[int, int]] = []
    for found in _LETTERS_AND_DIGITS.finditer(text):
        start, end = found.span()
        while end < len(text) and unicodedata.category(text[end])[0] == "M":
            end += 1
        if spans and spans[-1][1] == start:
            start = spans.pop()[0]  # only marks between: one word
        spans.append((start, end))
    return spans


def split_words(text: str) -> list[str]:
    """The folded words of ``text`` (``word_spans``)."""
    return [fold(text[start:end]) for start, end in word_spans(text)]


@dataclass(frozen=True)
class Term:
    """One word the books must match: as typed, and folded."""

    typed: str
    folded: str
    in_phrase: bool = False


@dataclass(frozen=True)
class Exclusions:
    """What a book must not hold, folded: ``-word`` and ``-"two words"``.

    Two kinds, excluded two ways (``pages.text_conditions``): a word is
    stemmed as the books' words are ("-sequels" leaves out "sequel"), a
    phrase is matched with its words next to each other.
    """

    words: tuple[str, ...] = ()
    # Each of two words or more, separated by a space: ``-"two towers"``, and
    # ``-spider-man``, whose words are left out together.
    phrases: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.words or self.phrases)


@dataclass(frozen=True)
class ParsedQuery:
    """The terms of a query: all must match (AND), ``excluded`` must not.

    ``typing``: the text ends in its last term, the customer still typing
    it; ``prefix``: that term is also matched as the start of a word (it is
    long enough to be one, ``MIN_PREFIX``).
    """

    terms: tuple[Term, ...]
    # Each quoted phrase of two words or more: the positions of its words in
    # ``terms`` (stop words included: they keep their places in the phrase).
    phrases: tuple[range, ...] = ()
    # A book holding one of them is left out.
    excluded: Exclusions = field(default_factory=Exclusions)
    prefix: bool = False
    # Words typed that can never match: only punctuation, say.
    empty: bool = field(default=False)
    # Where each term stands in the text typed, (start, end): the suggestion
    # is that text with its corrected words replaced (``did_you_mean``).
    # Not on ``Term``, which is kept with its lookup and met again elsewhere.
    spans: tuple[tuple[int, int], ...] = ()
    typing: bool = False
    # The text parsed, which ``spans`` index.
    text: str = ""

    def without_last_term(self) -> ParsedQuery:
        """The text parsed again with its last term cut out (``suggest``)."""
        start, end = self.spans[-1]
        return parse_query(self.text[:start] + self.text[end:])


def _terms_of(
    match: re.Match[str], group: str, *, in_phrase: bool
) -> tuple[list[Term], list[tuple[int, int]]]:
    """The words of ``match``'s ``group`` as terms, and where each stands in the text."""
    offset = match.start(group)
    text = match.group(group)
    spans = word_spans(text)
    terms = [Term(text[s:e], fold(text[s:e]), in_phrase=in_phrase) for s, e in spans]
    return terms, [(offset + start, offset + end) for start, end in spans]


# Texts whose parse is kept: what a search box sends is often sent again
# (the next page, the same search by another customer, a search and its
# completions), and the parse is some 10-20 us of a q_prefix request's
# worker CPU at 1M books, where a kept one costs a dictionary lookup.
# A ParsedQuery never changes (frozen, tuples and ranges), so all share it.
PARSED_TEXTS = 1_024


@functools.lru_cache(maxsize=PARSED_TEXTS)
def parse_query(q: str) -> ParsedQuery:
    """Split ``q`` into terms, quoted phrases and excluded words and phrases.

    ``"left hand"`` is a phrase (its words must also stand next to each
    other); ``-word`` excludes books with that word, ``-"two towers"``
    books with the phrase. Anything else is text: an unmatched quote or a
    lone ``-`` is not an error.

    >>> parse_query('"left hand" darkness -sequel le gu').terms[-1].folded
    'gu'
    """
    terms: list[Term] = []
    spans: list[tuple[int, int]] = []
    phrases: list[range] = []
    excluded_words: list[str] = []
    excluded_phrases: list[str] = []
    for match in _SYNTAX.finditer(q):
        if match.group("phrase") is not None:
            words, where = _terms_of(match, "phrase", in_phrase=True)
            if len(words) > 1:
                phrases.append(range(len(terms), len(terms) + len(words)))
            terms.extend(words)
            spans.extend(where)
        else:
            # "-spider-man" and -"two towers" leave out the words together,
            # not every book holding one of them.
            negated = match.group("excluded_phrase")
            if negated is None:
                negated = match.group("excluded")
            if negated is None:
                words, where = _terms_of(match, "text", in_phrase=False)
                terms.extend(words)
                spans.extend(where)
                continue
            left_out = split_words(negated)
            if len(left_out) == 1:
                excluded_words.append(left_out[0])
            elif left_out:
                excluded_phrases.append(" ".join(left_out))
    last = terms[-1] if terms else None
    # The text ends in the last term itself, not in a -word or a quote that
    # ends with the same letters ("hob -hob").
    typing = last is not None and not last.in_phrase and spans[-1][1] == len(q)
    prefix = typing and last is not None and len(last.folded) >= MIN_PREFIX
    excluded = Exclusions(tuple(excluded_words), tuple(excluded_phrases))
    return ParsedQuery(
        tuple(terms),
        tuple(phrases),
        excluded,
        prefix,
        empty=not terms,
        spans=tuple(spans),
        typing=typing,
        text=q,
    )
