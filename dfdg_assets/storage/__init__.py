"""Storage: one Parquet file per asset partition, DuckDB as the catalogue of views."""

from dfdg_assets.storage.warehouse import Warehouse

__all__ = ["Warehouse"]
