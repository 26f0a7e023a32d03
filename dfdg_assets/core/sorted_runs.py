"""Tables kept in key order: merging a sorted current table with sorted new rows is linear,
where sorting all history again is not. The incremental builds (staging, `dim_borger`) use it."""

from __future__ import annotations

import polars as pl


def merge_disjoint(old: pl.LazyFrame, new: pl.LazyFrame, order: list[str]) -> pl.DataFrame:
    """Two frames sorted by `order` whose first column shares no value between them, as one
    frame sorted by `order` (a merge of the two sorted runs; a full sort if `old` turns out not
    to be sorted, so a table written otherwise still gives the same rows)."""
    first = order[0]
    if is_sorted(old, order):
        return old.merge_sorted(new.sort(order), first).collect()
    return pl.concat([old, new]).sort(order).collect()


def is_sorted(lf: pl.LazyFrame, order: list[str]) -> bool:
    """Whether the rows are in ascending order of `order` (no row before a smaller one)."""
    before = pl.lit(False)
    for c in reversed(order):
        prev = pl.col(c).shift(1)
        before = (pl.col(c) < prev) | ((pl.col(c) == prev) & before)
    return not lf.select(before.fill_null(False).any()).collect().item()
