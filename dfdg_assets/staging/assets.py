"""Staging assets: the current version of each record across all deliveries (R3), CPR replaced
by the citizen's surrogate key. Not partitioned by data month: the current state spans every
delivery. The record tables (visitation, aktivitet, samtale) are stored in segments, one per
month of the record's own date (`start-YYYY-MM`), each sorted by the record id: a delivery
rewrites the segments its records fall in (mostly the recent ones), not the whole history."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.cpr import surrogate_keys
from dfdg_assets.core.publishing import Merged, Segments, build_incrementally
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import table_schema
from dfdg_assets.core.sorted_runs import merge_disjoint
from dfdg_assets.dimensions.build import latest_of_months
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.rows import raw_schema
from dfdg_assets.raw.ingest import CARRIED, history_table, raw_table, versions
from dfdg_assets.rules.courses import build_courses
from dfdg_assets.staging.schemas import COURSE_COLS, course_schema, staging_schema
from dfdg_assets.staging.versions import current_participants
from dfdg_assets.storage.warehouse import SEGMENT_PREFIX

RECORD_KEYS = contract.RECORD_KEYS
#: The date that places a record in its segment (not null in every delivery).
SEGMENT_DATE = {
    "visitation": "visitationstidspunkt",
    "aktivitet": "startdato",
    "samtale": "samtaledato",
}


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
    # one chunk before the sort: sorting the passes' many chunks held about a third more memory
    # at national scale (3.2 against 2.5 GiB for stg_aktivitet over 47 months)
    current = latest_of_months(newest_first, key).rechunk()
    if not current.width:
        current = pl.DataFrame(schema=schema)
    keys = (
        surrogate_keys(current["cpr"], wh.key_secret())
        if current.height
        else pl.Series([], dtype=pl.Int64)
    )
    return current.with_columns(keys.alias("borger_key")).select(record_columns(name)).sort(key)


def record_columns(name: str) -> list[str]:
    """A record table's columns as stored: the id first (as R3's group_by gives them), then the
    delivery's columns with `cpr` replaced by `borger_key`."""
    key = list(RECORD_KEYS[name])
    cols = [*key, *(c for c in raw_schema(contract.FILES_BY_NAME[name]) if c not in key)]
    return ["borger_key" if c == "cpr" else c for c in cols]


def segment_of(name: str) -> pl.Expr:
    """The segment holding a record: `start-` and the month of its date (`SEGMENT_DATE`)."""
    return pl.lit(SEGMENT_PREFIX) + pl.col(SEGMENT_DATE[name]).dt.strftime("%Y-%m")


def segments(df: pl.DataFrame, name: str) -> list[tuple[str, pl.DataFrame]]:
    """A staging table's rows split into its segments, in segment order (rows keep their order)."""
    if df.is_empty():
        return []
    seg = df.select(segment_of(name).alias("_seg"))["_seg"]
    parts = df.with_columns(seg).partition_by("_seg", as_dict=True, maintain_order=True)
    return sorted((str(k[0]), part.drop("_seg")) for k, part in parts.items())


def segment_slices(df: pl.DataFrame, name: str) -> list[tuple[str, pl.DataFrame]]:
    """`segments` of a frame already in segment order: its runs of one segment, as slices."""
    if df.is_empty():
        return []
    runs = df.select(segment_of(name).rle().alias("r")).unnest("r")
    out, start = [], 0
    for length, seg in runs.iter_rows():
        out.append((str(seg), df.slice(start, length)))
        start += length
    return out


def record_segments(wh, name: str) -> Segments:
    """`build_record_staging` as the whole table's segments."""
    df = build_record_staging(wh, name)
    return Segments(segments(df, name), df, whole=True)


def merge_record_staging(wh, name: str, months: list[str]) -> Segments:
    """`build_record_staging` for the case where only `months`, all newer than every month the
    current table was built from, are new: their versions win over the current ones (R3), so
    the current table plus those months gives the same rows as all history.

    Only the segments that change are rewritten: the new rows' own segments, and the segments
    holding an earlier version of them (a corrected date moves a record)."""
    key = list(RECORD_KEYS[name])
    (k,) = key
    table = f"stg_{name}"
    cols = staging_schema(name)
    schema = raw_schema(contract.FILES_BY_NAME[name])
    # newest month first, a few at a time (as a full build): a load catching up on many months
    # holds their current versions, not every version at once (37 months of activities: 7.2 GiB)
    new = latest_of_months(
        [wh.scan(raw_table(name), [m], schema=schema) for m in sorted(months, reverse=True)], key
    )
    new = new.rechunk() if new.width else pl.DataFrame(schema=schema)
    # by segment, then id: each segment's new rows are a slice of them, not a copy
    new_rows = (
        new.with_columns(_keys(new["cpr"], wh).alias("borger_key"))
        .select(record_columns(name))
        .sort(pl.col(SEGMENT_DATE[name]).dt.truncate("1mo"), k)
    )
    del new  # the delivered rows are held once, keyed and in order
    stored = wh.partitions(table)
    earlier: dict[str, pl.Series] = {}  # segment -> the ids it holds an earlier version of
    if stored and new_rows.height:
        files = {str(wh.partition_file(table, p)): p for p in stored}
        found = (
            pl.scan_parquet(list(files), include_file_paths="_fil")
            .select(k, "_fil")
            .filter(pl.col(k).is_in(new_rows[k].implode()))
            .collect()
        )
        for (f,), ids in found.partition_by("_fil", as_dict=True).items():
            earlier[files[str(f)]] = ids[k]
    by_segment = dict(segment_slices(new_rows, name))

    def changed() -> Iterator[tuple[str, pl.DataFrame]]:
        for seg in sorted(set(earlier) | set(by_segment)):
            added = by_segment.get(seg, new_rows.clear())
            if seg not in stored:
                yield seg, added
                continue
            gone = earlier.get(seg, new_rows[k].clear())
            yield seg, sorted_merge(wh.scan(table, [seg], schema=cols), added.lazy(), key, gone)

    return Segments(changed(), new_rows)


def sorted_merge(
    old: pl.LazyFrame, new: pl.LazyFrame, key: list[str], replaced: pl.Series | None = None
) -> pl.DataFrame:
    """`old` without the rows whose `key` is in `new` (or in `replaced`, when given), plus
    `new`, sorted by `key`: the same rows as concatenating and sorting, but `old` (sorted by
    `key` when written) is only merged with the sorted new rows, not sorted again."""
    new_df = new.collect()
    (k,) = key
    gone = new_df[k] if replaced is None else replaced
    return merge_disjoint(old.filter(~pl.col(k).is_in(gone.implode())), new_df.lazy(), key)


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
            lambda: record_segments(wh, name),
            lambda months: merge_record_staging(wh, name, months),
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
