"""The two jobs: ingest one delivery, and roll out a range of months (in one run). Jobs only
select: every asset is declared in the folder of its layer."""

from __future__ import annotations

import dagster as dg

from dfdg_assets.core.assets import WRITER_TAG
from dfdg_assets.core.partitions import data_months
from dfdg_assets.cubes.assets.benchmark import afsloeringskontrol
from dfdg_assets.maintenance.assets import INGEST_ASSETS, ROLLOUT_ASSETS, duckdb_katalog

INGEST_JOB = "indlaes_levering"
ROLLOUT_JOB = "udrul_maaneder"

ASSET_CHECKS = [afsloeringskontrol]

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
