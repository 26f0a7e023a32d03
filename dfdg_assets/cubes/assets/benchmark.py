"""The published benchmark (YdelsesAktivitetBenchmark): one monthly partition per data month from
2020-01 (its own partitions, `benchmark_maaned`, so earlier months are never offered),
disclosure-controlled before it is written, with its publication time and revision.

Publication is blocked twice: the asset refuses to write a month that fails the audit, and the
blocking asset check `afsloeringskontrol` audits everything published."""

import datetime as dt
from typing import cast

import dagster as dg
import polars as pl

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.checks import ERROR, Verdict, month_evaluations
from dfdg_assets.core.partitions import benchmark_months
from dfdg_assets.core.privacy import PersonalDataSafeError
from dfdg_assets.core.publishing import month_metadata
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import table_schema
from dfdg_assets.core.weeks import month_of_key
from dfdg_assets.cubes.benchmark_counts import benchmark_counts_months
from dfdg_assets.cubes.benchmark_query import COLUMNS, COUNTS, FIGURES, TABLE
from dfdg_assets.cubes.disclosure import KEYS, add_key_figures, audit, suppress, suppressed_cells
from dfdg_assets.dimensions import build
from dfdg_assets.facts.benefit_assets import POP_COLS
from dfdg_assets.ingest.contract import YR_FIRST_MONTH
from dfdg_assets.raw.ingest import raw_table
from dfdg_assets.rules.benefits import HELE_LANDET

MEASURES = (*COUNTS, *FIGURES)
KEY = list(KEYS)
#: The tables the counts read, by the name of their view in `sql/cube_benchmark_counts.sql`.
SOURCE_TABLES = {
    "ydelse": "stg_ydelse",
    "aktivitet": "fct_aktivitet_uge",
    "visitation": "fct_visitation_uge",
}
SCHEMA = table_schema(
    TABLE,
    {c: (t, c in MEASURES) for c, t in COLUMNS.items()},
    unique=KEY,
)


class PublicationBlocked(PersonalDataSafeError):
    """The disclosure audit failed: the month is not published."""


def publishable(month: str, counts: pl.DataFrame) -> pl.DataFrame:
    """Suppress and add key figures; raise PublicationBlocked if the audit finds anything."""
    table = add_key_figures(suppress(counts))
    problems = audit(table)
    if problems:
        shown = "; ".join(problems[:5])
        raise PublicationBlocked(
            f"Benchmark {month} ikke offentliggjort: {len(problems)} brud på diskretionsreglerne ({shown})"
        )
    return table


def with_revision(
    table: pl.DataFrame, previous: pl.DataFrame | None, now: dt.datetime
) -> pl.DataFrame:
    """Keep the previous publication time and revision when nothing changed; else revision + 1."""
    data_cols = [c for c in COLUMNS if c not in ("publiceret", "revision")]
    current = table.select(data_cols).sort(KEY)
    if previous is not None and previous.height:
        if previous.select(data_cols).sort(KEY).equals(current):
            return previous.select(list(COLUMNS)).sort(KEY)
        revision = int(cast(int, previous["revision"].max()) or 0) + 1
    else:
        revision = 1
    return current.with_columns(
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("publiceret"),
        pl.lit(revision, pl.Int32).alias("revision"),
    ).select(list(COLUMNS))


def month_counts(wh, months: list[str]) -> dict[str, pl.DataFrame]:
    """The unsuppressed counts of each month, from the months' partitions of YR, activities,
    courses and the 16-66 population (DuckDB SQL, only the columns needed; the same numbers as
    `rules.benefits.benchmark_counts` month by month)."""
    sources = {
        name: {m: [wh.partition_file(table, m)] for m in months if wh.has(table, m)}
        for name, table in SOURCE_TABLES.items()
    }
    residents = {
        m: wh.read("fct_befolkning_16_66", [m], schema=POP_COLS)
        if wh.has(raw_table("borger"), m)
        else None
        for m in months
    }
    return benchmark_counts_months(months, sources, residents, build.dim_kommune())


@warehouse_asset(
    TABLE,
    "cubes",
    # its own months (from 2020-01), each mapped to the same data month of the facts
    deps=[
        *(
            dg.AssetDep(name, partition_mapping=dg.IdentityPartitionMapping())
            for name in (
                "stg_ydelse",
                "fct_aktivitet_uge",
                "fct_visitation_uge",
                "fct_befolkning_16_66",
            )
        ),
        "dim_kommune",
    ],
    partitioned=benchmark_months,
    lead="YdelsesAktivitetBenchmark across all 98 municipalities (from 2020-01).",
)
def cube_benchmark(
    context: dg.AssetExecutionContext, data_root: DataRootResource
) -> dg.MaterializeResult:
    """Counts per paying municipality and Hele landet, suppressed (primary 1-4, secondary so no
    linked line has exactly one hidden cell), key figures with numerator and denominator."""
    wh = data_root.warehouse
    now = dt.datetime.now(dt.UTC)
    months = [month_of_key(k) for k in context.partition_keys]
    counts = month_counts(wh, [m for m in months if m >= YR_FIRST_MONTH])
    frames: dict[str, pl.DataFrame] = {}
    for m in months:
        if m not in counts:
            frames[m] = pl.DataFrame(schema=COLUMNS)
            continue
        previous = wh.read(TABLE, [m]) if wh.has(TABLE, m) else None
        frames[m] = with_revision(publishable(m, counts[m]), previous, now)
    data_root.publish({(TABLE, m): SCHEMA.validate(df) for m, df in frames.items()})
    for m, df in frames.items():
        month_metadata(context, m, month_summary(df))
    return dg.MaterializeResult()


def preview(df: pl.DataFrame, rows: int = 8) -> str:
    """Markdown of the month's Hele landet rows: aggregates only (`..` = suppressed)."""
    land = df.filter(pl.col("kommune") == HELE_LANDET).sort("breakdown", "breakdown_vaerdi")
    cols = ["breakdown", "breakdown_vaerdi", *COUNTS[1:], "aktiveringsgrad", "forloeb_pr_aktiveret"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in land.head(rows).iter_rows(named=True):
        cells = []
        for c in cols:
            v = r[c]
            if c in MEASURES and r[f"{c}_undertrykt"]:
                cells.append("..")
            elif v is None:
                cells.append("")
            elif c == "aktiveringsgrad":
                cells.append(f"{v * 100:.1f} %")
            elif c == "forloeb_pr_aktiveret":
                cells.append(f"{v:.2f}")
            else:
                cells.append(str(v) or "(i alt)")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def month_summary(df: pl.DataFrame) -> dict:
    """The metadata of one published month: its rows, suppressed cells, revision, a preview."""
    meta: dict = {"dagster/row_count": df.height, "undertrykte_celler": suppressed_cells(df)}
    if df.height:
        meta["revision"] = int(cast(int, df["revision"].max()) or 0)
        meta["forhaandsvisning"] = dg.MetadataValue.md(preview(df))
    return meta


def audit_published(wh, months: list[str]) -> dict[str, Verdict]:
    """Audit each published month against the disclosure rules (where and which rule, never a
    value). ERROR: a month that shows what must be hidden must be withdrawn or republished."""
    out = {}
    for m in months:
        table = wh.read(TABLE, [m], schema=COLUMNS) if wh.has(TABLE, m) else None
        if table is None:
            continue  # nothing published for the month: nothing to audit
        problems = audit(table.drop("publiceret", "revision")) if table.height else []
        out[m] = Verdict(
            passed=not problems,
            severity=ERROR,
            description=None
            if not problems
            else f"{m}: {len(problems)} brud på diskretionsreglerne",
            metadata={
                "maaned": m,
                "brud": len(problems),
                "eksempler": dg.MetadataValue.md(
                    "\n".join(f"- {p}" for p in problems[:20]) or "ingen"
                ),
            },
        )
    return out


@dg.asset_check(
    asset=cube_benchmark,
    blocking=True,
    partitions_def=cube_benchmark.partitions_def,
    description="Per month, blocking (ERROR): audits the published benchmark against the disclosure rules (no count 1-4 shown, no linked line with exactly one suppressed cell, key figures hidden with their parts).",
)
def afsloeringskontrol(context: dg.AssetCheckExecutionContext, data_root: DataRootResource):
    months = [month_of_key(k) for k in context.op_execution_context.partition_keys]
    verdicts = audit_published(data_root.warehouse, months)
    yield from month_evaluations(context, TABLE, "afsloeringskontrol", verdicts)
