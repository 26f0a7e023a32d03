"""What both sides of `dfdg bench` (the parent in `perf.run`, the children in `perf.children`)
agree on: file markers, engines, the group table of the agreement check, the timed query."""

from __future__ import annotations

from typing import Any

BENCH_SECRET = b"dfdg-bench-secret-not-for-production"
INBOX_MARKER = ".bench-args.json"
PREP_MARKER = ".prep.json"
PREP_VERSION = 1
FACT = "fct_visitation_uge"
ENGINES = (
    "product",
    "sql",
    "pandas",
    "product-mem",
    "product-agg",
    "sql-agg",
    "product-asset",
    "product-month",
)
#: engines run at the pandas size (with pandas itself)
PANDAS_SIZE_ENGINES = ("product", "sql", "pandas", "product-mem")
GROUP_KEYS = ["maaned", "visitationskategori", "kommunekode"]
SOURCE_ORDER = ["kommunekode", "borger_key", "startdato", "forloeb_id"]  # as the asset: sorted once
QUERY_MEASURES = ["antal_borgere", "antal_visitationsforloeb"]
QUERY_BY = ["maaned", "visitationskategori"]


def canonical_schema() -> dict[str, Any]:
    """The one schema every engine's rows are cast to before they are hashed."""
    import polars as pl

    return {
        "forloeb_id": pl.String,
        "borger_key": pl.Int64,
        "uge": pl.String,
        "maaned": pl.String,
        "kvartal": pl.String,
        "aar": pl.Int32,
        "kommunekode": pl.Int32,
        "ydelsesgruppe": pl.String,
        "visitationskategori": pl.String,
        "visiterende_org_id": pl.String,
    }


def group_exprs() -> list[Any]:
    """The figures of one group: rows, distinct citizens, distinct courses."""
    import polars as pl

    return [
        pl.len().cast(pl.Int64).alias("rows"),
        pl.col("borger_key").n_unique().cast(pl.Int64).alias("borgere"),
        pl.col("forloeb_id").n_unique().cast(pl.Int64).alias("forloeb"),
    ]


def empty_groups() -> Any:
    """The group table with no groups (its columns and types)."""
    import polars as pl

    return pl.DataFrame(
        schema={
            "maaned": pl.String,
            "visitationskategori": pl.String,
            "kommunekode": pl.Int32,
            "rows": pl.Int64,
            "borgere": pl.Int64,
            "forloeb": pl.Int64,
        }
    )
