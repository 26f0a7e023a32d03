"""Integer week numbers for fast roll-outs.

Week index k counts ISO weeks from the week of Monday 1970-01-05 (k = 0): a date with
d days since 1970-01-01 lies in week (d - 4) // 7 (floor division), whose Monday is day
4 + 7k and Sunday day 10 + 7k. Roll-outs compute the first and last week index of each
record, explode the integer range and look the week attributes up by position in a dense
table of the weeks lo..hi (`WeekRange`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from dfdg_assets.core.weeks import months_between, rollout_end, week_frame

_EPOCH = dt.date(1970, 1, 1)


def week_index_of(day: dt.date) -> int:
    return ((day - _EPOCH).days - 4) // 7


def week_index_expr(days: pl.Expr) -> pl.Expr:
    """Week index of an Int64 expression of days since 1970-01-01."""
    return (days - 4) // 7


def date_days(col: str | pl.Expr) -> pl.Expr:
    """A Date column as Int64 days since 1970-01-01."""
    expr = pl.col(col) if isinstance(col, str) else col
    return expr.cast(pl.Int64)


def normalize_months(months: list[str] | tuple[str, ...]) -> list[str]:
    """'YYYY-MM' or partition keys 'YYYY-MM-01' -> sorted distinct 'YYYY-MM'."""
    return sorted({m[:7] for m in months})


@dataclass(frozen=True)
class WeekRange:
    """The weeks of a set of months, for roll-outs.

    lo/hi: first and last week index (lo > hi when there are no weeks). dense: the
    `week_frame` of every week lo..hi in order (row i is week lo + i). selected: the week
    indexes of the months asked for when they leave gaps in lo..hi, else None. last_day:
    the Sunday of the last week (the last rolled-out day), None when there are no weeks.
    """

    lo: int
    hi: int
    dense: pl.DataFrame
    selected: list[int] | None
    last_day: dt.date | None

    @property
    def empty(self) -> bool:
        return self.lo > self.hi


def week_range(months: list[str] | tuple[str, ...]) -> WeekRange:
    wanted = normalize_months(months)
    if not wanted:
        return WeekRange(0, -1, week_frame([]), None, None)
    span = months_between(wanted[0], wanted[-1])
    dense = week_frame(span)
    lo = week_index_of(dense["uge_mandag"][0])
    hi = lo + dense.height - 1
    selected = None
    if len(span) != len(wanted):
        chosen = set(wanted)
        selected = [lo + i for i, m in enumerate(dense["maaned"]) if m in chosen]
    return WeekRange(lo, hi, dense, selected, rollout_end(wanted[-1]))
