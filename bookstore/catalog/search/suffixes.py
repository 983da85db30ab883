"""A prefix typed past its word's stem: the words it could be finishing.

The vocabulary holds stems, and a prefix is completed by the stems it
begins (``vocabulary``). A customer typing "rowling" has typed past its stem
`rowl` at "rowlin", and no stem begins with "rowlin": "j. k. rowli" (one
typo from `rowl`) and "j. k. rowling" found Rowling's books, the keystroke
between them nothing. So did "the shinin", "elephan", "detectiv", "importan":
69 keystrokes of the demo catalog's title and author words (2026-11-30).
The stemmer strips English endings ("-ing", "-ive", "-ance", "-ness"...):
when the text typed ends with the first letters of one, the word finished
with it is stemmed as the catalog's words are, and its stem completes the
prefix. Asked only of a prefix that no stem begins (``vocabulary._LOOKUP``),
so every other keystroke is completed as before.
"""

from __future__ import annotations

# Endings the English Snowball stemmer strips, as typed (its "-li", "-iti"
# are "-ly", "-ity" once a final "y" is read as "i"), with their common plurals and
# the compounds of two ("-fully", "-iveness").
ENDINGS = (
    "ing", "ingly", "ed", "edly", "es", "ies", "ied", "ly", "ily", "ness", "iness",
    "ful", "fully", "fulness", "less", "lessly", "lessness", "ment", "ments", "ement",
    "ent", "ently", "ence", "ency", "ance", "ancy", "ant", "antly", "al", "ally",
    "ality", "ical", "ically", "ic", "er", "ers", "able", "ably", "ible", "ibly",
    "ability", "ibility", "ism", "isms", "ist", "ists", "ity", "ities", "ive", "ives",
    "ively", "iveness", "ivity", "ous", "ously", "ousness", "ion", "ions", "ation",
    "ations", "ational", "ize", "ized", "izing", "ization", "ise", "ised", "ising",
    "isation", "ate", "ated", "ating", "ator", "ators",
)  # fmt: skip


def finished_words(prefix: str) -> list[str]:
    """The words ``prefix`` (folded) could be typing, when it ends inside an ending.

    Each ending whose first letters (not all of them) end ``prefix`` gives the
    word finished with its other letters; at least 3 letters stay before the
    ending's. The database stems them (``to_tsvector``), as it stems the books.

    >>> finished_words("rowlin")
    ['rowliness', 'rowling', 'rowlingly']
    >>> finished_words("elephan")
    ['elephance', 'elephancy', 'elephaness', 'elephant', 'elephantly']
    >>> finished_words("hob")
    []
    """
    words = set()
    for ending in ENDINGS:
        for typed in range(1, len(ending)):
            kept = len(prefix) - typed
            if kept >= 3 and prefix.endswith(ending[:typed]):
                words.add(prefix + ending[typed:])
    return sorted(words)
