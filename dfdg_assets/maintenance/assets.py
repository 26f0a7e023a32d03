"""The DuckDB catalogue as an asset: rebuilt once at the end of every load or rollout run."""

import dagster as dg

from dfdg_assets.guard import personal_data_guard
from dfdg_assets.resources import DataRootResource


def catalogue_asset(upstream: list) -> dg.AssetsDefinition:
    """The catalogue depends on every table, so it runs last in a job and sees all new versions."""

    @dg.asset(
        name="duckdb_katalog",
        group_name="maintenance",
        deps=upstream,
        kinds={"duckdb"},
        op_tags={"dfdg/skriver": "ja"},
        description=(
            "The DuckDB database file (`warehouse/dfdg.duckdb`) with one documented view per table, "
            "naming the exact Parquet versions; swapped in atomically so SQL and BI readers never "
            "block a load and never see half a month."
        ),
    )
    def duckdb_katalog(data_root: DataRootResource) -> dg.MaterializeResult:
        with personal_data_guard():
            names = data_root.refresh_catalogue()
        return dg.MaterializeResult(metadata={"views": len(names), "tabeller": ", ".join(names)})

    return duckdb_katalog
