"""Staging assets: the current version of each record across all deliveries (R3), CPR replaced
by the citizen's surrogate key. Unpartitioned: the current state spans every delivery month."""

import dagster as dg
import polars as pl

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.cpr import surrogate_keys
from dfdg_assets.core.publishing import publish_table
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import table_schema
from dfdg_assets.ingest import contract
from dfdg_assets.raw.ingest import raw_table, versions
from dfdg_assets.rules.courses import build_courses
from dfdg_assets.staging.schemas import COURSE_COLS, course_schema, staging_schema
from dfdg_assets.staging.versions import current_participants, latest_version, with_borger_key

RECORD_KEYS = contract.RECORD_KEYS


def scan_staging(data_root: DataRootResource, name: str) -> pl.LazyFrame:
    """A staging table of one record type without its delivery columns (data month, line)."""
    cols = staging_schema(name)
    return data_root.warehouse.scan(f"stg_{name}", schema=cols).drop("data_maaned", "linje")


def staging_table_schema(name: str, key: list[str] | None):
    spec = contract.FILES_BY_NAME[name]
    nullable = {c.name for c in spec.columns if c.nullable}
    return table_schema(
        f"stg_{name}",
        {c: (t, c in nullable) for c, t in staging_schema(name).items()},
        unique=key,
    )


def build_record_staging(wh, name: str) -> pl.DataFrame:
    """Current versions of one record type, keyed by citizen (pure apart from reading the raw table)."""
    current = latest_version(versions(wh, name), list(RECORD_KEYS[name])).collect()
    keys = (
        surrogate_keys(current["cpr"], wh.key_secret())
        if current.height
        else pl.Series([], dtype=pl.Int64)
    )
    key = list(RECORD_KEYS[name])
    return (
        with_borger_key(
            current.lazy(), pl.DataFrame({"cpr": current["cpr"], "borger_key": keys}).unique()
        )
        .sort(key)
        .collect()
    )


def _record_asset(name: str):
    table = f"stg_{name}"

    @warehouse_asset(table, "staging", deps=[raw_table(name), "beskaer_opbevaring"])
    def _asset(
        context: dg.AssetExecutionContext, data_root: DataRootResource
    ) -> dg.MaterializeResult:
        df = build_record_staging(data_root.warehouse, name)
        meta = publish_table(
            data_root, table, df, staging_table_schema(name, list(RECORD_KEYS[name]))
        )
        return dg.MaterializeResult(metadata=meta)

    return _asset


stg_visitation = _record_asset("visitation")
stg_aktivitet = _record_asset("aktivitet")
stg_samtale = _record_asset("samtale")


@warehouse_asset(
    "stg_samtale_deltager",
    "staging",
    deps=[raw_table("samtale"), raw_table("samtale_deltager"), "beskaer_opbevaring"],
)
def stg_samtale_deltager(
    context: dg.AssetExecutionContext, data_root: DataRootResource
) -> dg.MaterializeResult:
    wh = data_root.warehouse
    samtaler = versions(wh, "samtale")
    deltagere = versions(wh, "samtale_deltager")
    df = current_participants(samtaler, deltagere).sort("samtale_id", "linje").collect()
    meta = publish_table(
        data_root, "stg_samtale_deltager", df, staging_table_schema("samtale_deltager", None)
    )
    return dg.MaterializeResult(metadata=meta)


@warehouse_asset("stg_visitationsforloeb", "staging", deps=["stg_visitation"])
def stg_visitationsforloeb(data_root: DataRootResource) -> dg.MaterializeResult:
    """Visitation courses (R4): the same-day rule, end dates from the next course across
    municipalities, open courses to 9999-12-31, Afmeldt ending a chain."""
    courses = (
        build_courses(scan_staging(data_root, "visitation")).select(list(COURSE_COLS)).collect()
    )
    meta = publish_table(data_root, "stg_visitationsforloeb", courses, course_schema())
    meta["aabne_forloeb"] = int((courses["slutdato"].dt.year() == 9999).sum())
    return dg.MaterializeResult(metadata=meta)


STAGING_ASSETS = [
    stg_visitation,
    stg_aktivitet,
    stg_samtale,
    stg_samtale_deltager,
    stg_visitationsforloeb,
]
