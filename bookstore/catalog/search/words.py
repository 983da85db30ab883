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


def _character_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """A regular expression's bracket of the code points ``ranges`` spans (bounds included)."""
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


# The symbols NFKD spells with letters or digits: "™" (TM), "℃" (°C), "№"
# (No), "Ⓗ" (H), "⒜" ((a)), "㍱" (hPa), "㈱" ((株)), the Kangxi radicals,
# "₨" (Rs). Neither letter nor digit to Python, each is a word of its own
# on both sides, spelled as NFKD spells it: "Pokémon™" is "pokemon" and
# "tm", "9℃" is "9" and "c". Every code point (Unicode 14) that is not a
# letter, digit or mark and whose fold holds one (tests/test_search_special_tokens.py
# checks the list); search_vector puts spaces around the same ones
# (migration 2026-11-30T21:00).
SPELLED_SYMBOLS = (
    (0x20A8, 0x20A8), (0x2100, 0x2101), (0x2103, 0x2103), (0x2105, 0x2106),
    (0x2109, 0x2109), (0x2116, 0x2116), (0x2120, 0x2122), (0x213B, 0x213B),
    (0x249C, 0x24E9), (0x2E9F, 0x2E9F), (0x2EF3, 0x2EF3), (0x2F00, 0x2FD5),
    (0x3196, 0x319F), (0x3200, 0x321E), (0x322A, 0x3247), (0x3250, 0x3250),
    (0x3260, 0x327E), (0x328A, 0x32B0), (0x32C0, 0x33FF), (0xFDFC, 0xFDFC),
    (0x1F110, 0x1F12E), (0x1F130, 0x1F14F), (0x1F16A, 0x1F16C), (0x1F190, 0x1F190),
    (0x1F200, 0x1F202), (0x1F210, 0x1F23B), (0x1F240, 0x1F248), (0x1F250, 0x1F251),
)  # fmt: skip
# Invisible format characters (category Cf) but the zero-width space: a word
# written with a soft hyphen (U+00AD), a joiner (U+200C, U+200D, U+2060) or
# a direction mark is the word without them ("co\u00adoperation" is
# "cooperation"). The zero-width space is a space: it marks where a word ends.
INVISIBLE = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD),
    (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200C, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)  # fmt: skip
_INVISIBLE = re.compile(_character_class(INVISIBLE))
_SYMBOL = re.compile(_character_class(SPELLED_SYMBOLS))
_ASCII_WORD = re.compile("[A-Za-z0-9]+")
# A quoted phrase excluded with a leading minus (its closing quote may be
# missing: it runs to the end of the text), a quoted phrase, a word excluded
# with a leading minus (or several: "--word" is no double negation; a word has
# a letter, a digit or a spelled symbol: "-™" leaves out "tm"), or a run of
# other text. A minus leads where a word could start: at the start, after a
# space, or after a quote ('"two towers"-movie').
_SYNTAX = re.compile(
    r'(?<![^\s"])-+"(?P<excluded_phrase>[^"]*)"?'
    r'|"(?P<phrase>[^"]*)"'
    rf'|(?<![^\s"])-+(?P<excluded>[^\s"]*?(?:[^\W_]|{_SYMBOL.pattern})[^\s"]*)'
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


def _in_word(character: str) -> bool:
    """A letter, a digit, a combining mark or an invisible character: what PostgreSQL's
    parser reads as part of a word (a mark even where it starts one)."""
    return (
        character.isalnum()
        or unicodedata.category(character)[0] == "M"
        or _INVISIBLE.match(character) is not None
    )


def word_spans(text: str) -> list[tuple[int, int]]:
    """Where each word of ``text`` stands, (start, end), as the index splits a field
    (``search_vector``): a run of letters, digits, combining marks and invisible
    characters, or a symbol NFKD spells with letters (``SPELLED_SYMBOLS``) alone.
    ``span_words`` gives the words a span stands for.

    A mark is neither letter nor digit, but the parser keeps it in its word:
    "हिन्दी" is one word of the index, whose vowel signs and virama would cut it
    into "ह", "न", "द", and "Ma\u0301rquez" (an accent typed as a mark) into
    "ma", "rquez", none found. The one split of the search box: its terms, its
    exclusions (``split_words``) and its highlights.

    >>> word_spans("hi-fi, हिन्दी Pokémon™")
    [(0, 2), (3, 5), (7, 13), (14, 21), (21, 22)]
    """
    if text.isascii():
        return [found.span() for found in _ASCII_WORD.finditer(text)]
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for position, character in enumerate(text):
        symbol = _SYMBOL.match(character) is not None
        if not symbol and _in_word(character):
            if start is None:
                start = position
            continue
        if start is not None:
            spans.append((start, position))
            start = None
        if symbol:
            spans.append((position, position + 1))
    if start is not None:
        spans.append((start, len(text)))
    return spans


def span_words(span: str) -> list[str]:
    """The folded words one span of ``word_spans`` stands for, as the index reads
    them: its invisible characters dropped, folded, then split again, since NFKD
    may spell a letter or a symbol with a separator ("℃" is "°c": ``c``; "⒈" is
    "1.": ``1``; "½" is "1", a fraction slash, "2": ``1`` and ``2``), and lower-cased again, as the
    parser does, since NFKD may spell a symbol in capitals ("™" is "TM").

    >>> span_words("Pokémon"), span_words("™"), span_words("co\u00adoperation")
    (['pokemon'], ['tm'], ['cooperation'])
    """
    if span.isascii():
        return [span.lower()]  # letters and digits only: most of what is typed
    folded = fold(_INVISIBLE.sub("", span)).lower()
    return [folded[start:end] for start, end in word_spans(folded)]


def split_words(text: str) -> list[str]:
    """The folded words of ``text`` (``word_spans``, ``span_words``)."""
    return [word for start, end in word_spans(text) for word in span_words(text[start:end])]


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
    terms: list[Term] = []
    spans: list[tuple[int, int]] = []
    for start, end in word_spans(text):
        # Most spans are one word; a symbol or a fraction may be several ("½": 1, 2).
        for word in span_words(text[start:end]):
            terms.append(Term(text[start:end], word, in_phrase=in_phrase))
            spans.append((offset + start, offset + end))
    return terms, spans


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
