"""ISBN validation: ISBN-10 or ISBN-13 in, ISBN-13 out.

Storing one canonical form means the unique index on ``books.isbn`` catches
the same book entered once as ``0-306-40615-2`` and once as ``9780306406157``.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s-]")


def _isbn13_check_digit(first12: str) -> str:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def _isbn10_is_valid(isbn: str) -> bool:
    if not re.fullmatch(r"[0-9]{9}[0-9X]", isbn):
        return False
    digits = [10 if c == "X" else int(c) for c in isbn]
    return sum(d * w for d, w in zip(digits, range(10, 0, -1), strict=True)) % 11 == 0


def normalize_isbn(raw: str) -> str:
    """Return the ISBN-13 for ``raw``; raise ValueError naming what is wrong.

    >>> normalize_isbn("0-306-40615-2")
    '9780306406157'
    """
    isbn = _SEPARATORS.sub("", raw).upper()
    if len(isbn) == 10:
        if not _isbn10_is_valid(isbn):
            raise ValueError("not a valid ISBN-10 (check digit or characters wrong)")
        first12 = "978" + isbn[:9]
        return first12 + _isbn13_check_digit(first12)
    if len(isbn) == 13:
        if not isbn.isdigit() or not isbn.isascii():
            raise ValueError("an ISBN-13 has 13 digits")
        if _isbn13_check_digit(isbn[:12]) != isbn[12]:
            raise ValueError("not a valid ISBN-13 (check digit wrong)")
        return isbn
    raise ValueError("an ISBN has 10 or 13 characters, not counting hyphens and spaces")
