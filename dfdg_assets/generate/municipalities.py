"""Which municipalities a sample covers, and how many citizens each gets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .common import Reference

# The first picks: big and small municipalities from every region, København first. A small
# sample thus mixes a capital, a big city, a poor rural and a tiny island municipality (the
# last one exercises small-group suppression).
PRIORITY = (101, 751, 360, 825, 461, 851, 147, 563, 265, 741)


def _order(ref: Reference) -> list[int]:
    """All 98 codes in pick order: PRIORITY, then per region alternately big and small."""
    rest: dict[int, list[int]] = {}
    for code in ref.kommuner:
        if code not in PRIORITY:
            rest.setdefault(ref.region_of[code], []).append(code)
    queues = []
    for region in sorted(rest):
        by_size = sorted(rest[region], key=lambda c: (-ref.indbyggere[c], c))
        # interleave from the big end and the small end
        lo, hi, q = 0, len(by_size) - 1, []
        while lo <= hi:
            q.append(by_size[lo])
            if lo != hi:
                q.append(by_size[hi])
            lo, hi = lo + 1, hi - 1
        queues.append(q)
    order = list(PRIORITY)
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    return order


def select(kommuner: int | Sequence[int], ref: Reference) -> list[int]:
    """The sample's municipality codes, ascending."""
    if isinstance(kommuner, bool):
        raise TypeError("kommuner must be a count or a list of municipality codes")
    if isinstance(kommuner, int | np.integer):
        n = int(kommuner)
        if not 1 <= n <= len(ref.kommuner):
            raise ValueError(f"kommuner must be between 1 and {len(ref.kommuner)}, got {n}")
        return sorted(_order(ref)[:n])
    codes = [int(c) for c in kommuner]
    unknown = sorted(set(codes) - set(ref.kommuner))
    if unknown:
        raise ValueError(f"unknown municipality codes: {unknown}")
    if not codes:
        raise ValueError("kommuner: empty list")
    return sorted(set(codes))


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` in proportion to `weights` (largest remainder, deterministic)."""
    w = np.asarray(weights, dtype=np.float64)
    exact = total * w / w.sum()
    base = np.floor(exact).astype(np.int64)
    short = total - int(base.sum())
    # ties broken by position, so the split is reproducible
    order = np.lexsort((np.arange(len(w)), -(exact - base)))
    base[order[:short]] += 1
    return base
