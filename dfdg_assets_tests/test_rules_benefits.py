"""R3 for YR, R8 (benefits of the DFDG population), R9 (16-66) and the benchmark counts,
with hand-made rows; the week-by-week R8 against the plain rule as a property."""

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfdg_assets.core.cpr import birth_date_expr
from dfdg_assets.rules.benefits import (
    HELE_LANDET,
    UDEN_YDELSE,
    benchmark_counts,
    citizen_week_benefits,
    citizen_week_benefits_sorted,
    current_yr_rows,
    population_16_66,
    population_weeks,
)


def substitute_cpr(born: dt.date, serial: str = "123") -> str:
    """A substitute CPR number (day + 60) with digit 7 matching the century."""
    digit7 = "4" if born.year >= 2000 else "1"
    return f"{born.day + 60:02d}{born.month:02d}{born.year % 100:02d}{digit7}{serial}"


def test_substitute_cpr_helper_round_trips():
    for born in (dt.date(2004, 3, 31), dt.date(1953, 4, 1), dt.date(1952, 2, 29)):
        cpr = substitute_cpr(born)
        assert pl.select(birth_date_expr(pl.lit(cpr))).item() == born


@pytest.mark.parametrize(
    "born, month, counted",
    [
        (dt.date(2004, 3, 31), "2020-03", True),  # 16 on the month's last day
        (dt.date(2004, 4, 1), "2020-03", False),  # still 15
        (dt.date(1953, 4, 1), "2020-03", True),  # 66 until 1 April
        (dt.date(1953, 3, 31), "2020-03", False),  # 67 on the last day
        (dt.date(2004, 2, 29), "2020-02", True),  # leap birthday, 16 on 29 February 2020
        (dt.date(2004, 2, 29), "2021-02", True),  # 16 on 28 February 2021 (17 on 1 March)
        (dt.date(1952, 2, 29), "2019-02", True),  # 66 on 28 February 2019: 67 only on 1 March
        (dt.date(1952, 2, 29), "2019-03", False),
    ],
)
def test_age_limits_16_and_66_on_the_months_last_day(born, month, counted):
    residents = pl.LazyFrame({"cpr": [substitute_cpr(born)], "kommunekode": [101]})
    out = population_16_66(residents, month).collect()
    assert out["antal_borgere_16_66"].sum() == (1 if counted else 0)


def _yr(rows):
    return pl.LazyFrame(
        rows,
        schema={
            "cpr": pl.String,
            "uge": pl.String,
            "beskaeftigelsesydelse": pl.String,
            "udbetalt_beloeb": pl.Float64,
            "data_maaned": pl.String,
        },
        orient="row",
    )


def test_a_later_delivery_replaces_all_rows_of_the_citizen_week():
    raw = _yr(
        [
            ("A", "2020-W05", "Kontanthjælp", 3000.0, "2020-01"),
            ("A", "2020-W05", "Tillæg", 500.0, "2020-01"),
            ("A", "2020-W05", "Kontanthjælp", 2800.0, "2020-02"),  # re-sent: replaces both rows
            ("B", "2020-W05", "A-dagpenge", 4000.0, "2020-01"),
            ("B", "2020-W05", "A-dagpenge", 4000.0, "2020-01"),  # two rows of one week are kept
        ]
    )
    out = current_yr_rows(raw, ["2020-W05"]).sort("cpr", "udbetalt_beloeb").collect()
    assert out.select("cpr", "beskaeftigelsesydelse", "udbetalt_beloeb").rows() == [
        ("A", "Kontanthjælp", 2800.0),
        ("B", "A-dagpenge", 4000.0),
        ("B", "A-dagpenge", 4000.0),
    ]


def test_uden_ydelse_and_two_benefits_in_one_week():
    courses = pl.LazyFrame({"borger_key": [1, 2], "uge": ["2020-W05", "2020-W05"]})
    acts = pl.LazyFrame({"borger_key": [3], "uge": ["2020-W05"]})
    yr = pl.LazyFrame(
        {
            "borger_key": [1, 1, 9],
            "uge": ["2020-W05"] * 3,
            "beskaeftigelsesydelse": ["Kontanthjælp", "Tillæg", "Sygedagpenge"],
        }
    )
    out = (
        citizen_week_benefits(population_weeks(courses, acts), yr)
        .sort("borger_key", "beskaeftigelsesydelse")
        .collect()
    )
    assert out.select("borger_key", "beskaeftigelsesydelse").rows() == [
        (1, "Kontanthjælp"),
        (1, "Tillæg"),
        (2, UDEN_YDELSE),
        (3, UDEN_YDELSE),
    ]  # citizen 9 has a YR row but is outside the DFDG population


_WEEKS = ["2020-W01", "2020-W02", "2020-W05"]
_citizen_week = st.tuples(st.integers(1, 8), st.sampled_from(_WEEKS))
_yr_row = st.tuples(
    st.integers(1, 9),
    st.sampled_from([*_WEEKS, "2020-W09"]),  # a YR week without any population
    st.sampled_from(["Kontanthjælp", "A-dagpenge", "Tillæg"]),
)


def _frame(rows: list[tuple], cols: list[str]) -> pl.LazyFrame:
    types = {"borger_key": pl.Int64, "uge": pl.String, "beskaeftigelsesydelse": pl.String}
    return pl.DataFrame(rows, schema={c: types[c] for c in cols}, orient="row").lazy()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_citizen_week, max_size=20),
    st.lists(_citizen_week, max_size=20),
    st.lists(_yr_row, max_size=30),  # repeated rows: several YR rows of one benefit in a week
)
def test_week_by_week_benefits_are_the_rule_sorted(courses, activities, yr_rows):
    courses = _frame(courses, ["borger_key", "uge"])
    acts = _frame(activities, ["borger_key", "uge"])
    yr = _frame(yr_rows, ["borger_key", "uge", "beskaeftigelsesydelse"])
    key = ["borger_key", "uge", "beskaeftigelsesydelse"]
    expected = (
        citizen_week_benefits(population_weeks(courses, acts), yr).select(key).sort(key).collect()
    )
    assert citizen_week_benefits_sorted(courses, acts, yr).equals(expected)


KOMMUNER = pl.DataFrame({"kommunekode": [101, 751], "kommunenavn": ["København", "Aarhus"]})


def test_benchmark_counts_by_paying_municipality_and_hele_landet_once():
    yr = pl.DataFrame(
        {
            "borger_key": [1, 1, 2, 3],
            "uge": ["2020-W05", "2020-W06", "2020-W05", "2020-W05"],
            "kommunekode": [101, 751, 101, 751],  # citizen 1 is paid by two municipalities
            "beskaeftigelsesydelse": ["Kontanthjælp", "Kontanthjælp", "A-dagpenge", "Kontanthjælp"],
        }
    )
    acts = pl.DataFrame(
        {
            "borger_key": [1, 1, 2],
            "uge": [
                "2020-W05",
                "2020-W09",
                "2020-W06",
            ],  # W09: no YR row that week; 2 not in a YR week
            "aktivitet_id": ["A1", "A1", "A2"],
            "aktiveringstype": ["Mentor", "Mentor", "Nytteindsats"],
        }
    )
    courses = pl.DataFrame(
        {
            "borger_key": [1, 3],
            "uge": ["2020-W05", "2020-W05"],
            "visitationskategori": ["Jobparat", "Jobparat"],
        }
    )
    pop = pl.DataFrame({"kommunekode": [101, 751], "antal_borgere_16_66": [100, 50]})
    out = benchmark_counts("2020-02", yr, acts, courses, pop, KOMMUNER)

    def row(kommune, breakdown="", value=""):
        r = out.filter(
            (pl.col("kommune") == kommune)
            & (pl.col("breakdown") == breakdown)
            & (pl.col("breakdown_vaerdi") == value)
        )
        assert r.height == 1
        return r.select(
            "antal_borgere_16_66",
            "antal_ydelsesmodtagere",
            "antal_aktiverede",
            "antal_aktiveringsforloeb",
        ).row(0)

    assert row("101") == (100, 2, 1, 1)
    assert row("751") == (50, 2, 0, 0)
    assert row(HELE_LANDET) == (150, 3, 1, 1)  # citizen 1 once
    assert row("101", "beskaeftigelsesydelse", "Kontanthjælp") == (None, 1, 1, 1)
    assert row("101", "beskaeftigelsesydelse", "A-dagpenge") == (None, 1, 0, 0)
    assert row(HELE_LANDET, "beskaeftigelsesydelse", "Kontanthjælp") == (None, 2, 1, 1)
    assert row("101", "aktiveringstype", "Mentor") == (None, 1, 1, 1)
    assert row("751", "aktiveringstype", "Mentor") == (None, 0, 0, 0)  # zero-filled
    assert row("101", "visitationskategori", "Jobparat") == (None, 1, 1, 1)
    assert row("751", "visitationskategori", "Jobparat") == (None, 1, 0, 0)
    # every cell exists for both municipalities and Hele landet
    assert out.group_by("breakdown", "breakdown_vaerdi").len()["len"].unique().to_list() == [3]


def test_a_month_without_its_delivery_has_no_16_66_count():
    yr = pl.DataFrame(
        schema={
            "borger_key": pl.Int64,
            "uge": pl.String,
            "kommunekode": pl.Int32,
            "beskaeftigelsesydelse": pl.String,
        }
    )
    acts = pl.DataFrame(
        schema={
            "borger_key": pl.Int64,
            "uge": pl.String,
            "aktivitet_id": pl.String,
            "aktiveringstype": pl.String,
        }
    )
    courses = pl.DataFrame(
        schema={"borger_key": pl.Int64, "uge": pl.String, "visitationskategori": pl.String}
    )
    out = benchmark_counts("2020-02", yr, acts, courses, None, KOMMUNER)
    assert out.height == 3 and out["antal_borgere_16_66"].null_count() == 3
    assert out["antal_ydelsesmodtagere"].to_list() == [0, 0, 0]
