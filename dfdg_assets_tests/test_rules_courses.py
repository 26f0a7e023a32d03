"""R4 visitation courses (dfdg_assets.rules.courses): hand-made histories, exact rows."""

from __future__ import annotations

import datetime as dt

import polars as pl

from dfdg_assets.core.weeks import OPEN_END
from dfdg_assets.rules import COURSE_COLUMNS, build_courses

VIS_SCHEMA = {
    "visitation_id": pl.String,
    "borger_key": pl.Int64,
    "kommunekode": pl.Int32,
    "visitationstidspunkt": pl.Datetime("us"),
    "ydelsesgruppe": pl.String,
    "visitationskategori": pl.String,
    "visiterende_org_id": pl.String,
}


def vis(*rows: tuple) -> pl.LazyFrame:
    """rows: (visitation_id, borger_key, kommunekode, 'YYYY-MM-DD HH:MM', kategori[, org])."""
    data = [
        {
            "visitation_id": r[0],
            "borger_key": r[1],
            "kommunekode": r[2],
            "visitationstidspunkt": dt.datetime.fromisoformat(r[3]),
            "ydelsesgruppe": "Kontanthjælp",
            "visitationskategori": r[4],
            "visiterende_org_id": r[5] if len(r) > 5 else f"JC{r[2]}",
        }
        for r in rows
    ]
    return pl.LazyFrame(data, schema=VIS_SCHEMA)


def d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def spans(courses: pl.LazyFrame) -> list[tuple]:
    """(forloeb_id, borger_key, kommunekode, startdato, slutdato, kategori), sorted."""
    return sorted(
        courses.select(
            "forloeb_id",
            "borger_key",
            "kommunekode",
            "startdato",
            "slutdato",
            "visitationskategori",
        )
        .collect()
        .rows()
    )


WORKED = [
    ("V1", 1, 101, "2020-10-05 09:00", "Jobparat"),
    ("V2", 1, 101, "2020-10-14 08:00", "Aktivitetsparat"),
    ("V3", 1, 101, "2020-10-14 13:30", "Jobparat"),
    ("V4", 1, 101, "2020-10-21 10:00", "Aktivitetsparat"),
]
V5 = ("V5", 1, 101, "2020-11-04 09:00", "Afmeldt")


def test_worked_example_courses() -> None:
    assert spans(build_courses(vis(*WORKED))) == [
        ("V1", 1, 101, d("2020-10-05"), d("2020-10-14"), "Jobparat"),
        ("V3", 1, 101, d("2020-10-14"), d("2020-10-21"), "Jobparat"),
        ("V4", 1, 101, d("2020-10-21"), OPEN_END, "Aktivitetsparat"),
    ]


def test_worked_example_afmeldt_closes_open_course() -> None:
    assert spans(build_courses(vis(*WORKED, V5))) == [
        ("V1", 1, 101, d("2020-10-05"), d("2020-10-14"), "Jobparat"),
        ("V3", 1, 101, d("2020-10-14"), d("2020-10-21"), "Jobparat"),
        ("V4", 1, 101, d("2020-10-21"), d("2020-11-04"), "Aktivitetsparat"),
    ]


def test_output_columns_and_types() -> None:
    out = build_courses(vis(*WORKED)).collect()
    assert out.columns == COURSE_COLUMNS
    assert out.schema["startdato"] == pl.Date and out.schema["slutdato"] == pl.Date
    assert out.schema["borger_key"] == pl.Int64 and out.schema["kommunekode"] == pl.Int32
    row = out.filter(pl.col("forloeb_id") == "V1").row(0, named=True)
    assert row["ydelsesgruppe"] == "Kontanthjælp" and row["visiterende_org_id"] == "JC101"


def test_same_day_latest_time_wins_regardless_of_input_order() -> None:
    rows = [
        ("A", 1, 101, "2020-03-02 15:00", "Jobparat"),
        ("B", 1, 101, "2020-03-02 08:00", "Aktivitetsparat"),
        ("C", 1, 101, "2020-03-02 23:59", "Uddannelsesparat"),
    ]
    assert spans(build_courses(vis(*rows))) == [
        ("C", 1, 101, d("2020-03-02"), OPEN_END, "Uddannelsesparat")
    ]


def test_exact_time_tie_greater_id_as_text() -> None:
    rows = [
        ("V10", 1, 101, "2020-03-02 09:00", "Jobparat"),
        ("V9", 1, 101, "2020-03-02 09:00", "Aktivitetsparat"),
    ]
    # "V9" > "V10" as text (not as a number)
    assert spans(build_courses(vis(*rows))) == [
        ("V9", 1, 101, d("2020-03-02"), OPEN_END, "Aktivitetsparat")
    ]


def test_same_day_loser_counts_nowhere() -> None:
    rows = [
        ("V1", 1, 101, "2020-03-02 09:00", "Jobparat"),
        ("V2", 1, 101, "2020-03-09 08:00", "Aktivitetsparat"),  # loses to V3
        ("V3", 1, 101, "2020-03-09 10:00", "Jobparat"),
    ]
    assert spans(build_courses(vis(*rows))) == [
        ("V1", 1, 101, d("2020-03-02"), d("2020-03-09"), "Jobparat"),
        ("V3", 1, 101, d("2020-03-09"), OPEN_END, "Jobparat"),
    ]


def test_same_day_rule_is_per_calendar_date_not_24_hours() -> None:
    rows = [
        ("V1", 1, 101, "2020-03-02 23:30", "Jobparat"),
        ("V2", 1, 101, "2020-03-03 00:10", "Aktivitetsparat"),
    ]
    assert spans(build_courses(vis(*rows))) == [
        ("V1", 1, 101, d("2020-03-02"), d("2020-03-03"), "Jobparat"),
        ("V2", 1, 101, d("2020-03-03"), OPEN_END, "Aktivitetsparat"),
    ]


def test_afmeldt_ends_chain_and_later_return_opens_new_course() -> None:
    rows = [
        ("V1", 1, 101, "2020-01-06 09:00", "Jobparat"),
        ("V2", 1, 101, "2020-02-10 09:00", "Afmeldt"),
        ("V3", 1, 101, "2020-06-01 09:00", "Aktivitetsparat"),
    ]
    assert spans(build_courses(vis(*rows))) == [
        ("V1", 1, 101, d("2020-01-06"), d("2020-02-10"), "Jobparat"),
        ("V3", 1, 101, d("2020-06-01"), OPEN_END, "Aktivitetsparat"),
    ]


def test_afmeldt_takes_part_in_same_day_rule() -> None:
    # Afmeldt wins its date: the same-day Jobparat counts nowhere, the open course ends.
    won = [
        ("V1", 1, 101, "2020-01-06 09:00", "Jobparat"),
        ("V2", 1, 101, "2020-02-10 09:00", "Jobparat"),
        ("V3", 1, 101, "2020-02-10 11:00", "Afmeldt"),
    ]
    assert spans(build_courses(vis(*won))) == [
        ("V1", 1, 101, d("2020-01-06"), d("2020-02-10"), "Jobparat")
    ]
    # Afmeldt loses its date: it counts nowhere, the later visitation opens a course.
    lost = [
        ("V1", 1, 101, "2020-01-06 09:00", "Jobparat"),
        ("V2", 1, 101, "2020-02-10 08:00", "Afmeldt"),
        ("V3", 1, 101, "2020-02-10 11:00", "Aktivitetsparat"),
    ]
    assert spans(build_courses(vis(*lost))) == [
        ("V1", 1, 101, d("2020-01-06"), d("2020-02-10"), "Jobparat"),
        ("V3", 1, 101, d("2020-02-10"), OPEN_END, "Aktivitetsparat"),
    ]


def test_only_afmeldt_gives_no_course() -> None:
    assert spans(build_courses(vis(("V1", 1, 101, "2020-01-06 09:00", "Afmeldt")))) == []


def test_ikke_visiteret_opens_a_course() -> None:
    rows = [
        ("V1", 1, 101, "2020-01-06 09:00", "Jobparat"),
        ("V2", 1, 101, "2020-01-20 09:00", "Ikke visiteret"),
    ]
    assert spans(build_courses(vis(*rows))) == [
        ("V1", 1, 101, d("2020-01-06"), d("2020-01-20"), "Jobparat"),
        ("V2", 1, 101, d("2020-01-20"), OPEN_END, "Ikke visiteret"),
    ]


def test_mover_one_chain_across_municipalities() -> None:
    rows = [
        ("V1", 1, 101, "2020-01-06 09:00", "Jobparat", "JC101"),
        ("V2", 1, 147, "2020-03-04 09:00", "Aktivitetsparat", "JC147"),
    ]
    out = build_courses(vis(*rows)).collect().sort("startdato")
    assert out.select("forloeb_id", "kommunekode", "slutdato", "visiterende_org_id").rows() == [
        ("V1", 101, d("2020-03-04"), "JC101"),
        ("V2", 147, OPEN_END, "JC147"),
    ]


def test_chains_are_per_citizen() -> None:
    rows = [
        ("V1", 1, 101, "2020-01-06 09:00", "Jobparat"),
        ("V2", 2, 101, "2020-01-08 09:00", "Jobparat"),
        ("V3", 1, 101, "2020-01-10 09:00", "Aktivitetsparat"),
        ("V4", 2, 101, "2020-01-08 10:00", "Afmeldt"),  # same day as V2, later: wins
        ("V5", 3, 101, "2020-01-08 09:00", "Jobparat"),  # same time and date, other citizen
    ]
    assert spans(build_courses(vis(*rows))) == [
        ("V1", 1, 101, d("2020-01-06"), d("2020-01-10"), "Jobparat"),
        ("V3", 1, 101, d("2020-01-10"), OPEN_END, "Aktivitetsparat"),
        ("V5", 3, 101, d("2020-01-08"), OPEN_END, "Jobparat"),
    ]


def test_empty_input() -> None:
    out = build_courses(vis()).collect()
    assert out.is_empty() and out.columns == COURSE_COLUMNS
