"""YR benefits (R3 for citizen-weeks, R8), the 16-66 population (R9) and the benchmark counts,
as pure polars functions.

The benchmark counts here are the raw (unsuppressed) counts; disclosure control happens after.
"""

from __future__ import annotations

import polars as pl

from dfdg_assets.core.cpr import age_on_expr, birth_date_expr
from dfdg_assets.core.weeks import month_last_day

UDEN_YDELSE = "Uden ydelse i YR"
HELE_LANDET = "Hele landet"
BREAKDOWNS = ("aktiveringstype", "beskaeftigelsesydelse", "visitationskategori")
COUNTS = (
    "antal_borgere_16_66",
    "antal_ydelsesmodtagere",
    "antal_aktiverede",
    "antal_aktiveringsforloeb",
)


def current_yr_rows(raw_ydelse: pl.LazyFrame, weeks: list[str]) -> pl.LazyFrame:
    """R3 for YR: the rows of the latest delivery carrying each (cpr, uge), for the given weeks.

    Grain: one row per YR row (citizen, week, benefit row) of that delivery; several rows of
    one citizen-week (different benefits, supplements) are all kept.
    """
    rows = raw_ydelse.filter(pl.col("uge").is_in(weeks))
    return rows.filter(pl.col("data_maaned") == pl.col("data_maaned").max().over("cpr", "uge"))


def population_weeks(course_weeks: pl.LazyFrame, activity_weeks: pl.LazyFrame) -> pl.LazyFrame:
    """R9: the DFDG population, one row per (citizen, week) with a course or an activity in force."""
    return pl.concat(
        [course_weeks.select("borger_key", "uge"), activity_weeks.select("borger_key", "uge")]
    ).unique()


def citizen_week_benefits(population: pl.LazyFrame, yr: pl.LazyFrame) -> pl.LazyFrame:
    """R8: each DFDG citizen-week with the benefit(s) of its YR rows, or 'Uden ydelse i YR'.

    Grain: one row per (citizen, week, benefit).
    """
    benefits = yr.select("borger_key", "uge", "beskaeftigelsesydelse").unique()
    return (
        population.join(benefits, on=["borger_key", "uge"], how="left")
        .with_columns(pl.col("beskaeftigelsesydelse").fill_null(UDEN_YDELSE))
        .unique()
    )


def population_16_66(residents: pl.LazyFrame, month: str) -> pl.LazyFrame:
    """R9: residents of the month's snapshot aged 16..66 on its last day, per municipality.

    Age in completed years from the CPR birth date (a 29 February birthday is reached on 1 March).
    """
    last = month_last_day(month)
    return (
        residents.with_columns(age_on_expr(birth_date_expr(pl.col("cpr")), last).alias("alder"))
        .filter(pl.col("alder").is_between(16, 66))
        .group_by("kommunekode")
        .agg(pl.len().cast(pl.Int64).alias("antal_borgere_16_66"))
    )


def _counts(yr_weeks: pl.LazyFrame, acts: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """ydelsesmodtagere, aktiverede and aktiveringsforløb of YR citizen-weeks grouped by `by`."""
    recipients = yr_weeks.group_by(by).agg(
        pl.col("borger_key").n_unique().alias("antal_ydelsesmodtagere")
    )
    active = yr_weeks.join(acts, on=["borger_key", "uge"], how="inner")
    activated = active.group_by(by).agg(
        pl.col("borger_key").n_unique().alias("antal_aktiverede"),
        pl.col("aktivitet_id").n_unique().alias("antal_aktiveringsforloeb"),
    )
    return recipients.join(activated, on=by, how="full", coalesce=True)


def benchmark_counts(
    month: str,
    yr: pl.DataFrame,
    activity_weeks: pl.DataFrame,
    course_weeks: pl.DataFrame,
    residents_16_66: pl.DataFrame | None,
    kommuner: pl.DataFrame,
) -> pl.DataFrame:
    """The benchmark's unsuppressed counts for one month (SPEC section 4, benchmark).

    yr: borger_key, uge, kommunekode, beskaeftigelsesydelse (the month's weeks);
    activity_weeks: borger_key, uge, aktivitet_id, aktiveringstype;
    course_weeks: borger_key, uge, visitationskategori;
    residents_16_66: kommunekode, antal_borgere_16_66 (None: the month's delivery is missing);
    kommuner: kommunekode, kommunenavn (all 98).

    Grain: one row per (municipality or Hele landet, breakdown, value), plus a total row per
    municipality (breakdown ''). The municipality is the one paying the benefit (the YR row's);
    Hele landet counts each citizen once.
    """
    yr_l = yr.lazy().with_columns(
        pl.col("kommunekode").cast(pl.String).str.zfill(3).alias("kommune")
    )
    acts = activity_weeks.lazy().select("borger_key", "uge", "aktivitet_id", "aktiveringstype")
    courses = course_weeks.lazy().select("borger_key", "uge", "visitationskategori").unique()
    cw = yr_l.select("borger_key", "uge", "kommune").unique()
    national = cw.with_columns(pl.lit(HELE_LANDET).alias("kommune")).unique()
    frames: list[pl.LazyFrame] = []
    for weeks in (cw, national):
        total = _counts(weeks, acts, ["kommune"]).with_columns(
            pl.lit("").alias("breakdown"), pl.lit("").alias("breakdown_vaerdi")
        )
        frames.append(total)
        # with a YR row of that benefit (the benefit's own paying municipality)
        benefit_rows = (
            yr_l.select("borger_key", "uge", "kommune", "beskaeftigelsesydelse")
            if weeks is cw
            else yr_l.select(
                "borger_key", "uge", pl.lit(HELE_LANDET).alias("kommune"), "beskaeftigelsesydelse"
            )
        ).unique()
        frames.append(
            _counts(
                benefit_rows.rename({"beskaeftigelsesydelse": "breakdown_vaerdi"}),
                acts,
                ["kommune", "breakdown_vaerdi"],
            ).with_columns(pl.lit("beskaeftigelsesydelse").alias("breakdown"))
        )
        # in a YR week with an activity of that type in force (any municipality)
        typed = weeks.join(acts, on=["borger_key", "uge"], how="inner")
        frames.append(
            typed.group_by("kommune", pl.col("aktiveringstype").alias("breakdown_vaerdi"))
            .agg(
                pl.col("borger_key").n_unique().alias("antal_ydelsesmodtagere"),
                pl.col("borger_key").n_unique().alias("antal_aktiverede"),
                pl.col("aktivitet_id").n_unique().alias("antal_aktiveringsforloeb"),
            )
            .with_columns(pl.lit("aktiveringstype").alias("breakdown"))
        )
        # in a YR week with a course of that category in force
        categorised = weeks.join(courses, on=["borger_key", "uge"], how="inner").rename(
            {"visitationskategori": "breakdown_vaerdi"}
        )
        frames.append(
            _counts(categorised, acts, ["kommune", "breakdown_vaerdi"]).with_columns(
                pl.lit("visitationskategori").alias("breakdown")
            )
        )
    cols = [
        "kommune",
        "breakdown",
        "breakdown_vaerdi",
        "antal_ydelsesmodtagere",
        "antal_aktiverede",
        "antal_aktiveringsforloeb",
    ]
    counts = pl.concat([f.select(cols) for f in frames], how="vertical_relaxed").collect()

    # every (breakdown, value) for every municipality and Hele landet, zeros filled
    names = kommuner.select(
        pl.col("kommunekode").cast(pl.String).str.zfill(3).alias("kommune"), "kommunenavn"
    )
    names = pl.concat(
        [names, pl.DataFrame({"kommune": [HELE_LANDET], "kommunenavn": [HELE_LANDET]})]
    )
    cells = counts.select("breakdown", "breakdown_vaerdi").unique()
    cells = pl.concat([cells, pl.DataFrame({"breakdown": [""], "breakdown_vaerdi": [""]})]).unique()
    grid = names.join(cells, how="cross")
    out = grid.join(
        counts, on=["kommune", "breakdown", "breakdown_vaerdi"], how="left"
    ).with_columns([pl.col(c).fill_null(0).cast(pl.Int64) for c in COUNTS[1:]])
    if residents_16_66 is None:
        pop = pl.lit(None, pl.Int64)
        out = out.with_columns(pop.alias("antal_borgere_16_66"))
    else:
        per = residents_16_66.select(
            pl.col("kommunekode").cast(pl.String).str.zfill(3).alias("kommune"),
            pl.col("antal_borgere_16_66").cast(pl.Int64),
        )
        per = pl.concat(
            [
                per,
                pl.DataFrame(
                    {
                        "kommune": [HELE_LANDET],
                        "antal_borgere_16_66": [int(per["antal_borgere_16_66"].sum() or 0)],
                    }
                ),
            ]
        )
        out = out.join(per, on="kommune", how="left").with_columns(
            pl.when(pl.col("breakdown") == "")
            .then(pl.col("antal_borgere_16_66").fill_null(0))
            .otherwise(None)
            .alias("antal_borgere_16_66")
        )
    return (
        out.with_columns(pl.lit(month).alias("maaned"))
        .select("maaned", "kommune", "kommunenavn", "breakdown", "breakdown_vaerdi", *COUNTS)
        .sort("maaned", "breakdown", "breakdown_vaerdi", "kommune")
    )
