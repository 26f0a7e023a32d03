"""Shared helpers of the generator: random streams, day arithmetic, segments, reference data.

Days are int64 counts since 1970-01-01, months are int64 indexes `year * 12 + month - 1`.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
NEVER = 10**9  # a day (or delivery index) that never comes
HISTORY_START = "2017-01"  # the first delivery carries history back to here


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """An independent PCG64 stream per model component.

    Separate streams keep one component's draws unchanged when another component changes.
    """
    key = int.from_bytes(hashlib.sha256(stream.encode()).digest()[:8], "little")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key])))


# --- calendar -------------------------------------------------------------------------------


def parse_month(month: str) -> int:
    y, m = month.split("-")
    if len(y) != 4 or len(m) != 2 or not 1 <= int(m) <= 12:
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    return int(y) * 12 + int(m) - 1


def month_label(mi: int) -> str:
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def month_first_day(mi: np.ndarray | int) -> np.ndarray:
    m = np.asarray(mi, dtype=np.int64) - 1970 * 12
    return m.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def month_of(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days, dtype=np.int64)
    return d.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12


def weekday(days: np.ndarray | int) -> np.ndarray:
    """0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype=np.int64) + 3) % 7


def workday_back(days: np.ndarray) -> np.ndarray:
    """Saturday and Sunday move back to the Friday before."""
    wd = weekday(days)
    return days - np.maximum(wd - 4, 0)


def workday_forward(days: np.ndarray) -> np.ndarray:
    """Saturday and Sunday move on to the Monday after."""
    wd = weekday(days)
    return days + np.where(wd >= 5, 7 - wd, 0)


def monday_of(days: np.ndarray) -> np.ndarray:
    return days - weekday(days)


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d64 = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    mon = d64.astype("datetime64[M]")
    year = mon.astype("datetime64[Y]").astype(np.int64) + 1970
    month = mon.astype(np.int64) % 12 + 1
    day = (d64 - mon.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


@dataclass(frozen=True)
class Period:
    """The delivery months and the simulated history."""

    first_mi: int  # month index of the first delivery (fra)
    last_mi: int  # month index of the last delivery (til)
    hist_start: int  # first day of history (2017-01-01, or fra when earlier)
    end: int  # last day of the last delivery month

    @classmethod
    def of(cls, fra: str, til: str) -> Period:
        f, t = parse_month(fra), parse_month(til)
        if f > t:
            raise ValueError(f"fra {fra} is after til {til}")
        h = min(f, parse_month(HISTORY_START))
        return cls(f, t, int(month_first_day(h)), int(month_first_day(t + 1)) - 1)

    @property
    def n(self) -> int:
        return self.last_mi - self.first_mi + 1

    @property
    def months(self) -> list[str]:
        return [month_label(m) for m in range(self.first_mi, self.last_mi + 1)]

    def lev(self, days: np.ndarray, lag_months: np.ndarray | int = 0) -> np.ndarray:
        """Delivery index of a record registered on `days` (+ whole months of lag).

        Anything registered before the first delivery month goes into the first delivery
        (it carries history); an index past the last delivery means "not delivered yet".
        """
        mi = month_of(days) + lag_months
        return np.maximum(mi - self.first_mi, 0)


# --- segments (ragged groups laid out contiguously) -------------------------------------------


def starts_of(counts: np.ndarray) -> np.ndarray:
    return np.cumsum(counts) - counts


def rank_in_groups(counts: np.ndarray) -> np.ndarray:
    """0, 1, .. within each group, for groups of the given sizes laid out in order."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.arange(int(counts.sum())) - np.repeat(starts_of(counts), counts)


def run_starts(keys: np.ndarray) -> np.ndarray:
    """For a sorted key array: the index of the first element of each element's run."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.ones(n, dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    return np.maximum.accumulate(np.where(new, np.arange(n), 0))


def segment_cumsum(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum restarting at every new key (keys sorted)."""
    cs = np.cumsum(values)
    first = run_starts(keys)
    base = np.where(first > 0, cs[np.maximum(first - 1, 0)], 0)
    return cs - base


def last_of_runs(*keys: np.ndarray) -> np.ndarray:
    """Mask of the last element of each run of equal key tuples (arrays sorted by the keys)."""
    n = len(keys[0])
    last = np.zeros(n, dtype=bool)
    if n:
        last[-1] = True
        diff = np.zeros(n - 1, dtype=bool)
        for k in keys:
            diff |= k[1:] != k[:-1]
        last[:-1] = diff
    return last


def choice_idx(
    rng: np.random.Generator, weights: Sequence[float] | np.ndarray, size: int
) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def choice_rows(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One draw per element from the weight row `weights[rows[i]]` (a matrix of weights)."""
    cum = np.cumsum(weights, axis=1)
    cum = cum / cum[:, -1:]
    u = rng.random(len(rows))
    out = np.empty(len(rows), dtype=np.int64)
    for r in np.unique(rows):  # loops over the few weight rows, not over records
        sel = rows == r
        out[sel] = np.searchsorted(cum[r], u[sel], side="right")
    return np.minimum(out, weights.shape[1] - 1)


def force_coverage(
    rng: np.random.Generator,
    codes: np.ndarray,
    values: Sequence[int] | int,
    eligible: np.ndarray | None = None,
) -> None:
    """Overwrite a few random elements so that every one of `values` occurs (in place).

    Used for closed value lists, so that even small samples exercise every value.
    """
    vals = np.arange(values) if isinstance(values, int) else np.asarray(values, dtype=np.int64)
    pool = np.flatnonzero(eligible) if eligible is not None else np.arange(len(codes))
    missing = np.setdiff1d(vals, codes[pool])
    if len(missing) == 0 or len(pool) < 2 * len(vals):
        return
    at = rng.choice(pool, size=len(missing), replace=False)
    codes[at] = missing


def prefixed(prefix: str, numbers: np.ndarray) -> pl.Series:
    """Record ids such as V123: a prefix and a number, as text."""
    return pl.select(pl.concat_str(pl.lit(prefix), int_text(numbers))).to_series()


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a deterministic hash of integer keys (uniform uint64)."""
    z = np.asarray(x).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


# --- rendering to text ----------------------------------------------------------------------


def lookup(values: Sequence[str], codes: np.ndarray) -> pl.Series:
    """Code array (negative = null) to a string Series."""
    codes = np.asarray(codes, dtype=np.int64)
    s = pl.Series(list(values), dtype=pl.String)
    idx = pl.Series(np.where(codes < 0, 0, codes), dtype=pl.UInt32)
    out = s.gather(idx)
    if (codes < 0).any():
        out = pl.select(pl.when(pl.Series(codes >= 0)).then(out).otherwise(None)).to_series()
    return out


def date_text(days: np.ndarray) -> pl.Series:
    """Days (NEVER or negative-as-null not allowed here) to YYYY-MM-DD."""
    return pl.Series(np.asarray(days, dtype=np.int32)).cast(pl.Date).cast(pl.String)


def nullable_date_text(days: np.ndarray) -> pl.Series:
    d = np.asarray(days, dtype=np.int64)
    s = pl.Series(np.where(d >= NEVER, 0, d).astype(np.int32)).cast(pl.Date).cast(pl.String)
    if (d >= NEVER).any():
        s = pl.select(pl.when(pl.Series(d < NEVER)).then(s).otherwise(None)).to_series()
    return s


def timestamp_text(seconds: np.ndarray) -> pl.Series:
    ms = pl.Series(np.asarray(seconds, dtype=np.int64) * 1000)
    return ms.cast(pl.Datetime("ms")).dt.strftime("%Y-%m-%dT%H:%M:%S")


def int_text(values: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String)


def decimal_text(values: np.ndarray) -> pl.Series:
    """Floats (NaN = null) to text with at most two decimals, integers without a point."""
    v = np.round(np.asarray(values, dtype=np.float64), 2)
    s = pl.Series(v, nan_to_null=True)
    whole = s.round(0) == s
    return pl.select(
        pl.when(whole).then(s.cast(pl.Int64).cast(pl.String)).otherwise(s.cast(pl.String))
    ).to_series()


# --- reference data -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    kommuner: tuple[int, ...]  # codes in file order
    kommunenavn: dict[int, str]
    region_of: dict[int, int]
    regioner: dict[int, str]
    indbyggere: dict[int, int]
    lists: dict[str, tuple[str, ...]]
    kategorier: dict[str, tuple[str, ...]]  # ydelsesgruppe -> its own categories
    generelle: tuple[str, ...]  # categories valid for every group ("Alle")


def _rows(name: str) -> list[dict[str, str]]:
    with open(REFERENCE / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@lru_cache(maxsize=1)
def reference() -> Reference:
    kom = _rows("kommuner.csv")
    lists: dict[str, list[str]] = {}
    for r in _rows("vaerdilister.csv"):
        lists.setdefault(r["attribut"], []).append(r["vaerdi"])
    kat: dict[str, list[str]] = {}
    for r in _rows("visitationskategorier.csv"):
        kat.setdefault(r["ydelsesgruppe"], []).append(r["visitationskategori"])
    alle = tuple(kat.pop("Alle", []))
    return Reference(
        kommuner=tuple(int(r["kommunekode"]) for r in kom),
        kommunenavn={int(r["kommunekode"]): r["kommunenavn"] for r in kom},
        region_of={int(r["kommunekode"]): int(r["regionskode"]) for r in kom},
        regioner={int(r["regionskode"]): r["regionsnavn"] for r in _rows("regioner.csv")},
        indbyggere={
            int(r["kommunekode"]): int(r["indbyggere"]) for r in _rows("kommune_indbyggere.csv")
        },
        lists={k: tuple(v) for k, v in lists.items()},
        kategorier={k: tuple(v) for k, v in kat.items()},
        generelle=alle,
    )


def number_by(*keys: np.ndarray) -> np.ndarray:
    """The numbers 1..n of the records in the order of `keys` (as `np.lexsort`: the last key
    sorts first), in the smallest integer type."""
    num = np.empty(len(keys[0]), dtype=np.int64)
    num[np.lexsort(keys)] = np.arange(1, len(num) + 1)
    return compact(num)


def compact(a: np.ndarray) -> np.ndarray:
    """An integer array in the smallest type that holds it (other arrays as they are).

    The model keeps tens of millions of values at national scale; small types keep it in a
    few GB.
    """
    a = np.asarray(a)
    if a.size == 0 or not np.issubdtype(a.dtype, np.integer):
        return a
    lo, hi = int(a.min()), int(a.max())
    for t in (np.int8, np.int16, np.int32):
        info = np.iinfo(t)
        if info.min <= lo and hi <= info.max:
            return a.astype(t)
    return a.astype(np.int64)
