"""`fct_borger_maaned`, the DFDG population by municipality and month: `antal_borgere` by time and
municipality attributes reads it instead of the weekly facts, and must give exactly the same
answers. A property test of the rule against counting the weeks, the two query paths side by side
on a loaded sample, and the catalogue's guard for a table that does not hold every month."""

from __future__ import annotations

import shutil

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from dfdg_assets.cubes.query import dfdg_sql, plan_query
from dfdg_assets.cubes.shared import catalogue_names, open_catalogue
from dfdg_assets.rules.benefits import citizen_month_benefits, population_months
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.conftest import SAMPLE_KOMMUNER, clone_root

# ---------------------------------------------------------------- the rule (hypothesis)
WEEKS = {  # week -> (month, quarter, year): 2019-W52 belongs to 2019-12, 2020-W01 to 2020-01
    "2019-W51": ("2019-12", "2019-K4", 2019),
    "2019-W52": ("2019-12", "2019-K4", 2019),
    "2020-W01": ("2020-01", "2020-K1", 2020),
    "2020-W05": ("2020-01", "2020-K1", 2020),
    "2020-W14": ("2020-04", "2020-K2", 2020),
}
_row = st.tuples(st.integers(1, 6), st.sampled_from([101, 147, 151]), st.sampled_from(list(WEEKS)))


def _weeks(rows: list[tuple[int, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "borger_key": [r[0] for r in rows],
            "kommunekode": [r[1] for r in rows],
            "uge": [r[2] for r in rows],
            "maaned": [WEEKS[r[2]][0] for r in rows],
            "kvartal": [WEEKS[r[2]][1] for r in rows],
            "aar": [WEEKS[r[2]][2] for r in rows],
        },
        schema={
            "borger_key": pl.Int64,
            "kommunekode": pl.Int32,
            "uge": pl.String,
            "maaned": pl.String,
            "kvartal": pl.String,
            "aar": pl.Int32,
        },
    )


def _distinct(df: pl.DataFrame, by: list[str]) -> list[tuple]:
    if not by:
        return [(df["borger_key"].n_unique(),)]
    return df.group_by(by).agg(pl.col("borger_key").n_unique()).sort(by).rows()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_row, max_size=25), st.lists(_row, max_size=25))
def test_population_months_count_the_citizens_of_the_weeks(courses, activities):
    c, a = _weeks(courses), _weeks(activities)
    months = sorted({m for m, _, _ in WEEKS.values()})
    pop = pl.concat(
        [
            population_months(
                c.lazy().filter(pl.col("maaned") == m), a.lazy().filter(pl.col("maaned") == m)
            ).collect()
            for m in months
        ]
    )
    weeks = pl.concat([c, a])
    assert pop.select("kommunekode", "borger_key", "maaned").is_duplicated().sum() == 0
    for by in ([], ["maaned"], ["maaned", "kommunekode"], ["kvartal"], ["aar", "kommunekode"]):
        assert _distinct(pop, by) == _distinct(weeks, by), by


_benefit_row = st.tuples(
    st.integers(1, 6),
    st.sampled_from(list(WEEKS)),
    st.sampled_from(["Kontanthjælp", "A-dagpenge", "Uden ydelse i YR"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_benefit_row, max_size=30, unique=True))
def test_citizen_month_benefits_count_the_citizens_of_the_weeks(rows):
    weeks = pl.DataFrame(
        {
            "borger_key": [r[0] for r in rows],
            "uge": [r[1] for r in rows],
            "maaned": [WEEKS[r[1]][0] for r in rows],
            "beskaeftigelsesydelse": [r[2] for r in rows],
        },
        schema={
            "borger_key": pl.Int64,
            "uge": pl.String,
            "maaned": pl.String,
            "beskaeftigelsesydelse": pl.String,
        },
    )
    months = citizen_month_benefits(weeks.lazy()).collect()
    assert months.select("borger_key", "maaned", "beskaeftigelsesydelse").is_duplicated().sum() == 0
    assert months.equals(months.sort("maaned", "beskaeftigelsesydelse", "borger_key"))
    for by in ([], ["maaned"], ["beskaeftigelsesydelse"], ["maaned", "beskaeftigelsesydelse"]):
        assert _distinct(months, by) == _distinct(weeks, by), by
    by_rows = (
        months.group_by("maaned", "beskaeftigelsesydelse")
        .len()
        .sort("maaned", "beskaeftigelsesydelse")
    )
    assert by_rows.rows() == _distinct(weeks, ["maaned", "beskaeftigelsesydelse"])


# ---------------------------------------------------------------- both query paths
def _answer(source, *, population: bool, cube: str = "dfdg", **kw) -> pl.DataFrame:
    con, _ = open_catalogue(source)
    try:
        plan = plan_query(con, cube=cube, **kw)
        plan.population = population
        sql, params = dfdg_sql(plan)
        return pl.DataFrame(con.sql(sql, params=params)).select([*plan.by, *plan.measures])
    finally:
        con.close()


QUERIES = [
    {"measures": ["antal_borgere"], "by": ["maaned", "kommunekode"]},
    {"measures": ["antal_borgere"], "by": ["maaned"]},
    {"measures": ["antal_borgere"], "by": []},
    {"measures": ["antal_borgere"], "by": ["aar", "regionsnavn"]},
    {"measures": ["antal_borgere"], "by": ["kvartal", "kommunenavn"], "fra": "2020-01"},
    {"measures": ["antal_borgere"], "by": ["maaned"], "kommune": SAMPLE_KOMMUNER[1]},
    {"measures": ["antal_borgere"], "by": ["kommunekode"], "where": {"aar": ["2020"]}},
    {"measures": ["antal_borgere"], "by": ["maaned", "kommunenavn"]},
    {
        "measures": ["antal_borgere"],
        "by": ["maaned"],
        "where": {"kommunekode": [str(k) for k in SAMPLE_KOMMUNER[:2]]},
    },
    {
        "measures": ["antal_borgere", "antal_visitationsforloeb", "antal_aktiveringsforloeb"],
        "by": ["maaned", "regionskode"],
    },
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: ",".join(q["by"]) or "total")
def test_population_table_answers_as_the_weekly_facts(generated_loaded, query):
    root = generated_loaded.root
    via_population = _answer(root, population=True, **query)
    via_weeks = _answer(root, population=False, **query)
    assert via_population.height > 0 and via_population["antal_borgere"].sum() > 0
    assert_frame_equal(via_population, via_weeks)


def test_ydelsesaktivitet_citizens_by_month_and_municipality_read_the_population(
    generated_loaded,
):
    kw = {"measures": ["antal_borgere"], "by": ["maaned", "kommunekode"]}
    a = _answer(generated_loaded.root, population=True, cube="ydelsesaktivitet", **kw)
    b = _answer(generated_loaded.root, population=False, cube="ydelsesaktivitet", **kw)
    assert a["maaned"].min() == "2020-01" and a.height > 0
    assert_frame_equal(a, b)


def test_only_time_and_municipality_queries_read_the_population(generated_loaded):
    con, _ = open_catalogue(generated_loaded.root)
    try:
        assert "fct_borger_maaned" in catalogue_names(con)

        def sql(by: list[str]) -> str:
            plan = plan_query(con, ["antal_borgere"], by)
            plan.population = True
            return dfdg_sql(plan)[0]
    finally:
        con.close()
    by_month_and_municipality = sql(["maaned", "kommunekode"])
    assert "fct_borger_maaned" in by_month_and_municipality
    assert "fct_visitation_uge" not in by_month_and_municipality
    # one row per citizen in a group of one month and one municipality: rows are citizens
    assert "count(*) AS antal_borgere" in by_month_and_municipality
    assert "count(DISTINCT" in sql(["maaned"]) and "count(DISTINCT" in sql(["aar", "kommunekode"])
    for by in (["uge"], ["maaned", "visitationskategori"], ["aktiveringstype"], ["cpr"]):
        assert "fct_borger_maaned" not in sql(by), by


def test_catalogue_shows_the_population_only_when_it_holds_every_month(generated_loaded, tmp_path):
    root = clone_root(generated_loaded.root, tmp_path / "data")
    wh = Warehouse(root.warehouse)
    months = wh.partitions("fct_borger_maaned")
    assert months == wh.partitions("fct_visitation_uge") and len(months) >= 3
    before = _answer(root, population=False, measures=["antal_borgere"], by=["maaned"])
    # a warehouse rolled out before the table existed: one month missing
    first = wh.read("fct_borger_maaned", [months[0]])
    shutil.rmtree(wh.table_dir("fct_borger_maaned"))
    wh.write_many({("fct_borger_maaned", months[0]): first})
    assert "fct_borger_maaned" not in wh.refresh_catalogue(root.catalogue)
    con, _ = open_catalogue(root)
    try:
        assert "fct_borger_maaned" not in catalogue_names(con)
    finally:
        con.close()
    from dfdg_assets.cubes.query import query_dfdg

    assert_frame_equal(query_dfdg(root, ["antal_borgere"], ["maaned"]), before)


# ---------------------------------------------------------------- citizens by benefit
BENEFIT_QUERIES = [
    {"measures": ["antal_borgere"], "by": ["maaned", "beskaeftigelsesydelse"], "fra": "2020-01"},
    {"measures": ["antal_borgere"], "by": ["beskaeftigelsesydelse"], "til": "2020-06"},
    {
        "measures": ["antal_borgere", "gns_refusionsprocent"],
        "by": ["maaned", "beskaeftigelsesydelse"],
    },
    {
        "measures": ["antal_borgere"],
        "by": ["maaned"],
        "where": {"beskaeftigelsesydelse": ["Kontanthjælp", "Uden ydelse i YR"]},
    },
    {"measures": ["antal_borgere"], "by": []},
    {"measures": ["antal_borgere"], "by": ["uge"]},
]
#: the table each way reads the citizens from
PATHS = {
    "months": "fct_borger_ydelse_maaned",
    "weeks": "fct_borger_ydelse_uge",
    "facts": "fct_visitation_uge",
}


def _benefit_answer(root, path: str, **kw) -> tuple[pl.DataFrame, str]:
    con, _ = open_catalogue(root)
    try:
        plan = plan_query(con, cube="ydelsesaktivitet", **kw)
        plan.population = False  # the monthly population table is another test's business
        plan.benefit_months = path == "months"
        plan.benefit_weeks = path != "facts"
        sql, params = dfdg_sql(plan)
        df = pl.DataFrame(con.sql(sql, params=params)).select([*plan.by, *plan.measures])
        return df, sql
    finally:
        con.close()


@pytest.mark.parametrize("query", BENEFIT_QUERIES, ids=lambda q: ",".join(q["by"]) or "total")
def test_citizens_by_benefit_from_the_benefit_tables_as_from_the_weekly_facts(
    generated_loaded, query
):
    root = generated_loaded.root
    assert "fct_borger_ydelse_maaned" in catalogue_names(open_catalogue(root)[0])
    via_facts, sql = _benefit_answer(root, "facts", **query)
    assert PATHS["facts"] in sql
    assert via_facts.height > 0 and via_facts["antal_borgere"].sum() > 0
    for path in ("weeks", "months"):
        answer, sql = _benefit_answer(root, path, **query)
        expected = PATHS["weeks"] if path == "months" and "uge" in query["by"] else PATHS[path]
        assert expected in sql and "fct_visitation_uge" not in sql, (path, query)
        assert_frame_equal(answer, via_facts)


def test_citizens_by_month_and_benefit_are_rows_of_the_monthly_table(generated_loaded):
    sql = _benefit_answer(
        generated_loaded.root, "months", measures=["antal_borgere"],
        by=["maaned", "beskaeftigelsesydelse"],
    )[1]  # fmt: skip
    assert "count(*) AS antal_borgere" in sql
    # a citizen with two benefits in a month is one citizen of the month
    sql = _benefit_answer(
        generated_loaded.root, "months", measures=["antal_borgere"], by=["maaned"]
    )[1]
    assert "count(DISTINCT" in sql


def test_citizens_by_benefit_and_municipality_or_course_join_the_weekly_facts(generated_loaded):
    for kw in (
        {"by": ["maaned", "beskaeftigelsesydelse"], "kommune": SAMPLE_KOMMUNER[0]},
        {"by": ["beskaeftigelsesydelse", "kommunekode"]},
        {"by": ["beskaeftigelsesydelse", "visitationskategori"]},
        {"by": ["beskaeftigelsesydelse", "kvartal"]},
    ):
        _, sql = _benefit_answer(generated_loaded.root, "months", measures=["antal_borgere"], **kw)
        assert "fct_visitation_uge" in sql or "fct_aktivitet_uge" in sql, kw
