"""The benchmark's unsuppressed counts of a range of months with DuckDB SQL.

The same numbers, rows and types as `rules.benefits.benchmark_counts` called month by month (the
tests compare the two on the worked example and a generated sample), but read straight from
each month's Parquet partitions (only the columns needed) by one DuckDB query per month
(`sql/cube_benchmark_counts.sql`): the citizen-weeks' group memberships are made distinct
before they are counted, with integer breakdown numbers. The zero-filled grid of every
municipality and Hele landet and the 16-66 population are added for all months at once in
polars (a few thousand rows per month).

No Dagster import here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import polars as pl

from dfdg_assets.rules.benefits import COUNTS, HELE_LANDET
from dfdg_assets.sql import ident, literal, template

__all__ = ["SOURCES", "benchmark_counts_months"]

#: The views the SQL reads, the columns each needs and their types (a month without the
#: table's partition reads an empty relation of these columns).
SOURCES: dict[str, dict[str, str]] = {
    "ydelse": {
        "borger_key": "BIGINT",
        "uge": "VARCHAR",
        "kommunekode": "INTEGER",
        "beskaeftigelsesydelse": "VARCHAR",
    },
    "aktivitet": {
        "borger_key": "BIGINT",
        "uge": "VARCHAR",
        "aktivitet_id": "VARCHAR",
        "aktiveringstype": "VARCHAR",
    },
    "visitation": {"borger_key": "BIGINT", "uge": "VARCHAR", "visitationskategori": "VARCHAR"},
}
#: The SQL's breakdown numbers.
BREAKDOWN_NAMES = ["", "beskaeftigelsesydelse", "aktiveringstype", "visitationskategori"]
_OUT = ["maaned", "kommune", "kommunenavn", "breakdown", "breakdown_vaerdi", *COUNTS]
_KEY = ["maaned", "kommune", "breakdown", "breakdown_vaerdi"]


def _source_sql(name: str, paths: Sequence[Path | str]) -> str:
    """One month's view of a source: its files, only the needed columns."""
    cols = SOURCES[name]
    if not paths:
        typed = ", ".join(f"CAST(NULL AS {t}) AS {ident(c)}" for c, t in cols.items())
        return f"SELECT {typed} WHERE FALSE"
    files = ", ".join(literal(str(f)) for f in paths)
    return f"SELECT {', '.join(ident(c) for c in cols)} FROM read_parquet([{files}])"


def _month_counts(
    con: duckdb.DuckDBPyConnection, month: str, files: Mapping[str, Sequence[Path | str]]
) -> pl.DataFrame:
    """The counts of one month with YR rows (kommune, breakdown, value, three counts)."""
    for name in SOURCES:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {ident(name)} AS {_source_sql(name, files[name])}"
        )
    df = pl.DataFrame(con.sql(template("cube_benchmark_counts")))
    if df.height == 0:
        df = pl.DataFrame(
            schema={
                "kommunekode": pl.Int32,
                "breakdown": pl.Int32,
                "breakdown_vaerdi": pl.String,
                **{c: pl.Int64 for c in COUNTS[1:]},
            }
        )
    return df.select(
        pl.lit(month).alias("maaned"),
        pl.when(pl.col("kommunekode").is_null())
        .then(pl.lit(HELE_LANDET))
        .otherwise(pl.col("kommunekode").cast(pl.String).str.zfill(3))
        .alias("kommune"),
        pl.col("breakdown")
        .replace_strict(list(range(len(BREAKDOWN_NAMES))), BREAKDOWN_NAMES, return_dtype=pl.String)
        .alias("breakdown"),
        pl.col("breakdown_vaerdi").cast(pl.String),
        *(pl.col(c).cast(pl.Int64) for c in COUNTS[1:]),
    )


def _grid(months: Sequence[str], counts: pl.DataFrame, kommuner: pl.DataFrame) -> pl.DataFrame:
    """Every (breakdown, value) seen in a month, for every municipality and Hele landet, zeros
    filled (as `rules.benefits._every_cell`, per month)."""
    names = pl.concat(
        [
            kommuner.select(
                pl.col("kommunekode").cast(pl.String).str.zfill(3).alias("kommune"),
                "kommunenavn",
            ),
            pl.DataFrame({"kommune": [HELE_LANDET], "kommunenavn": [HELE_LANDET]}),
        ]
    )
    totals = pl.DataFrame(
        {"maaned": list(months), "breakdown": "", "breakdown_vaerdi": ""},
        schema={"maaned": pl.String, "breakdown": pl.String, "breakdown_vaerdi": pl.String},
    )
    cells = pl.concat(
        [counts.select("maaned", "breakdown", "breakdown_vaerdi"), totals], how="vertical_relaxed"
    ).unique()
    return (
        cells.join(names, how="cross")
        .join(counts, on=_KEY, how="left")
        .with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in COUNTS[1:])
    )


def _population(
    months: Sequence[str], residents: Mapping[str, pl.DataFrame | None]
) -> pl.DataFrame:
    """(maaned, kommune, antal_borgere_16_66) of the months with their delivery, Hele landet the
    sum; a month without its delivery is absent (its count stays null)."""
    frames = []
    for m in months:
        per = residents.get(m)
        if per is None:
            continue
        per = per.select(
            pl.col("kommunekode").cast(pl.String).str.zfill(3).alias("kommune"),
            pl.col("antal_borgere_16_66").cast(pl.Int64),
        )
        national = int(per["antal_borgere_16_66"].sum() or 0)
        per = pl.concat(
            [per, pl.DataFrame({"kommune": [HELE_LANDET], "antal_borgere_16_66": [national]})]
        )
        frames.append(per.with_columns(pl.lit(m).alias("maaned")))
    schema = {"kommune": pl.String, "antal_borgere_16_66": pl.Int64, "maaned": pl.String}
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def benchmark_counts_months(
    months: Sequence[str],
    sources: Mapping[str, Mapping[str, Sequence[Path | str]]],
    residents_16_66: Mapping[str, pl.DataFrame | None],
    kommuner: pl.DataFrame,
    *,
    threads: int | None = None,
    memory_limit: str = "2GB",
) -> dict[str, pl.DataFrame]:
    """The benchmark's unsuppressed counts for each month of `months`, as
    `rules.benefits.benchmark_counts(month, ...)` gives them (same rows, order and types).

    sources: for each of `SOURCES` (`ydelse` = stg_ydelse, `aktivitet` = fct_aktivitet_uge,
    `visitation` = fct_visitation_uge), the Parquet files of each month (a month without files
    has no rows); residents_16_66: per month kommunekode, antal_borgere_16_66, or None when the
    month's delivery is missing; kommuner: kommunekode, kommunenavn (all 98).
    """
    months = sorted(set(months))
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = {literal(memory_limit)}")
        con.execute("SET preserve_insertion_order = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        # one query per month: the hash tables of one month stay small (cache-friendly), and a
        # week's citizen-weeks, activities and courses are all in its month's partitions
        counts = pl.concat(
            [
                _month_counts(con, m, {n: sources.get(n, {}).get(m, ()) for n in SOURCES})
                for m in months
            ]
        )
    finally:
        con.close()
    out = _grid(months, counts, kommuner)
    pop = _population(months, residents_16_66)
    known = [m for m in months if residents_16_66.get(m) is not None]
    out = out.join(pop, on=["maaned", "kommune"], how="left").with_columns(
        pl.when((pl.col("breakdown") == "") & pl.col("maaned").is_in(known))
        .then(pl.col("antal_borgere_16_66").fill_null(0))
        .otherwise(None)
        .cast(pl.Int64)
        .alias("antal_borgere_16_66")
    )
    out = out.select(_OUT).sort("maaned", "breakdown", "breakdown_vaerdi", "kommune")
    parts = out.partition_by("maaned", as_dict=True, maintain_order=True)
    empty = out.clear()
    return {m: parts.get((m,), empty) for m in months}
