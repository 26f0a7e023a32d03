"""R5-R7 week roll-outs (dfdg_assets.rules.rollout): hand-made rows, exact weekly rows."""

from __future__ import annotations

import datetime as dt

import polars as pl

from dfdg_assets.core.weeks import OPEN_END
from dfdg_assets.rules import (
    COURSE_WEEK_COLUMNS,
    activity_weeks,
    build_courses,
    conversation_weeks,
    course_weeks,
)

VIS_SCHEMA = {
    "visitation_id": pl.String,
    "borger_key": pl.Int64,
    "kommunekode": pl.Int32,
    "visitationstidspunkt": pl.Datetime("us"),
    "ydelsesgruppe": pl.String,
    "visitationskategori": pl.String,
    "visiterende_org_id": pl.String,
}
COURSE_SCHEMA = {
    "forloeb_id": pl.String,
    "borger_key": pl.Int64,
    "kommunekode": pl.Int32,
    "startdato": pl.Date,
    "slutdato": pl.Date,
    "ydelsesgruppe": pl.String,
    "visitationskategori": pl.String,
    "visiterende_org_id": pl.String,
}
ACT_SCHEMA = {
    "aktivitet_id": pl.String,
    "borger_key": pl.Int64,
    "kommunekode": pl.Int32,
    "startdato": pl.Date,
    "slutdato": pl.Date,
    "aktiveringstype": pl.String,
    "timer_pr_uge": pl.Float64,
}
SAMTALE_SCHEMA = {
    "samtale_id": pl.String,
    "borger_key": pl.Int64,
    "kommunekode": pl.Int32,
    "samtaledato": pl.Date,
    "samtalestatus": pl.String,
    "samtaletype": pl.String,
}


def d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def vis(*rows: tuple) -> pl.LazyFrame:
    """rows: (visitation_id, borger_key, kommunekode, 'YYYY-MM-DD HH:MM', kategori)."""
    return pl.LazyFrame(
        [
            {
                "visitation_id": r[0],
                "borger_key": r[1],
                "kommunekode": r[2],
                "visitationstidspunkt": dt.datetime.fromisoformat(r[3]),
                "ydelsesgruppe": "Kontanthjælp",
                "visitationskategori": r[4],
                "visiterende_org_id": f"JC{r[2]}",
            }
            for r in rows
        ],
        schema=VIS_SCHEMA,
    )


def courses(*rows: tuple) -> pl.LazyFrame:
    """rows: (forloeb_id, borger_key, kommunekode, startdato, slutdato or None=open, kategori)."""
    return pl.LazyFrame(
        [
            {
                "forloeb_id": r[0],
                "borger_key": r[1],
                "kommunekode": r[2],
                "startdato": d(r[3]),
                "slutdato": d(r[4]) if r[4] else OPEN_END,
                "ydelsesgruppe": "Kontanthjælp",
                "visitationskategori": r[5],
                "visiterende_org_id": None,
            }
            for r in rows
        ],
        schema=COURSE_SCHEMA,
    )


def acts(*rows: tuple) -> pl.LazyFrame:
    """rows: (aktivitet_id, borger_key, startdato, slutdato or None)."""
    return pl.LazyFrame(
        [
            {
                "aktivitet_id": r[0],
                "borger_key": r[1],
                "kommunekode": 101,
                "startdato": d(r[2]),
                "slutdato": d(r[3]) if r[3] else None,
                "aktiveringstype": "Virksomhedspraktik",
                "timer_pr_uge": 30.0,
            }
            for r in rows
        ],
        schema=ACT_SCHEMA,
    )


def weekly(frame: pl.LazyFrame, *cols: str) -> list[tuple]:
    return sorted(frame.select(*cols).collect().rows())


WORKED = [
    ("V1", 1, 101, "2020-10-05 09:00", "Jobparat"),
    ("V2", 1, 101, "2020-10-14 08:00", "Aktivitetsparat"),
    ("V3", 1, 101, "2020-10-14 13:30", "Jobparat"),
    ("V4", 1, 101, "2020-10-21 10:00", "Aktivitetsparat"),
]
V5 = ("V5", 1, 101, "2020-11-04 09:00", "Afmeldt")


def citizens_by_week_category(rows: pl.LazyFrame) -> list[tuple]:
    return sorted(
        rows.group_by("uge", "visitationskategori")
        .agg(pl.col("borger_key").n_unique())
        .collect()
        .rows()
    )


# --- R5 course weeks -------------------------------------------------------------------------


def test_worked_example_through_2020_10() -> None:
    rows = course_weeks(build_courses(vis(*WORKED)), ["2020-10"])
    assert weekly(rows, "forloeb_id", "uge", "maaned", "kvartal", "aar") == [
        ("V1", "2020-W41", "2020-10", "2020K4", 2020),
        ("V1", "2020-W42", "2020-10", "2020K4", 2020),
        ("V3", "2020-W42", "2020-10", "2020K4", 2020),
        ("V3", "2020-W43", "2020-10", "2020K4", 2020),
        ("V4", "2020-W43", "2020-10", "2020K4", 2020),
    ]
    assert citizens_by_week_category(rows) == [
        ("2020-W41", "Jobparat", 1),
        ("2020-W42", "Jobparat", 1),
        ("2020-W43", "Aktivitetsparat", 1),
        ("2020-W43", "Jobparat", 1),
    ]


def test_worked_example_through_2020_11_with_afmeldt() -> None:
    c = build_courses(vis(*WORKED, V5))
    assert weekly(course_weeks(c, ["2020-11"]), "forloeb_id", "uge", "maaned") == [
        ("V4", "2020-W44", "2020-11"),
        ("V4", "2020-W45", "2020-11"),
    ]
    both = course_weeks(c, ["2020-10", "2020-11"])
    assert citizens_by_week_category(both) == [
        ("2020-W41", "Jobparat", 1),
        ("2020-W42", "Jobparat", 1),
        ("2020-W43", "Aktivitetsparat", 1),
        ("2020-W43", "Jobparat", 1),
        ("2020-W44", "Aktivitetsparat", 1),
        ("2020-W45", "Aktivitetsparat", 1),
    ]
    by_month = (
        both.group_by("maaned")
        .agg(pl.col("borger_key").n_unique().alias("b"), pl.col("forloeb_id").n_unique().alias("f"))
        .collect()
        .sort("maaned")
        .rows()
    )
    assert by_month == [("2020-10", 1, 3), ("2020-11", 1, 1)]


def test_course_weeks_columns_and_attributes() -> None:
    out = course_weeks(build_courses(vis(*WORKED)), ["2020-10"]).collect()
    assert out.columns == COURSE_WEEK_COLUMNS
    assert out.schema["aar"] == pl.Int32 and out.schema["borger_key"] == pl.Int64
    row = out.filter(pl.col("forloeb_id") == "V4").row(0, named=True)
    assert row == {
        "forloeb_id": "V4",
        "borger_key": 1,
        "uge": "2020-W43",
        "maaned": "2020-10",
        "kvartal": "2020K4",
        "aar": 2020,
        "kommunekode": 101,
        "ydelsesgruppe": "Kontanthjælp",
        "visitationskategori": "Aktivitetsparat",
        "visiterende_org_id": "JC101",
    }


def test_change_mid_week_puts_citizen_in_both_categories() -> None:
    # Wednesday 2020-03-04 change; W10 = 03-02..03-08
    c = courses(
        ("C1", 1, 101, "2020-02-24", "2020-03-04", "Jobparat"),
        ("C2", 1, 101, "2020-03-04", None, "Aktivitetsparat"),
    )
    # 2020-03 holds W09 (Sunday 03-01) .. W13 (Sunday 03-29)
    assert weekly(course_weeks(c, ["2020-03"]), "uge", "visitationskategori") == [
        ("2020-W09", "Jobparat"),
        ("2020-W10", "Aktivitetsparat"),
        ("2020-W10", "Jobparat"),
        ("2020-W11", "Aktivitetsparat"),
        ("2020-W12", "Aktivitetsparat"),
        ("2020-W13", "Aktivitetsparat"),
    ]


def test_change_on_monday_is_not_in_previous_category_that_week() -> None:
    # slutdato is exclusive: a course ending Monday 03-09 is not in force in W11
    c = courses(
        ("C1", 1, 101, "2020-02-24", "2020-03-09", "Jobparat"),
        ("C2", 1, 101, "2020-03-09", None, "Aktivitetsparat"),
    )
    assert weekly(course_weeks(c, ["2020-03"]), "uge", "visitationskategori") == [
        ("2020-W09", "Jobparat"),
        ("2020-W10", "Jobparat"),
        ("2020-W11", "Aktivitetsparat"),
        ("2020-W12", "Aktivitetsparat"),
        ("2020-W13", "Aktivitetsparat"),
    ]


def test_course_starting_sunday_is_in_that_week() -> None:
    c = courses(("C1", 1, 101, "2020-03-08", "2020-03-09", "Jobparat"))
    assert weekly(course_weeks(c, ["2020-03"]), "uge") == [("2020-W10",)]


def test_open_course_cut_at_partition_last_week() -> None:
    c = courses(("C1", 1, 101, "2019-06-12", None, "Jobparat"))
    # 2020-02 holds W05..W08 (Sundays 02-02 .. 02-23); W09 ends Sunday 03-01: 2020-03
    assert weekly(course_weeks(c, ["2020-02"]), "uge", "maaned") == [
        ("2020-W05", "2020-02"),
        ("2020-W06", "2020-02"),
        ("2020-W07", "2020-02"),
        ("2020-W08", "2020-02"),
    ]
    assert weekly(course_weeks(c, ["2019-05"]), "uge") == []


def test_week_53_belongs_to_january_of_next_year() -> None:
    c = courses(("C1", 1, 101, "2020-12-28", None, "Jobparat"))
    assert weekly(course_weeks(c, ["2020-12"]), "uge") == []
    assert weekly(course_weeks(c, ["2021-01"]), "uge", "maaned", "kvartal", "aar") == [
        ("2020-W53", "2021-01", "2021K1", 2021),
        ("2021-W01", "2021-01", "2021K1", 2021),
        ("2021-W02", "2021-01", "2021K1", 2021),
        ("2021-W03", "2021-01", "2021K1", 2021),
        ("2021-W04", "2021-01", "2021K1", 2021),
    ]


def test_2020_w01_belongs_to_2020_01() -> None:
    # 2020-W01 = 2019-12-30 .. 2020-01-05
    c = courses(("C1", 1, 101, "2019-12-31", "2020-01-06", "Jobparat"))
    assert weekly(course_weeks(c, ["2019-12"]), "uge") == []
    assert weekly(course_weeks(c, ["2020-01"]), "uge", "maaned", "kvartal", "aar") == [
        ("2020-W01", "2020-01", "2020K1", 2020)
    ]


def test_mover_both_municipalities_in_week_of_move() -> None:
    c = build_courses(
        vis(
            ("V1", 1, 101, "2020-01-06 09:00", "Jobparat"),
            ("V2", 1, 147, "2020-01-15 09:00", "Jobparat"),  # Wednesday of W03
        )
    )
    assert weekly(course_weeks(c, ["2020-01"]), "uge", "kommunekode", "forloeb_id") == [
        ("2020-W02", 101, "V1"),
        ("2020-W03", 101, "V1"),
        ("2020-W03", 147, "V2"),
        ("2020-W04", 147, "V2"),  # W05 ends Sunday 02-02: it belongs to 2020-02
    ]


def test_non_contiguous_months_skip_the_gap() -> None:
    c = courses(("C1", 1, 101, "2020-01-01", None, "Jobparat"))
    got = weekly(course_weeks(c, ["2020-03", "2020-01"]), "maaned")
    assert sorted(set(got)) == [("2020-01",), ("2020-03",)]
    assert len(got) == 4 + 5  # 2020-01: W01..W04; 2020-03: W09..W13


def test_no_months_gives_no_rows() -> None:
    out = course_weeks(courses(("C1", 1, 101, "2020-01-01", None, "Jobparat")), []).collect()
    assert out.is_empty() and out.columns == COURSE_WEEK_COLUMNS


# --- R6 activity weeks -----------------------------------------------------------------------


def test_worked_example_activity_days() -> None:
    a = acts(("A1", 1, "2020-10-12", "2020-10-26"))
    out = activity_weeks(a, ["2020-10", "2020-11"])
    assert weekly(out, "aktivitet_id", "uge", "maaned", "dage_i_uge") == [
        ("A1", "2020-W42", "2020-10", 7),
        ("A1", "2020-W43", "2020-10", 7),
        ("A1", "2020-W44", "2020-11", 1),  # ends on Monday 10-26: in W44
    ]
    per_month = out.group_by("maaned").agg(pl.col("dage_i_uge").sum()).collect().sort("maaned")
    assert per_month.rows() == [("2020-10", 14), ("2020-11", 1)]


def test_activity_passes_all_columns_through() -> None:
    out = activity_weeks(acts(("A1", 1, "2020-10-12", "2020-10-13")), ["2020-10"]).collect()
    assert out.columns == [*ACT_SCHEMA, "uge", "maaned", "kvartal", "aar", "dage_i_uge"]
    assert out.rows() == [
        (
            "A1",
            1,
            101,
            d("2020-10-12"),
            d("2020-10-13"),
            "Virksomhedspraktik",
            30.0,
            "2020-W42",
            "2020-10",
            "2020K4",
            2020,
            2,
        )
    ]
    assert {k: out.schema[k] for k in ACT_SCHEMA} == ACT_SCHEMA


def test_activity_single_day_and_midweek_start() -> None:
    a = acts(("A1", 1, "2020-10-14", "2020-10-14"), ("A2", 2, "2020-10-15", "2020-10-20"))
    assert weekly(activity_weeks(a, ["2020-10"]), "aktivitet_id", "uge", "dage_i_uge") == [
        ("A1", "2020-W42", 1),
        ("A2", "2020-W42", 4),  # Thu..Sun
        ("A2", "2020-W43", 2),  # Mon, Tue
    ]


def test_ongoing_activity_counts_to_last_rolled_out_sunday() -> None:
    a = acts(("A1", 1, "2020-10-07", None))  # Wednesday of W41
    assert weekly(activity_weeks(a, ["2020-10"]), "uge", "dage_i_uge") == [
        ("2020-W41", 5),
        ("2020-W42", 7),
        ("2020-W43", 7),
    ]
    # an ongoing activity never rolls out beyond the months asked for
    assert weekly(activity_weeks(a, ["2020-09"]), "uge") == []
    nov = weekly(activity_weeks(a, ["2020-11"]), "uge", "dage_i_uge")
    assert nov == [
        ("2020-W44", 7),
        ("2020-W45", 7),
        ("2020-W46", 7),
        ("2020-W47", 7),
        ("2020-W48", 7),
    ]


def test_activity_ending_sunday_before_partition_is_not_in_it() -> None:
    a = acts(("A1", 1, "2020-09-01", "2020-10-04"))  # Sunday of W40 (2020-10)
    assert weekly(activity_weeks(a, ["2020-10"]), "uge", "dage_i_uge") == [("2020-W40", 7)]
    a = acts(("A1", 1, "2020-09-01", "2020-09-27"))  # Sunday of W39 (2020-09)
    assert weekly(activity_weeks(a, ["2020-10"]), "uge") == []


def test_overlapping_activities_are_independent() -> None:
    a = acts(("A1", 1, "2020-10-05", "2020-10-18"), ("A2", 1, "2020-10-12", None))
    assert weekly(activity_weeks(a, ["2020-10"]), "aktivitet_id", "uge", "dage_i_uge") == [
        ("A1", "2020-W41", 7),
        ("A1", "2020-W42", 7),
        ("A2", "2020-W42", 7),
        ("A2", "2020-W43", 7),
    ]


# --- R7 conversation weeks -------------------------------------------------------------------


def samtaler(*rows: tuple) -> pl.LazyFrame:
    return pl.LazyFrame(
        [
            {
                "samtale_id": r[0],
                "borger_key": 1,
                "kommunekode": 101,
                "samtaledato": d(r[1]),
                "samtalestatus": r[2],
                "samtaletype": "Jobsamtale",
            }
            for r in rows
        ],
        schema=SAMTALE_SCHEMA,
    )


def test_only_held_conversations_in_their_week() -> None:
    s = samtaler(
        ("S1", "2020-10-07", "Afholdt"),
        ("S2", "2020-10-20", "Aflyst"),
        ("S3", "2020-10-21", "Planlagt"),
        ("S4", "2020-10-25", "Afholdt"),  # Sunday of W43 -> 2020-10
        ("S5", "2020-10-26", "Afholdt"),  # Monday of W44 -> 2020-11
        ("S6", "2020-09-28", "Afholdt"),  # W40 (Sunday 10-04) -> 2020-10
    )
    out = conversation_weeks(s, ["2020-10"]).collect()
    assert out.columns == [*SAMTALE_SCHEMA, "uge", "maaned", "kvartal", "aar"]
    assert sorted(out.select("samtale_id", "uge", "maaned").rows()) == [
        ("S1", "2020-W41", "2020-10"),
        ("S4", "2020-W43", "2020-10"),
        ("S6", "2020-W40", "2020-10"),
    ]
    nov = conversation_weeks(s, ["2020-11"]).select("samtale_id", "uge").collect().rows()
    assert nov == [("S5", "2020-W44")]
