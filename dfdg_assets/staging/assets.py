"""Staging assets: the current version of each record across all deliveries (R3), CPR replaced
by the citizen's surrogate key. Unpartitioned: the current state spans every delivery month."""

import dagster as dg
import polars as pl

from dfdg_assets.core.cpr import surrogate_keys
from dfdg_assets.core.guard import personal_data_guard
from dfdg_assets.core.publishing import publish_table
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import table_schema
from dfdg_assets.ingest import contract
from dfdg_assets.raw.ingest import raw_table, versions
from dfdg_assets.rules.courses import build_courses
from dfdg_assets.staging.schemas import COURSE_COLS, course_schema, staging_schema
from dfdg_assets.staging.versions import current_participants, latest_version, with_borger_key
from dfdg_assets.storage.warehouse import document_table

_RECORDS = {
    "visitation": ("visitation_id",),
    "aktivitet": ("aktivitet_id",),
    "samtale": ("samtale_id",),
}
GRAIN = {
    "stg_visitation": "one row per visitation_id: the version from the latest delivery (R3)",
    "stg_aktivitet": "one row per aktivitet_id: the version from the latest delivery (R3)",
    "stg_samtale": "one row per samtale_id: the version from the latest delivery (R3)",
    "stg_samtale_deltager": "one row per participant row of the latest delivery carrying the conversation (R3)",
    "stg_visitationsforloeb": "one row per visitation course (forloeb_id = the visitation that opened it), R4",
}
for _t, _g in GRAIN.items():
    document_table(_t, _g)


def scan_staging(data_root: DataRootResource, name: str) -> pl.LazyFrame:
    """A staging table of one record type without its delivery columns (data month, line)."""
    cols = staging_schema(name)
    return data_root.warehouse.scan(f"stg_{name}", schema=cols).drop("data_maaned", "linje")


def _schema(name: str, key: list[str] | None):
    spec = contract.FILES_BY_NAME[name]
    nullable = {c.name for c in spec.columns if c.nullable}
    return table_schema(
        f"stg_{name}",
        {c: (t, c in nullable) for c, t in staging_schema(name).items()},
        unique=key,
    )


def build_record_staging(wh, name: str) -> pl.DataFrame:
    """Current versions of one record type, keyed by citizen (pure apart from reading the raw table)."""
    current = latest_version(versions(wh, name), list(_RECORDS[name])).collect()
    keys = (
        surrogate_keys(current["cpr"], wh.key_secret())
        if current.height
        else pl.Series([], dtype=pl.Int64)
    )
    key = list(_RECORDS[name])
    return (
        with_borger_key(
            current.lazy(), pl.DataFrame({"cpr": current["cpr"], "borger_key": keys}).unique()
        )
        .sort(key)
        .collect()
    )


def _record_asset(name: str):
    table = f"stg_{name}"

    @dg.asset(
        name=table,
        group_name="staging",
        deps=[raw_table(name), "beskaer_opbevaring"],
        description=f"{GRAIN[table]}. Grain: {GRAIN[table]}.",
        metadata={"grain": GRAIN[table]},
        kinds={"polars", "parquet"},
        op_tags={"dfdg/skriver": "ja"},
    )
    def _asset(
        context: dg.AssetExecutionContext, data_root: DataRootResource
    ) -> dg.MaterializeResult:
        with personal_data_guard():
            df = build_record_staging(data_root.warehouse, name)
            meta = publish_table(data_root, table, df, _schema(name, list(_RECORDS[name])))
        return dg.MaterializeResult(metadata=meta)

    return _asset


stg_visitation = _record_asset("visitation")
stg_aktivitet = _record_asset("aktivitet")
stg_samtale = _record_asset("samtale")


@dg.asset(
    group_name="staging",
    deps=[raw_table("samtale"), raw_table("samtale_deltager"), "beskaer_opbevaring"],
    description=f"{GRAIN['stg_samtale_deltager']}.",
    metadata={"grain": GRAIN["stg_samtale_deltager"]},
    kinds={"polars", "parquet"},
    op_tags={"dfdg/skriver": "ja"},
)
def stg_samtale_deltager(
    context: dg.AssetExecutionContext, data_root: DataRootResource
) -> dg.MaterializeResult:
    with personal_data_guard():
        wh = data_root.warehouse
        samtaler = versions(wh, "samtale")
        deltagere = versions(wh, "samtale_deltager")
        df = current_participants(samtaler, deltagere).sort("samtale_id", "linje").collect()
        meta = publish_table(
            data_root, "stg_samtale_deltager", df, _schema("samtale_deltager", None)
        )
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    group_name="staging",
    deps=["stg_visitation"],
    kinds={"polars", "parquet"},
    op_tags={"dfdg/skriver": "ja"},
    description=f"Grain: {GRAIN['stg_visitationsforloeb']}.",
    metadata={"grain": GRAIN["stg_visitationsforloeb"]},
)
def stg_visitationsforloeb(data_root: DataRootResource) -> dg.MaterializeResult:
    """Visitation courses (R4): the same-day rule, end dates from the next course across
    municipalities, open courses to 9999-12-31, Afmeldt ending a chain."""
    with personal_data_guard():
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
