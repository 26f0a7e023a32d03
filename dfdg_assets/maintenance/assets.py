"""The maintenance layer: retention pruning (R10) in every ingest run, between the raw layer and
everything built from it, and the DuckDB catalogue, rebuilt once at the end of every run."""

import dagster as dg

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.partitions import (
    BENCHMARK_FIRST_MONTH,
    DATA_MONTHS,
    ensure,
    key,
    retention_start,
)
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.cubes.assets.benchmark import cube_benchmark
from dfdg_assets.dimensions.assets import INGEST_DIMENSIONS, ROLLOUT_DIMENSIONS
from dfdg_assets.facts.assets import ROLLOUT_FACTS
from dfdg_assets.facts.benefit_assets import BENEFIT_FACTS
from dfdg_assets.maintenance.retention import COLLECT_VERSIONS, PRUNING, prune
from dfdg_assets.raw.assets import raw_levering
from dfdg_assets.staging.assets import STAGING_ASSETS
from dfdg_assets.staging.benefits import stg_ydelse

ROLLOUT_JOB_NAME = "udrul_maaneder"  # orchestration.jobs.ROLLOUT_JOB (which imports this module)
BENCHMARK_JOB_NAME = "udrul_benchmark"  # orchestration.jobs.BENCHMARK_JOB


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
    if (wh.path / PRUNING).exists():
        context.log.warning("En afbrudt beskæring fuldføres nu")
    report = prune(wh, data_root.inbox, data_root.paths.exports, months[-1], cutoff)
    # pruned months stop being partitions: the UI no longer shows them as materialized
    # (deleting the key is the way on every instance; SQLite cannot wipe asset partitions)
    held = context.instance.get_dynamic_partitions(DATA_MONTHS)
    ensure(context.instance, remove_before=cutoff)
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
            "maaneder_fjernet": sum(1 for k in held if k < key(cutoff)),
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
ROLLOUT_ASSETS = [*ROLLOUT_DIMENSIONS, stg_ydelse, *ROLLOUT_FACTS, *BENEFIT_FACTS]
BENCHMARK_ASSETS = [cube_benchmark]  # own partitions (from 2020-01), own job after the roll-out


@warehouse_asset(
    "duckdb_katalog",
    "maintenance",
    deps=[*INGEST_ASSETS, *ROLLOUT_ASSETS, *BENCHMARK_ASSETS],
    kinds={"duckdb"},
    description=(
        "The DuckDB database file (`warehouse/dfdg.duckdb`) with one documented view per table, "
        "naming the exact Parquet versions; swapped in atomically so SQL and BI readers never "
        "block a load and never see half a month."
    ),
)
def duckdb_katalog(
    context: dg.AssetExecutionContext, data_root: DataRootResource
) -> dg.MaterializeResult:
    names = data_root.refresh_catalogue()
    settled = settle_run(context, data_root)
    marker = data_root.warehouse.path / COLLECT_VERSIONS
    if marker.exists():
        # after pruning, superseded versions may hold pruned data: delete them now
        data_root.warehouse.collect_old_versions(grace_seconds=0)
        marker.unlink()
    data_root.release_writer_lock()  # the run's last step: the next writer may start
    return dg.MaterializeResult(
        metadata={"views": len(names), "tabeller": ", ".join(names), **settled}
    )


def settle_run(context: dg.AssetExecutionContext, data_root: DataRootResource) -> dict:
    """The run's last step commits what it did: an ingest's staged ledger entries (which grow the
    roll-out debt), a roll-out's settlement of the debt it was planned from. Until here, a killed
    run has changed nothing the next run relies on to decide what to do."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from dfdg_assets.orchestration.ledger import TAG_BENCHMARK_DEBT, TAG_ROLLOUT_DEBT

    wh = data_root.warehouse
    out: dict = {}
    committed = wh.commit_deliveries(context.run_id)
    if committed:
        out["leveringer_bogfoert"] = ", ".join(committed)
    tags = context.run.tags
    start = tags.get(ASSET_PARTITION_RANGE_START_TAG, "")[:7]
    end = tags.get(ASSET_PARTITION_RANGE_END_TAG, "")[:7]
    if not start and tags.get("dagster/partition"):
        start = end = tags["dagster/partition"][:7]
    if context.job_def.name == ROLLOUT_JOB_NAME and start:
        # the benchmark (its own job) owes the months from 2020-01 of what was rolled out
        wh.owe_benchmark(max(start, BENCHMARK_FIRST_MONTH), end)
        out["udrulning_afregnet"] = wh.settle_rollout(start, end, tags.get(TAG_ROLLOUT_DEBT))
    if context.job_def.name == BENCHMARK_JOB_NAME and start:
        out["benchmark_afregnet"] = wh.settle_benchmark(start, end, tags.get(TAG_BENCHMARK_DEBT))
    return out
