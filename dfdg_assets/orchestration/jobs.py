"""The two jobs: ingest one delivery, and roll out a range of months (in one run)."""

from __future__ import annotations

import dagster as dg

from dfdg_assets.benchmark.assets import afsloeringskontrol, cube_benchmark
from dfdg_assets.core.partitions import data_months
from dfdg_assets.dimensions.assets import INGEST_DIMENSIONS, ROLLOUT_DIMENSIONS
from dfdg_assets.facts.assets import INGEST_FACTS, ROLLOUT_FACTS
from dfdg_assets.facts.benefit_assets import BENEFIT_FACTS
from dfdg_assets.maintenance.assets import catalogue_asset, retention_asset
from dfdg_assets.raw.assets import raw_levering
from dfdg_assets.staging.assets import STAGING_ASSETS

INGEST_JOB = "indlaes_levering"
ROLLOUT_JOB = "udrul_maaneder"
WRITER_TAG = {"dfdg/skriver": "ja"}  # the instance runs one writing run at a time

beskaer_opbevaring = retention_asset([spec.key for spec in raw_levering.specs])
INGEST_ASSETS = [
    raw_levering,
    beskaer_opbevaring,
    *STAGING_ASSETS,
    *INGEST_FACTS,
    *INGEST_DIMENSIONS,
]
ROLLOUT_ASSETS = [*ROLLOUT_DIMENSIONS, *ROLLOUT_FACTS, *BENEFIT_FACTS, cube_benchmark]
ASSET_CHECKS = [afsloeringskontrol]
duckdb_katalog = catalogue_asset([*INGEST_ASSETS, *ROLLOUT_ASSETS])

ingest_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.assets(*INGEST_ASSETS, duckdb_katalog),
    description="Ingest one monthly delivery: raw tables, the current state of every record (R3), dimensions.",
    tags=WRITER_TAG,
    executor_def=dg.in_process_executor,
)

rollout_job = dg.define_asset_job(
    ROLLOUT_JOB,
    selection=dg.AssetSelection.assets(*ROLLOUT_ASSETS, duckdb_katalog)
    | dg.AssetSelection.checks(*ASSET_CHECKS),
    partitions_def=data_months,
    description="Roll out the weeks of a range of data months in one run (R1, R5-R7, R11).",
    tags=WRITER_TAG,
    executor_def=dg.in_process_executor,
)
