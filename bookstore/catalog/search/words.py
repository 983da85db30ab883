"""Step 1 of a search: what the customer typed, folded and split into terms.

Folding must give exactly what ``search_fold`` gives in the database (the
migration that creates the search index): lower case, accents stripped
through NFKD, and the letters NFKD leaves whole spelled out. Both sides
then agree on "marquez" whichever of "Márquez" or "Marquez" was typed or
stored.
"""

from __future__ import annotations

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
_WORD = re.compile(r"[^\W_]+")
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


def split_words(text: str) -> list[str]:
    """The folded words of ``text``, split where PostgreSQL's parser splits them."""
    return _WORD.findall(fold(text))


@dataclass(frozen=True)
class Term:
    """One word the books must match: as typed, and folded."""

    typed: str
    folded: str
    in_phrase: bool = False


@dataclass(frozen=True)
class Exclusions:
    """What a book must not hold, folded: ``-word`` and ``-"two words"``.

    Two kinds, excluded two ways (``pages.row_conditions``): a word is
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


def _terms_of(
    match: re.Match[str], group: str, *, in_phrase: bool
) -> tuple[list[Term], list[tuple[int, int]]]:
    """The words of ``match``'s ``group`` as terms, and where each stands in the text."""
    offset = match.start(group)
    words = list(_WORD.finditer(match.group(group)))
    terms = [Term(typed=w.group(), folded=fold(w.group()), in_phrase=in_phrase) for w in words]
    return terms, [(offset + w.start(), offset + w.end()) for w in words]


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
    typing = (
        last is not None
        and not last.in_phrase
        and not q[-1:].isspace()
        and q.rstrip().endswith(last.typed)
    )
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
    )
