"""R5-R7 week roll-outs: courses, activities and conversations to (record, ISO week) rows.

Weeks and months follow R2 (`dfdg_assets.weeks`): a week belongs to the month of its Sunday,
and a roll-out for `months` produces exactly the weeks whose Sunday lies in one of them.
Every record is expanded only over the weeks it overlaps inside the range of those weeks
(first/last week index, clipped, exploded as an integer range), then joined to the week
attributes; the join also drops weeks between non-contiguous months. No cross join.
"""

from __future__ import annotations

import polars as pl

from dfdg_assets.rules.weekindex import date_days, indexed_week_frame, week_index_expr
from dfdg_assets.weeks import rollout_end

HELD = "Afholdt"
WEEK_ATTRS = ["uge", "maaned", "kvartal", "aar"]

#: Output columns of `course_weeks`, in order.
COURSE_WEEK_COLUMNS = [
    "forloeb_id",
    "borger_key",
    *WEEK_ATTRS,
    "kommunekode",
    "ydelsesgruppe",
    "visitationskategori",
    "visiterende_org_id",
]

_IDX = "__uge_idx"
_FIRST = "__first"
_LAST = "__last"


def _explode_weeks(
    frame: pl.LazyFrame, first: pl.Expr, last: pl.Expr, lo: int, hi: int
) -> pl.LazyFrame:
    """One row per (row of `frame`, week index in [max(first, lo), min(last, hi)])."""
    return (
        frame.with_columns(
            pl.max_horizontal(first, pl.lit(lo, dtype=pl.Int64)).alias(_FIRST),
            pl.min_horizontal(last, pl.lit(hi, dtype=pl.Int64)).alias(_LAST),
        )
        .filter(pl.col(_FIRST) <= pl.col(_LAST))
        .with_columns(pl.int_ranges(pl.col(_FIRST), pl.col(_LAST) + 1).alias(_IDX))
        .drop(_FIRST, _LAST)
        .explode(_IDX)
    )


def _week_attrs(weeks: pl.DataFrame, *extra: str) -> pl.LazyFrame:
    return weeks.lazy().select(pl.col("uge_idx").alias(_IDX), *WEEK_ATTRS, *extra)


def course_weeks(courses: pl.LazyFrame, months: list[str]) -> pl.LazyFrame:
    """R5: visitation courses rolled out to the ISO weeks of `months`.

    Grain: one row per (forloeb_id, uge) for the weeks belonging to `months` (Sunday in the
    month) in which the course is in force: startdato <= sunday and slutdato > monday. A change
    during a week therefore puts the citizen in both courses' categories that week. Open courses
    (9999-12-31) roll out only to the weeks of `months`, never beyond.

    Columns: forloeb_id, borger_key, uge, maaned, kvartal, aar, kommunekode, ydelsesgruppe,
    visitationskategori, visiterende_org_id. Row order is not defined.
    """
    weeks, lo, hi = indexed_week_frame(months)
    first = week_index_expr(date_days("startdato"))
    # slutdato > monday  <=>  slutdato - 1 >= monday  <=>  week(slutdato - 1) >= week
    last = week_index_expr(date_days("slutdato") - 1)
    rows = _explode_weeks(
        courses.select(
            "forloeb_id",
            "borger_key",
            "startdato",
            "slutdato",
            "kommunekode",
            "ydelsesgruppe",
            "visitationskategori",
            "visiterende_org_id",
        ),
        first,
        last,
        lo,
        hi,
    )
    return rows.join(_week_attrs(weeks), on=_IDX, how="inner").select(COURSE_WEEK_COLUMNS)


def activity_weeks(activities: pl.LazyFrame, months: list[str]) -> pl.LazyFrame:
    """R6: activities (aktiveringsforløb) rolled out to the ISO weeks of `months`.

    Grain: one row per (aktivitet_id, uge) for the weeks belonging to `months` with
    startdato <= sunday and (slutdato is null or slutdato >= monday): an activity ending on a
    Monday is in that week. Every input column passes through unchanged, followed by uge,
    maaned, kvartal, aar and `dage_i_uge` (Int8, 1..7): the days of startdato..slutdato
    (inclusive) inside the week, an ongoing activity counting up to the last rolled-out day, the
    Sunday of the last week of the last month in `months` (so each of its weeks counts 7 days
    from its start). Rows with slutdato before startdato (R12 rejects them) give no weeks.
    Row order is not defined.
    """
    weeks, lo, hi = indexed_week_frame(months)
    columns = activities.collect_schema().names()
    if hi >= lo:
        last_day = rollout_end(max(weeks["maaned"]))
        end_days = date_days(pl.col("slutdato").fill_null(pl.lit(last_day, dtype=pl.Date)))
    else:
        end_days = date_days("slutdato").fill_null(0)
    start_days = date_days("startdato")
    rows = _explode_weeks(
        activities.filter(
            pl.col("slutdato").is_null() | (pl.col("slutdato") >= pl.col("startdato"))
        ),
        week_index_expr(start_days),
        week_index_expr(end_days),
        lo,
        hi,
    )
    monday = 4 + 7 * pl.col(_IDX)
    dage = pl.min_horizontal(end_days, monday + 6) - pl.max_horizontal(start_days, monday) + 1
    return rows.join(_week_attrs(weeks), on=_IDX, how="inner").select(
        *columns, *WEEK_ATTRS, dage.cast(pl.Int8).alias("dage_i_uge")
    )


def conversation_weeks(conversations: pl.LazyFrame, months: list[str]) -> pl.LazyFrame:
    """R7: held conversations placed in the ISO week of their `samtaledato`.

    Grain: one row per held conversation (samtalestatus == "Afholdt") whose samtaledato lies in
    a week belonging to `months`. Every input column passes through unchanged, followed by uge,
    maaned, kvartal, aar. Planned and cancelled conversations are dropped.
    """
    weeks, lo, hi = indexed_week_frame(months)
    columns = conversations.collect_schema().names()
    return (
        conversations.filter(pl.col("samtalestatus") == HELD)
        .with_columns(week_index_expr(date_days("samtaledato")).alias(_IDX))
        .filter(pl.col(_IDX).is_between(lo, hi))
        .join(_week_attrs(weeks), on=_IDX, how="inner")
        .select(*columns, *WEEK_ATTRS)
    )
