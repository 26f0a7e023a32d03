"""Property tests of R4-R7 (hypothesis).

Random histories are checked against a small, obviously correct reference written here with
plain Python loops over days and weeks; the DuckDB SQL and pandas reference implementations
must give the same rows as the polars rules; rolling out month by month equals all at once;
and a month's distinct citizen count is a distinct count over its weeks, not a sum.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfdg_assets.core.weeks import OPEN_END, months_between, rollout_end, week_label, weeks_of_month
from dfdg_assets.perf.rollout_pandas import course_weeks_pandas
from dfdg_assets.perf.rollout_sql import course_weeks_sql, courses_sql
from dfdg_assets.rules import (
    COURSE_COLUMNS,
    COURSE_WEEK_COLUMNS,
    activity_weeks,
    build_courses,
    conversation_weeks,
    course_weeks,
)
from dfdg_assets.rules.benefits import current_yr_rows
from dfdg_assets.rules.rollout import reaching

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BASE = dt.date(2019, 6, 1)
SPAN = 730
ALL_MONTHS = months_between("2019-05", "2021-07")  # a little wider than the data on both sides
CATEGORIES = ["Jobparat", "Aktivitetsparat", "Ikke visiteret", "Afmeldt", "Afmeldt"]

VIS_SCHEMA = {
    "visitation_id": pl.String,
    "borger_key": pl.Int64,
    "kommunekode": pl.Int32,
    "visitationstidspunkt": pl.Datetime("us"),
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
}
SAMTALE_SCHEMA = {
    "samtale_id": pl.String,
    "borger_key": pl.Int64,
    "kommunekode": pl.Int32,
    "samtaledato": pl.Date,
    "samtalestatus": pl.String,
}

# --- strategies ------------------------------------------------------------------------------

day_offsets = st.one_of(st.integers(0, SPAN), st.sampled_from([100, 101, 107, 108, 400]))
times = st.one_of(
    st.sampled_from([dt.time(9, 0), dt.time(9, 0), dt.time(13, 30)]),
    st.times(),
)

visit_row = st.tuples(
    st.integers(0, 300),  # id number: "V9" vs "V10" ordering as text matters
    st.integers(1, 4),  # borger_key
    st.sampled_from([101, 147, 751]),
    day_offsets,
    times,
    st.sampled_from(CATEGORIES),
    st.sampled_from(["Kontanthjælp", "Dagpenge"]),
    st.sampled_from([None, "JC1", "JC2"]),
)
visit_histories = st.lists(visit_row, max_size=18, unique_by=lambda r: r[0])

activity_row = st.tuples(
    st.integers(1, 4),
    st.sampled_from([101, 147]),
    day_offsets,
    st.one_of(st.none(), st.integers(0, 90)),  # duration; None = ongoing
    st.sampled_from(["Virksomhedspraktik", "Løntilskud"]),
)
activity_lists = st.lists(activity_row, max_size=10)

conversation_row = st.tuples(
    st.integers(1, 4), day_offsets, st.sampled_from(["Afholdt", "Planlagt", "Aflyst"])
)

month_subsets = st.lists(st.sampled_from(ALL_MONTHS), min_size=1, max_size=6, unique=True)


def visitations_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "visitation_id": f"V{r[0]}",
                "borger_key": r[1],
                "kommunekode": r[2],
                "visitationstidspunkt": dt.datetime.combine(BASE + dt.timedelta(r[3]), r[4]),
                "visitationskategori": r[5],
                "ydelsesgruppe": r[6],
                "visiterende_org_id": r[7],
            }
            for r in rows
        ],
        schema=VIS_SCHEMA,
    )


def activities_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "aktivitet_id": f"A{i}",
                "borger_key": r[0],
                "kommunekode": r[1],
                "startdato": BASE + dt.timedelta(r[2]),
                "slutdato": None if r[3] is None else BASE + dt.timedelta(r[2] + r[3]),
                "aktiveringstype": r[4],
            }
            for i, r in enumerate(rows)
        ],
        schema=ACT_SCHEMA,
    )


# --- the obviously correct reference ---------------------------------------------------------


def ref_courses(vis: pl.DataFrame) -> list[dict]:
    by_citizen_day: dict[tuple, dict] = {}
    for v in vis.iter_rows(named=True):
        key = (v["borger_key"], v["visitationstidspunkt"].date())
        best = by_citizen_day.get(key)
        if best is None or (v["visitationstidspunkt"], v["visitation_id"]) > (
            best["visitationstidspunkt"],
            best["visitation_id"],
        ):
            by_citizen_day[key] = v
    out = []
    for borger in {k[0] for k in by_citizen_day}:
        days = sorted(k[1] for k in by_citizen_day if k[0] == borger)
        for i, day in enumerate(days):
            v = by_citizen_day[(borger, day)]
            if v["visitationskategori"] == "Afmeldt":
                continue
            out.append(
                {
                    "forloeb_id": v["visitation_id"],
                    "borger_key": borger,
                    "kommunekode": v["kommunekode"],
                    "startdato": day,
                    "slutdato": days[i + 1] if i + 1 < len(days) else OPEN_END,
                    "ydelsesgruppe": v["ydelsesgruppe"],
                    "visitationskategori": v["visitationskategori"],
                    "visiterende_org_id": v["visiterende_org_id"],
                }
            )
    return out


def ref_weeks(months: list[str]) -> list[tuple[str, str, list[dt.date]]]:
    """(uge, maaned, the seven days) for every week of `months`."""
    return [
        (week_label(monday), m, [monday + dt.timedelta(i) for i in range(7)])
        for m in months
        for monday in weeks_of_month(m)
    ]


def week_attrs(uge: str, maaned: str) -> tuple:
    year, month = int(maaned[:4]), int(maaned[5:7])
    return (uge, maaned, f"{year}K{(month - 1) // 3 + 1}", year)


def ref_course_weeks(courses: list[dict], months: list[str]) -> list[tuple]:
    out = []
    for c in courses:
        for uge, maaned, days in ref_weeks(months):
            if any(c["startdato"] <= day < c["slutdato"] for day in days):
                out.append(
                    (c["forloeb_id"], c["borger_key"], *week_attrs(uge, maaned))
                    + (
                        c["kommunekode"],
                        c["ydelsesgruppe"],
                        c["visitationskategori"],
                        c["visiterende_org_id"],
                    )
                )
    return out


def ref_activity_weeks(acts: pl.DataFrame, months: list[str]) -> list[tuple]:
    last_day = rollout_end(max(months))
    out = []
    for a in acts.iter_rows():
        start, end = a[3], a[4] if a[4] is not None else last_day
        for uge, maaned, days in ref_weeks(months):
            n = sum(start <= day <= end for day in days)
            if n:
                out.append((*a, *week_attrs(uge, maaned), n))
    return out


def rows_of(frame: pl.DataFrame | pl.LazyFrame) -> list[tuple]:
    df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    return df.sort(df.columns, nulls_last=True).rows()


def as_frame(rows: list[tuple], like: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=like.schema, orient="row")


# --- properties ------------------------------------------------------------------------------


@SETTINGS
@given(visit_histories)
def test_courses_match_reference(rows: list[tuple]) -> None:
    vis = visitations_frame(rows)
    got = build_courses(vis.lazy()).collect()
    assert got.columns == COURSE_COLUMNS
    ref = pl.DataFrame(ref_courses(vis), schema=got.schema)
    assert rows_of(got) == rows_of(ref)
    # chain invariants: per citizen the courses do not overlap, each ends after it starts
    assert got.filter(pl.col("slutdato") <= pl.col("startdato")).is_empty()
    assert rows_of(courses_sql(vis)) == rows_of(got)


@SETTINGS
@given(visit_histories, month_subsets)
def test_course_weeks_match_reference(rows: list[tuple], months: list[str]) -> None:
    vis = visitations_frame(rows)
    got = course_weeks(build_courses(vis.lazy()), months).collect()
    assert got.columns == COURSE_WEEK_COLUMNS
    ref = as_frame(ref_course_weeks(ref_courses(vis), months), got)
    assert rows_of(got) == rows_of(ref)
    # the row-order-dependent same-day rule also holds on the streaming engine
    streamed = course_weeks(build_courses(vis.lazy()), months).collect(engine="streaming")
    assert rows_of(streamed) == rows_of(got)


@SETTINGS
@given(visit_histories, month_subsets)
def test_sql_and_pandas_agree_with_polars(rows: list[tuple], months: list[str]) -> None:
    vis = visitations_frame(rows)
    got = course_weeks(build_courses(vis.lazy()), months).collect()
    sql = course_weeks_sql(vis, months)
    assert sql.columns == COURSE_WEEK_COLUMNS
    assert rows_of(sql.cast(got.schema)) == rows_of(got)  # type: ignore[arg-type]
    pdf = course_weeks_pandas(vis.to_pandas(), months)
    assert list(pdf.columns) == COURSE_WEEK_COLUMNS
    from_pandas = pl.from_pandas(pdf, schema_overrides=got.schema)
    assert rows_of(from_pandas.cast(got.schema)) == rows_of(got)  # type: ignore[arg-type]


@SETTINGS
@given(visit_histories, activity_lists, st.lists(conversation_row, max_size=8), month_subsets)
def test_month_by_month_equals_all_at_once(
    vrows: list[tuple], arows: list[tuple], srows: list[tuple], months: list[str]
) -> None:
    courses = build_courses(visitations_frame(vrows).lazy())
    acts = activities_frame(arows).lazy()
    convs = pl.LazyFrame(
        [
            {
                "samtale_id": f"S{i}",
                "borger_key": r[0],
                "kommunekode": 101,
                "samtaledato": BASE + dt.timedelta(r[1]),
                "samtalestatus": r[2],
            }
            for i, r in enumerate(srows)
        ],
        schema=SAMTALE_SCHEMA,
    )
    for rollout, frame, period in (
        (course_weeks, courses, ("startdato", "slutdato", False)),
        (activity_weeks, acts, ("startdato", "slutdato", True)),
        (conversation_weeks, convs, ("samtaledato", "samtaledato", True)),
    ):
        at_once = rollout(frame, months).collect()
        one_by_one = pl.concat([rollout(frame, [m]).collect() for m in months])
        assert rows_of(one_by_one) == rows_of(at_once)
        assert set(at_once["maaned"]) <= set(months)
        # the history narrowed to what can reach the months once, as the fact assets do
        start, end, inclusive = period
        narrowed = reaching(frame, months, start, end, end_inclusive=inclusive)
        assert rows_of(pl.concat([rollout(narrowed, [m]).collect() for m in months])) == rows_of(
            at_once
        )


@SETTINGS
@given(activity_lists, month_subsets)
def test_activity_weeks_match_reference(rows: list[tuple], months: list[str]) -> None:
    acts = activities_frame(rows)
    got = activity_weeks(acts.lazy(), months).collect()
    assert got.columns == [*ACT_SCHEMA, "uge", "maaned", "kvartal", "aar", "dage_i_uge"]
    ref = as_frame(ref_activity_weeks(acts, months), got)
    assert rows_of(got) == rows_of(ref)
    assert got["dage_i_uge"].is_between(1, 7).all()


@SETTINGS
@given(st.lists(conversation_row, max_size=12), month_subsets)
def test_conversation_weeks_match_reference(rows: list[tuple], months: list[str]) -> None:
    convs = pl.DataFrame(
        [
            {
                "samtale_id": f"S{i}",
                "borger_key": r[0],
                "kommunekode": 101,
                "samtaledato": BASE + dt.timedelta(r[1]),
                "samtalestatus": r[2],
            }
            for i, r in enumerate(rows)
        ],
        schema=SAMTALE_SCHEMA,
    )
    got = conversation_weeks(convs.lazy(), months).collect()
    ref = [
        (*s, *week_attrs(uge, maaned))
        for s in convs.iter_rows()
        if s[4] == "Afholdt"
        for uge, maaned, days in ref_weeks(months)
        if s[3] in days
    ]
    assert rows_of(got) == rows_of(as_frame(ref, got))


@SETTINGS
@given(visit_histories, st.sampled_from(ALL_MONTHS))
def test_month_count_is_distinct_not_sum_of_weeks(rows: list[tuple], month: str) -> None:
    vis = visitations_frame(rows)
    weekly = course_weeks(build_courses(vis.lazy()), [month]).collect()
    month_distinct = weekly["borger_key"].n_unique()
    ref_citizens = {r[1] for r in ref_course_weeks(ref_courses(vis), [month])}
    assert month_distinct == len(ref_citizens)
    per_week = weekly.group_by("uge").agg(pl.col("borger_key").n_unique())
    sum_of_weeks = int(per_week["borger_key"].sum())
    weeks_per_citizen = weekly.group_by("borger_key").agg(pl.col("uge").n_unique())
    spans_several = (weeks_per_citizen["uge"] > 1).any()
    assert (sum_of_weeks != month_distinct) == bool(spans_several)
    assert sum_of_weeks >= month_distinct


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C"]),
            st.sampled_from(["2020-W01", "2020-W02", "2020-W03"]),
            st.sampled_from(["2020-01", "2020-02", "2020-03"]),
            st.integers(0, 3),
        ),
        max_size=25,
    )
)
def test_current_yr_rows_equal_the_latest_delivery_per_citizen_week(rows):
    """R3 for YR against its plain statement: a (cpr, uge) keeps the rows of the latest
    delivery carrying it, all of them."""
    raw = pl.DataFrame(
        rows,
        schema={"cpr": pl.String, "uge": pl.String, "data_maaned": pl.String, "n": pl.Int64},
        orient="row",
    ).with_row_index("row")
    latest = {}
    for _, cpr, uge, month, _n in raw.iter_rows():
        latest[(cpr, uge)] = max(latest.get((cpr, uge), month), month)
    want = sorted(r[0] for r in raw.iter_rows() if r[3] == latest[(r[1], r[2])])
    weeks = ["2020-W01", "2020-W03"]
    got = current_yr_rows(raw.lazy(), weeks).collect()
    assert sorted(got["row"].to_list()) == [
        r for r in want if raw.row(r, named=True)["uge"] in weeks
    ]
