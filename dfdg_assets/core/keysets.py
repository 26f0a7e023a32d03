"""Exact key arithmetic on month-sized frames, fast: duplicated keys and foreign-key membership.

Both work on 64-bit hashes first and compare values only where hashes cannot decide, so the
answers are exact: equal keys have equal hashes, so as many distinct hashes as rows proves a key
unique, and a value whose hash no member has is missing. A hash that matches is confirmed by
comparing the values themselves; only a collision falls back to polars' own (slower) operations.
A national month of a weekly fact (1.5 million rows) is checked in about a tenth of the time of a
`unique()` or an anti-join against a table of millions of members.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import polars as pl

_SEED = 0x0DF06  # any fixed seed: hashes are compared within one process only


def _hash(values: pl.Series | pl.DataFrame) -> pl.Series:
    """64-bit hashes of a column's values or a frame's rows (a test may make them collide)."""
    if isinstance(values, pl.DataFrame):
        return values.to_series().hash(_SEED) if values.width == 1 else values.hash_rows(_SEED)
    return values.hash(_SEED)


# the last frames asked about (weakly), each with its key and the answer; a month's frame may be
# asked in one thread (its key check, while it is built) and again in another (its schema)
_RECENT: list[tuple[weakref.ref, tuple, bool]] = []
_RECENT_SIZE = 4
_RECENT_LOCK = threading.Lock()


def has_duplicates(df: pl.DataFrame, key: list[str]) -> bool:
    """True when two rows of `df` share the values of `key` (nulls equal, as polars' unique).

    The answers for the last few frame objects and keys are kept: a month is asked twice on its
    way to the warehouse (its key check, then its schema)."""
    if df.height < 2:
        return False
    with _RECENT_LOCK:
        for ref, last_key, answer in _RECENT:
            if ref() is df and last_key == tuple(key):
                return answer
    keys = df.select(key)
    answer = _hash(keys).n_unique() != df.height and bool(keys.is_duplicated().any())
    with _RECENT_LOCK:
        _RECENT[:] = [(weakref.ref(df), tuple(key), answer), *_RECENT[: _RECENT_SIZE - 1]]
    return answer


class MemberSet:
    """The non-null values of one column of a referenced table, sorted once (by value, or by
    hash for a column that is not an integer), for exact membership tests of many months'
    foreign keys (`absent`). Repeated values need no `unique()`: they sort next to each other."""

    def __init__(self, values: pl.Series):
        self._values = values.drop_nulls()
        self.dtype = values.dtype
        self.size = self._values.len()
        if self.dtype.is_integer():
            self._sorted = np.sort(self._values.to_numpy())
            self._order = None
        else:
            hashes = _hash(self._values).to_numpy()
            self._order = np.argsort(hashes)
            self._sorted = hashes[self._order]

    def absent(self, values: pl.Series) -> pl.Series:
        """The distinct non-null values of `values` that are not members."""
        distinct = values.drop_nulls().unique()
        if not distinct.len() or not self.size:
            return distinct
        if values.dtype != self.dtype:  # compare as polars would (no hash across types)
            return distinct.filter(~distinct.is_in(self._values.implode()))
        if self._order is None:
            distinct = distinct.sort()
            probe = distinct.to_numpy()
        else:  # probed in sorted order: a sweep through the members rather than random access
            probe = _hash(distinct).to_numpy()
            by_hash = np.argsort(probe)
            probe, distinct = probe[by_hash], distinct.gather(pl.Series(by_hash))
        pos = np.searchsorted(self._sorted, probe).clip(0, self.size - 1)
        hit = self._sorted[pos] == probe
        if self._order is None:
            return distinct.filter(pl.Series(~hit))
        confirmed = np.zeros(distinct.len(), dtype=bool)
        if hit.any():
            member = self._values.gather(pl.Series(self._order[pos[hit]]))
            confirmed[hit] = (distinct.filter(pl.Series(hit)) == member).to_numpy()
        undecided = hit & ~confirmed  # a hash shared with another value: compare exactly
        if undecided.any():
            rest = distinct.filter(pl.Series(undecided))
            confirmed[undecided] = rest.is_in(self._values.implode()).to_numpy()
        return distinct.filter(pl.Series(~confirmed))

    def missing_rows(self, values: pl.Series) -> int:
        """Rows of `values` (nulls are no reference) whose value is not a member."""
        absent = self.absent(values)
        if not absent.len():
            return 0
        return int(values.is_in(absent.implode()).sum())
