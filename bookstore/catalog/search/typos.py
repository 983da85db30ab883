"""Step 2: how far a typed word may be from a word of the catalog.

Meilisearch's defaults: words of 1 to 4 characters must match exactly, 5 to
8 allow one typo, 9 or more two. A typo is an insertion, a deletion, a
substitution, or a swap of two neighbouring letters (Damerau-Levenshtein,
optimal string alignment). Numbers never take typos: "12044" is not "12045".

The vocabulary holds stems, and a typed word's stem may be much shorter
than the word: "sickness" is "sick". Its typos are counted where they are
measured (``within_typos``): from stem to stem, the budget is the stem's,
since a suffix the stemmer strips tells nothing about which word was meant
("sick" -> "dick" is a typo in a word of 4 letters, whatever "-ness"
follows); from the typed word to a word as the catalog writes it, the typed
word's ("cooking" -> "looking", "silves" -> "silver"), never to a stem,
which need not be a word ("saving" is one letter from "saling", the stem of
"Salinger"). A plural's ending stays part of the word: "hpoes" -> "hope",
as "hopes" misspelt, and "hobbbbits" (9 letters, stem "hobbbbit") ->
"hobbit", two typos.
"""

from __future__ import annotations


def never_corrected(word: str) -> bool:
    """Whether ``word`` (folded) is a number, which is never corrected, neither within
    its typos (``allowed_typos``) nor beyond them (``did_you_mean``): "12044" is another
    book's number, not "12045" misspelt.

    >>> never_corrected("12044"), never_corrected("1984s")
    (True, False)
    """
    return word.isdigit()


def allowed_typos(word: str) -> int:
    if never_corrected(word) or len(word) <= 4:
        return 0
    return 1 if len(word) <= 8 else 2


def typo_distance(a: str, b: str, limit: int) -> int:
    """Edits from ``a`` to ``b``, a swap of neighbours counting one; ``limit + 1`` if more."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[len(b)], limit + 1)


# What the stemmer strips of a plural: counted as letters of the word typed,
# here and in the lookup's gate of the trigram neighbours (``vocabulary``).
PLURAL_ENDINGS = ("s", "es")


def within_typos(typed: str, stem: str, word: str, stem_typos: int, written: str | None) -> bool:
    """Whether the vocabulary's ``word`` is a correction of ``typed`` (whose stem is ``stem``).

    ``stem_typos``: the edits from ``stem`` to ``word``. ``written``: ``word``
    as the catalog writes it (the first book holding it), when known.
    Either measure within its budget will do. The stem is never measured
    against the typed word's budget: that would let "sickness" become "dick",
    "reading" "dead", "running" "sun", one typo in a stem of 3 or 4 letters.
    So a stem of 5 letters takes its typo whatever suffix follows:
    "painting" ("paint") becomes "saint", as "paint" typed alone would, and
    as "sainting" misspelt would (one typo in 8 letters).

    >>> within_typos("sickness", "sick", "dick", 1, "dick")
    False
    >>> within_typos("hpoes", "hpoe", "hope", 1, "hope")
    True
    >>> within_typos("hobbies", "hobbi", "hobbit", 1, "hobbit")
    True
    >>> within_typos("silves", "silv", "silver", 2, "silver")
    True
    """
    # A plural's "s" or "es" stays a letter of the word: "kigns" is "kings"
    # misspelt, one typo in 5 letters, though its stem is "kign".
    plural = typed.startswith(stem) and typed[len(stem) :] in PLURAL_ENDINGS
    if stem_typos <= allowed_typos(typed if plural else stem):
        return True
    if written is None:
        return False
    budget = allowed_typos(typed)
    return typo_distance(typed, written, budget) <= budget
