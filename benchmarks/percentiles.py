"""Percentiles of timings, computed one way by every benchmark that prints them.

Nearest rank, no interpolation: the p90 of 30 timings is the 28th fastest,
a time one request really took. Two benchmarks that print a p90 agree on
what it means::

    percentile(sorted(timings_ms), 0.9)
"""

from __future__ import annotations

from collections.abc import Sequence


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The value at ``fraction`` (0.5 for the median) of ``ordered``, sorted ascending."""
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
