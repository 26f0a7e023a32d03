"""The one way an asset stores a table: validate eagerly, write atomically, report row counts."""

from __future__ import annotations

import dagster as dg
import pandera.polars as pa
import polars as pl

from dfdg_assets.resources import DataRootResource
from dfdg_assets.schemas import validate
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
    frames: dict[str, pl.DataFrame],
    schema: pa.DataFrameSchema,
) -> dg.MaterializeResult:
    """Validate and replace several monthly partitions in one step."""
    data_root.publish({(table, m): validate(df, schema) for m, df in frames.items()})
    rows = {m: df.height for m, df in frames.items()}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(rows.values()),
            "maaneder": dg.MetadataValue.json(rows) if len(rows) <= 60 else len(rows),
        }
    )
