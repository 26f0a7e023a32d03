"""Dimension assets. Time is partitioned by data month (the weeks of the month, R2); the others
are unpartitioned conformed dimensions rebuilt from the latest snapshots."""

import dagster as dg
import pandera.polars as pa
import polars as pl

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.checks import all_month_evaluations, result
from dfdg_assets.core.cpr import surrogate_keys
from dfdg_assets.core.publishing import build_incrementally, publish_months, publish_table
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import table_schema
from dfdg_assets.core.weeks import day_frame, month_of_key, week_frame
from dfdg_assets.dimensions import build
from dfdg_assets.facts.keys import KeyCheck, key_checks, warehouse_reader
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.rows import raw_schema
from dfdg_assets.raw.ingest import CARRIED, history_table, raw_table, versions
from dfdg_assets.staging.schemas import staging_schema

_WEEK_COLS = {
    "uge": (pl.String, False),
    "uge_mandag": (pl.Date, False),
    "uge_soendag": (pl.Date, False),
    "maaned": (pl.String, False),
    "kvartal": (pl.String, False),
    "aar": (pl.Int32, False),
}
WEEK_SCHEMA = table_schema("dim_tid_uge", _WEEK_COLS, unique=["uge"])
DAY_SCHEMA = table_schema(
    "dim_tid_dag",
    {"dato": (pl.Date, False), "ugedag": (pl.Int8, False), **_WEEK_COLS},
    unique=["dato"],
)


def _publish_checked_months(context, data_root: DataRootResource, name: str, schema, build):
    """Publish the run's months and report the key checks of each month (facts/keys.py)."""
    checks = KeyCheck(name, warehouse_reader(data_root.warehouse))
    frames = ((m, build([m])) for m in (month_of_key(k) for k in context.partition_keys))
    yield publish_months(data_root, name, checks.watch(frames), schema, context)
    yield from all_month_evaluations(context, name, checks.verdicts())


def _checked(data_root: DataRootResource, name: str, df: pl.DataFrame, schema) -> dict:
    """Check the keys of an unpartitioned dimension (counts only), then publish it."""
    checks = KeyCheck(name, warehouse_reader(data_root.warehouse))
    checks.add(df)
    meta = publish_table(data_root, name, df, schema)
    results = [result(name, c, v[""]) for c, v in checks.verdicts().items()]
    return {"metadata": meta, "check_results": results}


@warehouse_asset(
    "dim_tid_uge", "dimensions", partitioned=True, check_specs=key_checks("dim_tid_uge")
)
def dim_tid_uge(context: dg.AssetExecutionContext, data_root: DataRootResource):
    """ISO weeks with the month, quarter and year they belong to (by their Sunday)."""
    yield from _publish_checked_months(context, data_root, "dim_tid_uge", WEEK_SCHEMA, week_frame)


@warehouse_asset(
    "dim_tid_dag",
    "dimensions",
    deps=["dim_tid_uge"],
    partitioned=True,
    check_specs=key_checks("dim_tid_dag"),
)
def dim_tid_dag(context: dg.AssetExecutionContext, data_root: DataRootResource):
    """Calendar days of the weeks belonging to each data month."""
    yield from _publish_checked_months(context, data_root, "dim_tid_dag", DAY_SCHEMA, day_frame)


KOMMUNE_SCHEMA = table_schema(
    "dim_kommune",
    {
        "kommunekode": (pl.Int32, False),
        "kommunenavn": (pl.String, False),
        "regionskode": (pl.Int32, False),
        "regionsnavn": (pl.String, False),
    },
    unique=["kommunekode"],
)
REGION_SCHEMA = table_schema(
    "dim_region",
    {
        "regionskode": (pl.Int32, False),
        "regionsnavn": (pl.String, False),
        "nuts2": (pl.String, False),
    },
    unique=["regionskode"],
)


@warehouse_asset(
    "dim_kommune", "dimensions", deps=["dim_region"], check_specs=key_checks("dim_kommune")
)
def dim_kommune(data_root: DataRootResource) -> dg.MaterializeResult:
    """The 98 municipalities with their regions (reference data shipped with the product)."""
    return dg.MaterializeResult(
        **_checked(data_root, "dim_kommune", build.dim_kommune(), KOMMUNE_SCHEMA)
    )


@warehouse_asset("dim_region", "dimensions", check_specs=key_checks("dim_region"))
def dim_region(data_root: DataRootResource) -> dg.MaterializeResult:
    """The 5 regions (reference data shipped with the product)."""
    return dg.MaterializeResult(
        **_checked(data_root, "dim_region", build.dim_region(), REGION_SCHEMA)
    )


ORG_SCHEMA = table_schema(
    "dim_organisation",
    {
        "org_key": (pl.Int64, False),
        "org_id": (pl.String, False),
        "org_navn": (pl.String, False),
        "org_type": (pl.String, True),
        "kommunekode": (pl.Int32, True),
        "ukendt": (pl.Boolean, False),
        "seneste_snapshot": (pl.String, True),
    },
    unique=["org_id"],
)


def _stg(wh, name: str) -> pl.LazyFrame:
    return wh.scan(f"stg_{name}", schema=staging_schema(name))


@warehouse_asset(
    "dim_organisation",
    "dimensions",
    deps=[
        raw_table("organisation"),
        "beskaer_opbevaring",
        "stg_visitation",
        "stg_aktivitet",
        "stg_samtale",
        "dim_kommune",
    ],
    check_specs=key_checks("dim_organisation"),
)
def dim_organisation(data_root: DataRootResource) -> dg.MaterializeResult:
    """Organisations in every role (ansvarlig, aktiverende, visiterende, indkaldende)."""
    wh = data_root.warehouse
    refs = pl.concat(
        [
            _stg(wh, "visitation").select(pl.col("visiterende_org_id").alias("org_id")),
            _stg(wh, "aktivitet").select(pl.col("ansvarlig_org_id").alias("org_id")),
            _stg(wh, "aktivitet").select(pl.col("aktiverende_org_id").alias("org_id")),
            _stg(wh, "samtale").select(pl.col("indkaldende_org_id").alias("org_id")),
        ]
    ).collect()["org_id"]
    df = build.dim_organisation(
        wh.scan(raw_table("organisation"), schema=raw_schema(contract.ORGANISATION)), refs
    )
    out = _checked(data_root, "dim_organisation", df, ORG_SCHEMA)
    out["metadata"]["ukendte_organisationer"] = int(df["ukendt"].sum())
    return dg.MaterializeResult(**out)


EDU_SCHEMA = table_schema(
    "dim_uddannelse",
    {
        "uddannelse_key": (pl.Int64, False),
        "uddannelseskode": (pl.String, False),
        "uddannelseskodetype": (pl.String, True),
        "titel": (pl.String, False),
        "ukendt": (pl.Boolean, False),
    },
    unique=["uddannelseskode", "uddannelseskodetype"],
)


@warehouse_asset(
    "dim_uddannelse",
    "dimensions",
    deps=[raw_table("uddannelse"), "beskaer_opbevaring", "stg_aktivitet"],
    check_specs=key_checks("dim_uddannelse"),
)
def dim_uddannelse(data_root: DataRootResource) -> dg.MaterializeResult:
    """AMU and DUN education codes with titles (the seed's AMU dimension)."""
    wh = data_root.warehouse
    refs = _stg(wh, "aktivitet").select("uddannelseskode", "uddannelseskodetype").collect()
    df = build.dim_uddannelse(
        wh.scan(raw_table("uddannelse"), schema=raw_schema(contract.UDDANNELSE)), refs
    )
    out = _checked(data_root, "dim_uddannelse", df, EDU_SCHEMA)
    out["metadata"]["ukendte_koder"] = int(df["ukendt"].sum())
    return dg.MaterializeResult(**out)


BORGER_COLS = {
    "borger_key": pl.Int64(),
    "cpr": pl.String(),
    "fuldenavn": pl.String(),
    "kommunekode": pl.Int32(),
    "foedselsdato": pl.Date(),
    "i_folkeregister": pl.Boolean(),
    "seneste_snapshot": pl.String(),
}
BORGER_SCHEMA = table_schema(
    "dim_borger",
    {
        "borger_key": (pl.Int64, False),
        "cpr": (pl.String, False, [pa.Check.str_matches(r"^\d{10}$")]),
        "fuldenavn": (pl.String, True),
        "kommunekode": (pl.Int32, True),
        "foedselsdato": (pl.Date, False),
        "i_folkeregister": (pl.Boolean, False),
        "seneste_snapshot": (pl.String, True),
    },
    unique=["borger_key"],
)


@warehouse_asset(
    "dim_borger",
    "dimensions",
    deps=[
        "beskaer_opbevaring",
        raw_table("borger"),
        raw_table("visitation"),
        raw_table("aktivitet"),
        raw_table("samtale"),
        raw_table("ydelse"),
        "dim_kommune",
    ],
    check_specs=key_checks("dim_borger"),
)
def dim_borger(data_root: DataRootResource) -> dg.MaterializeResult:
    """Citizens: the one place CPR numbers and names are kept; facts carry `borger_key`."""
    wh = data_root.warehouse
    meta = build_incrementally(
        data_root,
        "dim_borger",
        [raw_table(n) for n in CITIZEN_SOURCES]
        + [history_table(n) for n in CITIZEN_SOURCES if n in CARRIED],
        lambda: _dim_borger(wh, None),
        lambda months: _dim_borger(wh, months),
        BORGER_SCHEMA,
    )
    # the checks and the count need three columns: not the CPR numbers and names
    df = (
        wh.scan("dim_borger", schema=BORGER_COLS)
        .select("borger_key", "kommunekode", "i_folkeregister")
        .collect()
    )
    checks = KeyCheck("dim_borger", warehouse_reader(wh))
    checks.add(df)
    meta["uden_for_folkeregister"] = int((~df["i_folkeregister"]).sum())
    results = [result("dim_borger", c, v[""]) for c, v in checks.verdicts().items()]
    return dg.MaterializeResult(metadata=meta, check_results=results)


CITIZEN_SOURCES = ("borger", "visitation", "aktivitet", "samtale", "ydelse")
RECORD_SOURCES = ("visitation", "aktivitet", "samtale", "ydelse")  # records naming a citizen


def _dim_borger(wh, months: list[str] | None) -> pl.DataFrame:
    """All history (`months` None), or the current table merged with the new months. Resident
    snapshots are read one month at a time (they are the largest file of every delivery)."""
    borger = raw_table("borger")
    if months is None:
        scans = {n: versions(wh, n) for n in RECORD_SOURCES}
        snapshot_months = wh.partitions(borger)
    else:
        scans = {
            n: wh.scan(raw_table(n), months, schema=raw_schema(contract.FILES_BY_NAME[n]))
            for n in RECORD_SOURCES
        }
        snapshot_months = [m for m in months if wh.has(borger, m)]
    refs = (
        pl.concat([lf.select("cpr") for lf in scans.values()])
        .unique()
        .collect(engine="streaming")["cpr"]
    )
    if months is not None:
        return _merge_dim_borger(wh, refs, snapshot_months)
    snapshots = build.latest_resident_rows(
        [
            wh.scan(borger, [m], schema=raw_schema(contract.BORGER))
            for m in reversed(snapshot_months)
        ]
    )
    if snapshots.is_empty():
        snapshots = pl.DataFrame(schema=raw_schema(contract.BORGER))
    everyone = pl.concat([refs, snapshots["cpr"]]).unique()
    keys = pl.DataFrame({"cpr": everyone, "borger_key": surrogate_keys(everyone, wh.key_secret())})
    return build.dim_borger(snapshots.lazy(), refs, keys, None)


def _merge_dim_borger(wh, refs: pl.Series, snapshot_months: list[str]) -> pl.DataFrame:
    """The current table merged with new months: one new snapshot month is read as it is (the
    raw table holds one row per CPR number, R3 in the file), several keep the newest row each."""
    borger = raw_table("borger")
    schema = raw_schema(contract.BORGER)
    if len(snapshot_months) == 1:
        snapshot = wh.scan(borger, snapshot_months, schema=schema)
    elif snapshot_months:
        snapshot = build.latest_resident_rows(
            [wh.scan(borger, [m], schema=schema) for m in reversed(snapshot_months)]
        ).lazy()
    else:
        snapshot = pl.LazyFrame(schema=schema)
    return build.merge_dim_borger(
        wh.scan("dim_borger", schema=BORGER_COLS),
        snapshot,
        refs,
        lambda cprs: surrogate_keys(cprs, wh.key_secret()),
    )


INGEST_DIMENSIONS = [dim_kommune, dim_region, dim_organisation, dim_uddannelse, dim_borger]
ROLLOUT_DIMENSIONS = [dim_tid_uge, dim_tid_dag]
