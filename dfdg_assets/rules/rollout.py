"""R5-R7 week roll-outs: courses, activities and conversations to (record, ISO week) rows.

Weeks and months follow R2 (`dfdg_assets.core.weeks`): a week belongs to the month of its Sunday,
and a roll-out for `months` produces exactly the weeks whose Sunday lies in one of them.
Every record is expanded only over the weeks it overlaps inside the range of those weeks
(first/last week index clipped to the range, exploded as an integer range); the week
attributes are then looked up by position (no join, no cross join), and weeks in gaps between
non-contiguous months are dropped.
"""

from __future__ import annotations

import polars as pl

from dfdg_assets.core.weeks import OPEN_END
from dfdg_assets.rules.weekindex import WeekRange, date_days, week_index_expr, week_range

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
_COURSE_ATTRS = ["kommunekode", "ydelsesgruppe", "visitationskategori", "visiterende_org_id"]

_IDX = "__uge_idx"
_FIRST = "__first"
_LAST = "__last"


def _explode_weeks(
    frame: pl.LazyFrame, first: pl.Expr, last: pl.Expr, weeks: WeekRange, keep: list[str]
) -> pl.LazyFrame:
    """Columns `keep` + _IDX: one row per (row of `frame`, week index in
    [max(first, lo), min(last, hi)]), gap weeks of non-contiguous months removed."""
    rows = (
        frame.with_columns(
            pl.max_horizontal(first, pl.lit(weeks.lo, dtype=pl.Int64)).alias(_FIRST),
            pl.min_horizontal(last, pl.lit(weeks.hi, dtype=pl.Int64)).alias(_LAST),
        )
        .filter(pl.col(_FIRST) <= pl.col(_LAST))
        .select(*keep, pl.int_ranges(pl.col(_FIRST), pl.col(_LAST) + 1).alias(_IDX))
        .explode(_IDX)
    )
    if weeks.selected is not None:
        rows = rows.filter(pl.col(_IDX).is_in(weeks.selected))
    return rows


def _week_attr_exprs(weeks: WeekRange) -> list[pl.Expr]:
    """uge, maaned, kvartal, aar of the week in _IDX (looked up by position lo..hi)."""
    pos = pl.col(_IDX) - weeks.lo
    return [pl.lit(weeks.dense[a]).gather(pos).alias(a) for a in WEEK_ATTRS]


def reaching(
    records: pl.LazyFrame, months: list[str], start: str, end: str, *, end_inclusive: bool
) -> pl.LazyFrame:
    """The records whose period `start`..`end` can reach a week of `months` (a null end is
    open): a superset of what the roll-outs of those months use, for narrowing a whole history
    once before the month-by-month roll-out. `end_inclusive`: the period includes its end day
    (activities, conversations) rather than ending before it (courses)."""
    weeks = week_range(months)
    if weeks.empty:
        return records.filter(pl.lit(False))
    monday, sunday = weeks.dense["uge_mandag"][0], weeks.dense["uge_soendag"][-1]
    ends = pl.col(end) >= monday if end_inclusive else pl.col(end) > monday
    return records.filter((pl.col(start) <= sunday) & (pl.col(end).is_null() | ends))


def course_weeks(courses: pl.LazyFrame, months: list[str]) -> pl.LazyFrame:
    """R5: visitation courses rolled out to the ISO weeks of `months`.

    Grain: one row per (forloeb_id, uge) for the weeks belonging to `months` (Sunday in the
    month) in which the course is in force: startdato <= sunday and slutdato > monday. A change
    during a week therefore puts the citizen in both courses' categories that week. Open courses
    (9999-12-31) roll out only to the weeks of `months`, never beyond.

    Columns: forloeb_id, borger_key, uge, maaned, kvartal, aar, kommunekode, ydelsesgruppe,
    visitationskategori, visiterende_org_id. Row order is not defined.
    """
    weeks = week_range(months)
    first = week_index_expr(date_days("startdato"))
    # slutdato > monday  <=>  slutdato - 1 >= monday  <=>  week(slutdato - 1) >= week
    last = week_index_expr(date_days("slutdato") - 1)
    rows = _explode_weeks(courses, first, last, weeks, ["forloeb_id", "borger_key", *_COURSE_ATTRS])
    return rows.select("forloeb_id", "borger_key", *_week_attr_exprs(weeks), *_COURSE_ATTRS)


def activity_weeks(activities: pl.LazyFrame, months: list[str]) -> pl.LazyFrame:
    """R6: activities (aktiveringsforløb) rolled out to the ISO weeks of `months`.

    Grain: one row per (aktivitet_id, uge) for the weeks belonging to `months` with
    startdato <= sunday and (slutdato is null or slutdato >= monday): an activity ending on a
    Monday is in that week. Every input column passes through unchanged, followed by uge,
    maaned, kvartal, aar and `dage_i_uge` (Int8, 1..7): the days of startdato..slutdato
    (inclusive) inside the week, an ongoing activity counting up to the last rolled-out day, the
    Sunday of the last week of the last month in `months` (so each of its weeks counts up to
    that week's Sunday). Rows with slutdato before startdato (R12 rejects them) give no weeks.
    Row order is not defined.
    """
    weeks = week_range(months)
    columns = activities.collect_schema().names()
    # ongoing: up to the last rolled-out day (no weeks: any date, nothing is rolled out)
    last_day = pl.lit(weeks.last_day or OPEN_END, dtype=pl.Date)
    end_days = date_days(pl.col("slutdato").fill_null(last_day))
    start_days = date_days("startdato")
    valid = activities.filter(
        pl.col("slutdato").is_null() | (pl.col("slutdato") >= pl.col("startdato"))
    )
    rows = _explode_weeks(
        valid, week_index_expr(start_days), week_index_expr(end_days), weeks, columns
    )
    monday = 4 + 7 * pl.col(_IDX)
    dage = pl.min_horizontal(end_days, monday + 6) - pl.max_horizontal(start_days, monday) + 1
    return rows.select(*columns, *_week_attr_exprs(weeks), dage.cast(pl.Int8).alias("dage_i_uge"))


def conversation_weeks(conversations: pl.LazyFrame, months: list[str]) -> pl.LazyFrame:
    """R7: held conversations placed in the ISO week of their `samtaledato`.

    Grain: one row per held conversation (samtalestatus == "Afholdt") whose samtaledato lies in
    a week belonging to `months`. Every input column passes through unchanged, followed by uge,
    maaned, kvartal, aar. Planned and cancelled conversations are dropped.
    """
    weeks = week_range(months)
    columns = conversations.collect_schema().names()
    rows = (
        conversations.filter(pl.col("samtalestatus") == HELD)
        .with_columns(week_index_expr(date_days("samtaledato")).alias(_IDX))
        .filter(pl.col(_IDX).is_between(weeks.lo, weeks.hi))
    )
    if weeks.selected is not None:
        rows = rows.filter(pl.col(_IDX).is_in(weeks.selected))
    return rows.select(*columns, *_week_attr_exprs(weeks))
