"""The one way an asset stores a table: validate eagerly, write atomically, report row counts.

Per-partition truth (docs/decisions.md, "Metadata per month"): a run over a range of months emits
one materialization per month, and Dagster copies the run's `MaterializeResult` metadata onto
every one of them. Values that belong to one month (row counts, rejected rows, suppressed cells)
are therefore attached with `context.add_asset_metadata(..., partition_key=month)`, which
overrides the shared metadata for that month only; the shared metadata carries no counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import pandera.polars as pa
import polars as pl

from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import validate
from dfdg_assets.storage import increments
from dfdg_assets.storage.warehouse import PARQUET_OPTIONS, UNPARTITIONED


def publish_table(
    data_root: DataRootResource,
    table: str,
    df: pl.DataFrame,
    schema: pa.DataFrameSchema,
    partition: str = UNPARTITIONED,
) -> dict:
    """Validate `df` against `schema`, replace the partition, and return its metadata."""
    data_root.publish({(table, partition): validate(df, schema)})
    return {"dagster/row_count": df.height}


def month_metadata(
    context: dg.AssetExecutionContext | None,
    month: str,
    metadata: Mapping,
    asset_key: str | dg.AssetKey | None = None,
) -> None:
    """Attach `metadata` to the materialization of one month (`YYYY-MM`) of the asset."""
    if context is None:
        return
    context.add_asset_metadata(dict(metadata), asset_key=asset_key, partition_key=f"{month[:7]}-01")


def publish_months(
    data_root: DataRootResource,
    table: str,
    frames: Mapping[str, pl.DataFrame] | Iterable[tuple[str, pl.DataFrame]],
    schema: pa.DataFrameSchema,
    context: dg.AssetExecutionContext | None = None,
) -> dg.MaterializeResult:
    """Validate and replace monthly partitions one at a time, so a range of months never holds
    more than one month in memory (pass a generator of (month, frame) to benefit). Each month's
    materialization carries that month's `dagster/row_count`."""
    items = frames.items() if isinstance(frames, Mapping) else frames
    rows: dict[str, int] = {}
    for m, df in items:
        data_root.publish({(table, m): validate(df, schema)})
        rows[m] = df.height
        month_metadata(context, m, {"dagster/row_count": df.height})
    if context is None:  # outside a run (tests of a builder): the total
        return dg.MaterializeResult(metadata={"dagster/row_count": sum(rows.values())})
    return dg.MaterializeResult()


def starting_with(
    first: str, columns: Mapping[str, pl.DataType], build: Callable[[str], pl.DataFrame]
) -> Callable[[str], pl.DataFrame]:
    """`build` for a table that starts with month `first` (the YR-based tables: 2020-01): an
    earlier month gets an empty partition with the table's `columns`."""

    def build_month(month: str) -> pl.DataFrame:
        return pl.DataFrame(schema=columns) if month < first else build(month)

    return build_month


class Merged(NamedTuple):
    """A merge's result: the whole table and the rows that are new in it. The kept rows passed
    the table's schema when they were published and the merge keeps the key unique (kept and new
    rows share no key), so the new rows are checked in full and the whole table only for its
    columns, types and nulls."""

    table: pl.DataFrame
    new_rows: pl.DataFrame


class Segments(NamedTuple):
    """A segmented table's build (staging tables: one segment per month of the records' start):
    the segments to write as (name, rows) and the rows that are new in them: all segments and
    all rows when `whole`, else only the changed ones. A segment given without rows is deleted;
    so is, after a whole build, every stored segment it does not name."""

    parts: Iterable[tuple[str, pl.DataFrame]]
    new_rows: pl.DataFrame
    whole: bool = False


def publish_segments(
    data_root: DataRootResource, table: str, segments: Segments, schema: pa.DataFrameSchema
) -> int:
    """Check and write the segments one at a time (only one in memory), then publish them
    together (`Warehouse.write_segments`); returns the table's rows. The new rows are checked in
    full (a whole build's: every row, key included); each segment for its structure (the merge
    keeps a key in one segment only)."""
    wh = data_root.warehouse
    structure = structure_of(schema)
    staged: dict[str, Path] = {}
    empty: list[str] = []
    validate(segments.new_rows, schema)
    try:
        for name, df in segments.parts:
            if df.is_empty():
                empty.append(name)
                continue
            if not segments.whole:
                validate(df, structure)
            f = wh.staging_file(table, name)
            staged[name] = f
            df.write_parquet(f, **PARQUET_OPTIONS)
    except BaseException:
        for f in staged.values():
            f.unlink(missing_ok=True)
        raise
    drop = set(wh.partitions(table)) if segments.whole else set()
    wh.write_segments(table, staged, sorted((drop | set(empty)) - set(staged)))
    files = [wh.partition_file(table, p) for p in wh.partitions(table)]
    return pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0


def structure_of(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """`schema` without its value checks and key: columns, types and nulls only."""
    return pa.DataFrameSchema(
        {c: pa.Column(col.dtype, nullable=col.nullable) for c, col in schema.columns.items()},
        strict=True,
        name=schema.name,
    )


def build_incrementally(
    data_root: DataRootResource,
    table: str,
    sources: list[str],
    full: Callable[[], pl.DataFrame | Segments],
    merge: Callable[[list[str]], pl.DataFrame | Merged | Segments],
    schema: pa.DataFrameSchema,
) -> dict:
    """Publish `table` from its new source months when only newer months arrived (`merge`),
    otherwise from all history (`full`); metadata says which."""
    wh = data_root.warehouse
    before = increments.source_versions(wh, sources)
    months = increments.new_months(wh, table, sources)
    result = full() if months is None else merge(months)
    if isinstance(result, Segments):
        meta: dict = {"dagster/row_count": publish_segments(data_root, table, result, schema)}
    elif isinstance(result, Merged):
        validate(result.new_rows, schema)
        data_root.publish({(table, UNPARTITIONED): validate(result.table, structure_of(schema))})
        meta = {"dagster/row_count": result.table.height}
    else:
        meta = publish_table(data_root, table, result, schema)
    increments.record_sources(wh, table, before)
    meta["bygget"] = "fra hele historikken" if months is None else f"{len(months)} nye måneder"
    return meta
