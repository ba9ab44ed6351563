"""Report arithmetic: percentiles, CSAT, NPS. Pure functions over plain numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The pct-th percentile by the nearest-rank method; None for no values."""
    if not values:
        return None
    if not 0 < pct <= 100:
        raise ValueError("pct must be in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def share(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 places; None when there is nothing to measure."""
    return round(part / whole, 4) if whole else None


def csat_score(ratings: Sequence[int]) -> float | None:
    """Share of satisfied answers (4 or 5 on the 1-5 scale)."""
    return share(sum(1 for r in ratings if r >= 4), len(ratings))


def nps(scores: Sequence[int]) -> float | None:
    """Net promoter score: % promoters (9-10) minus % detractors (0-6), from -100 to 100."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100 * (promoters - detractors) / len(scores), 1)
