"""The maintenance layer: retention pruning (R10) in every ingest run, between the raw layer and
everything built from it, and the DuckDB catalogue, rebuilt once at the end of every run."""

import dagster as dg

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.partitions import retention_start
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.cubes.assets.benchmark import cube_benchmark
from dfdg_assets.dimensions.assets import INGEST_DIMENSIONS, ROLLOUT_DIMENSIONS
from dfdg_assets.facts.assets import ROLLOUT_FACTS
from dfdg_assets.facts.benefit_assets import BENEFIT_FACTS
from dfdg_assets.maintenance.retention import prune
from dfdg_assets.raw.assets import raw_levering
from dfdg_assets.staging.assets import STAGING_ASSETS
from dfdg_assets.staging.benefits import stg_ydelse

RETENTION_MARKER = ".beskaering"


class RetentionConfig(dg.Config):
    aktiv: bool = True
    """Off only to verify that pruning changes no number inside the window (tests, audits)."""


@warehouse_asset(
    "beskaer_opbevaring",
    "maintenance",
    deps=[spec.key for spec in raw_levering.specs],
    kinds={"parquet"},
    description=(
        "Retention (R10): when the newest data month enters a new year, deletes every table "
        "partition, inbox folder, ledger entry and data package before January of Y-3 (the "
        "bytes, not a flag); versions still in force inside the window are carried to hist_*."
    ),
)
def beskaer_opbevaring(
    context: dg.AssetExecutionContext, config: RetentionConfig, data_root: DataRootResource
) -> dg.MaterializeResult:
    wh = data_root.warehouse
    months = [p for p in wh.partitions("raw_visitation") if p[:1].isdigit()]
    if not months or not config.aktiv:
        return dg.MaterializeResult(metadata={"beskaaret": False})
    cutoff = retention_start(months[-1])
    report = prune(wh, data_root.inbox, data_root.paths.exports, months[-1], cutoff)
    if report.pruned_anything:
        context.log.info(
            f"Beskåret før {cutoff}: {report.files} filer, {sum(report.rows.values())} rækker, "
            f"{len(report.inbox_folders)} leveringer i inbox, {len(report.exports)} datapakker"
        )
    return dg.MaterializeResult(
        metadata={
            "graense": cutoff,
            "beskaaret": report.pruned_anything,
            "filer_slettet": report.files,
            "raekker_slettet": sum(report.rows.values()),
            "raekker_pr_tabel": dg.MetadataValue.json(report.rows),
            "inbox_slettet": dg.MetadataValue.json(report.inbox_folders),
            "datapakker_slettet": dg.MetadataValue.json(report.exports),
            "baaret_videre": dg.MetadataValue.json(report.carried),
        }
    )


# Every table of the warehouse: the catalogue depends on all of them, so it runs last in a job
# and sees all new versions.
INGEST_ASSETS = [
    raw_levering,
    beskaer_opbevaring,
    *STAGING_ASSETS,
    *INGEST_DIMENSIONS,
]
ROLLOUT_ASSETS = [*ROLLOUT_DIMENSIONS, stg_ydelse, *ROLLOUT_FACTS, *BENEFIT_FACTS, cube_benchmark]


@warehouse_asset(
    "duckdb_katalog",
    "maintenance",
    deps=[*INGEST_ASSETS, *ROLLOUT_ASSETS],
    kinds={"duckdb"},
    description=(
        "The DuckDB database file (`warehouse/dfdg.duckdb`) with one documented view per table, "
        "naming the exact Parquet versions; swapped in atomically so SQL and BI readers never "
        "block a load and never see half a month."
    ),
)
def duckdb_katalog(data_root: DataRootResource) -> dg.MaterializeResult:
    names = data_root.refresh_catalogue()
    marker = data_root.warehouse.path / RETENTION_MARKER
    if marker.exists():
        # after pruning, superseded versions may hold pruned data: delete them now
        data_root.warehouse.collect_old_versions(grace_seconds=0)
        marker.unlink()
    return dg.MaterializeResult(metadata={"views": len(names), "tabeller": ", ".join(names)})
