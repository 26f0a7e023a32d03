"""Integer week numbers for fast roll-outs.

Week index k counts ISO weeks from the week of Monday 1970-01-05 (k = 0): a date with
d days since 1970-01-01 lies in week (d - 4) // 7 (floor division), whose Monday is day
4 + 7k and Sunday day 10 + 7k. Roll-outs compute the first and last week index of each
record, explode the integer range and join the week attributes of `weeks.week_frame`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dfdg_assets.weeks import week_frame

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


def indexed_week_frame(months: list[str]) -> tuple[pl.DataFrame, int, int]:
    """`week_frame(months)` plus `uge_idx` (Int64), and the first and last week index.

    For no weeks the range is empty (lo > hi).
    """
    weeks = week_frame(normalize_months(months)).with_columns(
        week_index_expr(date_days("uge_mandag")).alias("uge_idx")
    )
    if weeks.is_empty():
        return weeks, 0, -1
    return weeks, int(weeks["uge_idx"].min()), int(weeks["uge_idx"].max())  # type: ignore[arg-type]
