"""Step 2: how far a typed word may be from a word of the catalog.

Meilisearch's defaults: words of 1 to 4 characters must match exactly, 5 to
8 allow one typo, 9 or more two. A typo is an insertion, a deletion, a
substitution, or a swap of two neighbouring letters (Damerau-Levenshtein,
optimal string alignment). Numbers never take typos: "12044" is not "12045".
"""

from __future__ import annotations


def allowed_typos(word: str) -> int:
    if word.isdigit() or len(word) <= 4:
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
