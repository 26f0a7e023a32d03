"""ISO weeks and the months they belong to (R2), as pure polars functions.

A week belongs to the month of its Sunday; partition M holds exactly the weeks whose Sunday
falls in M. Labels: `uge` 2020-W05, `maaned` 2020-01, `kvartal` 2020K1, `aar` 2020.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

OPEN_END = dt.date(9999, 12, 31)


def month_key(month: str) -> str:
    """'2020-01' -> Dagster partition key '2020-01-01'."""
    return f"{month[:7]}-01"


def month_of_key(partition_key: str) -> str:
    """Dagster partition key '2020-01-01' -> '2020-01'."""
    return partition_key[:7]


def month_first_day(month: str) -> dt.date:
    return dt.date(int(month[:4]), int(month[5:7]), 1)


def month_last_day(month: str) -> dt.date:
    first = month_first_day(month)
    nxt = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def add_months(month: str, n: int) -> str:
    y, m = int(month[:4]), int(month[5:7]) - 1 + n
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Inclusive list of 'YYYY-MM' from first to last (empty when first > last)."""
    out: list[str] = []
    m = first[:7]
    while m <= last[:7]:
        out.append(m)
        m = add_months(m, 1)
    return out


def month_of_date(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def week_label(monday: dt.date) -> str:
    y, w, _ = monday.isocalendar()
    return f"{y:04d}-W{w:02d}"


def monday_of_label(label: str) -> dt.date:
    return dt.date.fromisocalendar(int(label[:4]), int(label[6:8]), 1)


def week_month(label: str) -> str:
    """The month a week belongs to: the month of its Sunday."""
    return month_of_date(monday_of_label(label) + dt.timedelta(days=6))


def weeks_of_month(month: str) -> list[dt.date]:
    """Mondays of the weeks whose Sunday falls in `month`."""
    first, last = month_first_day(month), month_last_day(month)
    # first Sunday on or after the 1st
    sunday = first + dt.timedelta(days=(6 - first.weekday()) % 7)
    out = []
    while sunday <= last:
        out.append(sunday - dt.timedelta(days=6))
        sunday += dt.timedelta(days=7)
    return out


def rollout_end(month: str) -> dt.date:
    """The last day (a Sunday) of the last week belonging to `month`."""
    return weeks_of_month(month)[-1] + dt.timedelta(days=6)


def rollout_start(month: str) -> dt.date:
    """The first day (a Monday) of the first week belonging to `month`."""
    return weeks_of_month(month)[0]


def week_frame(months: list[str]) -> pl.DataFrame:
    """One row per ISO week belonging to one of `months` (grain: week).

    Columns: uge, uge_mandag, uge_soendag, maaned, kvartal, aar.
    """
    mondays = [d for m in months for d in weeks_of_month(m)]
    df = pl.DataFrame({"uge_mandag": mondays}, schema={"uge_mandag": pl.Date})
    return (
        df.with_columns(
            (pl.col("uge_mandag") + pl.duration(days=6)).alias("uge_soendag"),
        )
        .with_columns(
            pl.format(
                "{}-W{}",
                pl.col("uge_mandag").dt.iso_year().cast(pl.String),
                pl.col("uge_mandag").dt.week().cast(pl.String).str.zfill(2),
            ).alias("uge"),
            pl.col("uge_soendag").dt.strftime("%Y-%m").alias("maaned"),
            pl.format(
                "{}K{}",
                pl.col("uge_soendag").dt.year().cast(pl.String),
                pl.col("uge_soendag").dt.quarter().cast(pl.String),
            ).alias("kvartal"),
            pl.col("uge_soendag").dt.year().cast(pl.Int32).alias("aar"),
        )
        .select("uge", "uge_mandag", "uge_soendag", "maaned", "kvartal", "aar")
    )


def day_frame(months: list[str]) -> pl.DataFrame:
    """One row per calendar day of the weeks belonging to `months` (grain: day)."""
    weeks = week_frame(months)
    if weeks.is_empty():
        return pl.DataFrame(schema={"dato": pl.Date, "ugedag": pl.Int8, **dict(weeks.schema)})
    days = weeks.with_columns(pl.date_ranges("uge_mandag", "uge_soendag").alias("dato")).explode(
        "dato"
    )
    return days.with_columns(pl.col("dato").dt.weekday().cast(pl.Int8).alias("ugedag")).select(
        "dato", "ugedag", *weeks.columns
    )
