"""The one way an asset stores a table: validate eagerly, write atomically, report row counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg
import pandera.polars as pa
import polars as pl

from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import validate
from dfdg_assets.storage.warehouse import UNPARTITIONED


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


def publish_months(
    data_root: DataRootResource,
    table: str,
    frames: Mapping[str, pl.DataFrame] | Iterable[tuple[str, pl.DataFrame]],
    schema: pa.DataFrameSchema,
) -> dg.MaterializeResult:
    """Validate and replace monthly partitions one at a time, so a range of months never holds
    more than one month in memory (pass a generator of (month, frame) to benefit)."""
    items = frames.items() if isinstance(frames, Mapping) else frames
    rows: dict[str, int] = {}
    for m, df in items:
        data_root.publish({(table, m): validate(df, schema)})
        rows[m] = df.height
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(rows.values()),
            "maaneder": dg.MetadataValue.json(rows) if len(rows) <= 60 else len(rows),
        }
    )
