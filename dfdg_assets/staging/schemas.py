"""Columns and schemas of the staging tables (no Dagster import: shared by facts and queries)."""

from __future__ import annotations

import polars as pl

from dfdg_assets.core.schemas import table_schema
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.rows import raw_schema

WEEK_COLS = {"uge": pl.String(), "maaned": pl.String(), "kvartal": pl.String(), "aar": pl.Int32()}


def staging_schema(name: str) -> dict[str, pl.DataType]:
    """Columns of a staging table: the raw columns with cpr replaced by borger_key."""
    cols = raw_schema(contract.FILES_BY_NAME[name])
    out: dict[str, pl.DataType] = {}
    for c, t in cols.items():
        if c == "cpr":
            out["borger_key"] = pl.Int64()
        else:
            out[c] = t
    return out


COURSE_COLS: dict[str, pl.DataType] = {
    "forloeb_id": pl.String(),
    "borger_key": pl.Int64(),
    "kommunekode": pl.Int32(),
    "startdato": pl.Date(),
    "slutdato": pl.Date(),
    "ydelsesgruppe": pl.String(),
    "visitationskategori": pl.String(),
    "visiterende_org_id": pl.String(),
}
COURSE_NULLABLE = {"visiterende_org_id", "visitationskategori"}


def course_schema():
    return table_schema(
        "stg_visitationsforloeb",
        {c: (t, c in COURSE_NULLABLE) for c, t in COURSE_COLS.items()},
        unique=["forloeb_id"],
    )
