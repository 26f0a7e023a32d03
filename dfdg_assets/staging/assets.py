"""Staging assets: the current version of each record across all deliveries (R3), CPR replaced
by the citizen's surrogate key. Unpartitioned: the current state spans every delivery month."""

import dagster as dg
import polars as pl

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.cpr import surrogate_keys
from dfdg_assets.core.publishing import Merged, build_incrementally
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import table_schema
from dfdg_assets.core.sorted_runs import merge_disjoint
from dfdg_assets.dimensions.build import latest_of_months
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.rows import raw_schema
from dfdg_assets.raw.ingest import CARRIED, history_table, raw_table, versions
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
    """Current versions of one record type, keyed by citizen (pure apart from reading the raw table).

    The raw months are read newest first, a few at a time, each taking only the records no newer
    month carries (an id is unique within a delivery): the same rows as `latest_version` over
    all versions, without holding every version in memory at once."""
    key = list(RECORD_KEYS[name])
    schema = raw_schema(contract.FILES_BY_NAME[name])
    newest_first = [
        wh.scan(raw_table(name), [m], schema=schema)
        for m in reversed(wh.partitions(raw_table(name)))
    ]
    if name in CARRIED and wh.has(history_table(name)):  # versions of pruned, older deliveries
        newest_first.append(wh.scan(history_table(name), schema=schema))
    current = latest_of_months(newest_first, key)
    if not current.width:
        current = pl.DataFrame(schema=schema)
    keys = (
        surrogate_keys(current["cpr"], wh.key_secret())
        if current.height
        else pl.Series([], dtype=pl.Int64)
    )
    cols = [*key, *(c for c in current.columns if c not in key)]  # as R3's group_by gives them
    pos = cols.index("cpr")
    out_cols = [*cols[:pos], "borger_key", *cols[pos + 1 :]]
    return current.with_columns(keys.alias("borger_key")).select(out_cols).sort(key)


def merge_record_staging(wh, name: str, months: list[str]) -> pl.DataFrame:
    return merged_record_staging(wh, name, months).table


def merged_record_staging(wh, name: str, months: list[str]) -> Merged:
    """`build_record_staging` for the case where only `months`, all newer than every month the
    current table was built from, are new: their versions win over the current ones (R3), so
    the current table plus those months gives the same rows as all history."""
    key = list(RECORD_KEYS[name])
    cols = staging_schema(name)
    new = latest_version(
        wh.scan(raw_table(name), months, schema=raw_schema(contract.FILES_BY_NAME[name])), key
    ).collect()
    old = wh.scan(f"stg_{name}", schema=cols)
    order = old.collect_schema().names()  # as the full build wrote it
    keyed = with_borger_key(
        new.lazy(),
        pl.DataFrame({"cpr": new["cpr"], "borger_key": _keys(new["cpr"], wh)}).unique(),
    ).select(order)
    new_rows = keyed.collect()
    return Merged(sorted_merge(old, new_rows.lazy(), key), new_rows)


def sorted_merge(old: pl.LazyFrame, new: pl.LazyFrame, key: list[str]) -> pl.DataFrame:
    """`old` without the rows whose `key` is in `new`, plus `new`, sorted by `key`: the same rows
    as concatenating and sorting, but `old` (the current table, sorted by `key` when written) is
    only merged with the sorted new rows, not sorted again."""
    new_df = new.collect()
    (k,) = key
    return merge_disjoint(old.filter(~pl.col(k).is_in(new_df[k].implode())), new_df.lazy(), key)


def _keys(cprs: pl.Series, wh) -> pl.Series:
    return surrogate_keys(cprs, wh.key_secret()) if cprs.len() else pl.Series([], dtype=pl.Int64)


def _record_asset(name: str):
    table = f"stg_{name}"

    @warehouse_asset(table, "staging", deps=[raw_table(name), "beskaer_opbevaring"])
    def _asset(
        context: dg.AssetExecutionContext, data_root: DataRootResource
    ) -> dg.MaterializeResult:
        wh = data_root.warehouse
        meta = build_incrementally(
            data_root,
            table,
            [raw_table(name), history_table(name)],
            lambda: build_record_staging(wh, name),
            lambda months: merged_record_staging(wh, name, months),
            staging_table_schema(name, list(RECORD_KEYS[name])),
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
    names = ("samtale", "samtale_deltager")
    meta = build_incrementally(
        data_root,
        "stg_samtale_deltager",
        [t for n in names for t in (raw_table(n), history_table(n))],
        lambda: participants(versions(wh, "samtale"), versions(wh, "samtale_deltager")),
        lambda months: merged_participants(wh, months),
        staging_table_schema("samtale_deltager", None),
    )
    return dg.MaterializeResult(metadata=meta)


def participants(samtaler: pl.LazyFrame, deltagere: pl.LazyFrame) -> pl.DataFrame:
    return current_participants(samtaler, deltagere).sort("samtale_id", "linje").collect()


def merge_participants(wh, months: list[str]) -> pl.DataFrame:
    return merged_participants(wh, months).table


def merged_participants(wh, months: list[str]) -> Merged:
    """The new months carry their conversations' participants; every other conversation keeps
    the participants it has (the same rows as `participants` over all history)."""
    schema = {n: raw_schema(contract.FILES_BY_NAME[n]) for n in ("samtale", "samtale_deltager")}
    samtaler = wh.scan(raw_table("samtale"), months, schema=schema["samtale"])
    deltagere = wh.scan(raw_table("samtale_deltager"), months, schema=schema["samtale_deltager"])
    new = current_participants(samtaler, deltagere)
    carried = samtaler.select("samtale_id").unique()
    old = wh.scan("stg_samtale_deltager", schema=staging_schema("samtale_deltager"))
    carried_ids = carried.collect()["samtale_id"].implode()
    kept = old.filter(~pl.col("samtale_id").is_in(carried_ids))
    new_rows = new.select(kept.collect_schema().names()).collect()
    # kept and new share no conversation
    return Merged(
        merge_disjoint(kept, new_rows.lazy(), ["samtale_id", "data_maaned", "linje"]), new_rows
    )


@warehouse_asset("stg_visitationsforloeb", "staging", deps=["stg_visitation"])
def stg_visitationsforloeb(data_root: DataRootResource) -> dg.MaterializeResult:
    """Visitation courses (R4): the same-day rule, end dates from the next course across
    municipalities, open courses to 9999-12-31, Afmeldt ending a chain."""
    meta = build_incrementally(
        data_root,
        "stg_visitationsforloeb",
        [raw_table("visitation"), history_table("visitation")],
        lambda: courses(scan_staging(data_root, "visitation")),
        lambda months: merge_courses(data_root, months),  # checked whole: forloeb_id
        course_schema(),
    )
    return dg.MaterializeResult(metadata=meta)


def courses(visitations: pl.LazyFrame) -> pl.DataFrame:
    """Grain: one row per course, ordered by citizen and start date."""
    return (
        build_courses(visitations)
        .select(list(COURSE_COLS))
        .sort("borger_key", "startdato")
        .collect()
    )


def merge_courses(data_root: DataRootResource, months: list[str]) -> pl.DataFrame:
    return merged_courses(data_root, months).table


def merged_courses(data_root: DataRootResource, months: list[str]) -> Merged:
    """Courses run per citizen (R4): only the citizens with visitations in the new months get
    their chain built again, and the citizens who held a re-sent visitation before (R3 moves it
    to its new citizen); every other citizen keeps theirs."""
    wh = data_root.warehouse
    schema = raw_schema(contract.VISITATION)
    new = wh.scan(raw_table("visitation"), months, schema=schema).select("visitation_id", "cpr")
    earlier = versions(wh, "visitation").filter(~pl.col("data_maaned").is_in(months))
    previous = earlier.join(new.select("visitation_id").unique(), on="visitation_id", how="semi")
    cprs = pl.concat([new.select("cpr"), previous.select("cpr")]).unique().collect()["cpr"]
    touched = pl.DataFrame({"borger_key": _keys(cprs, wh)}).lazy()
    rebuilt = courses(
        scan_staging(data_root, "visitation").join(touched, on="borger_key", how="semi")
    )
    old = wh.scan("stg_visitationsforloeb", schema=COURSE_COLS).filter(
        ~pl.col("borger_key").is_in(touched.collect()["borger_key"].implode())
    )
    # the kept and the rebuilt chains share no citizen
    return Merged(merge_disjoint(old, rebuilt.lazy(), ["borger_key", "startdato"]), rebuilt)


STAGING_ASSETS = [
    stg_visitation,
    stg_aktivitet,
    stg_samtale,
    stg_samtale_deltager,
    stg_visitationsforloeb,
]
