"""The jobs: ingest one delivery, roll out a range of months (in one run), and publish the
benchmark for the same months from 2020-01 (in one run, right after the roll-out). Jobs only
select: every asset is declared in the folder of its layer.

The benchmark has its own partitions (`benchmark_maaned`: no month before 2020-01 is offered), and
Dagster 1.13 refuses an asset job whose assets have different partitions definitions
(`unresolved_asset_job_definition.py`: `allow_different_partitions_defs=False`), hence its own job."""

from __future__ import annotations

import dagster as dg

from dfdg_assets.core.assets import WRITER_TAG
from dfdg_assets.core.partitions import benchmark_months, data_months
from dfdg_assets.cubes.assets.benchmark import afsloeringskontrol
from dfdg_assets.maintenance.assets import (
    BENCHMARK_ASSETS,
    BENCHMARK_JOB_NAME,
    INGEST_ASSETS,
    ROLLOUT_ASSETS,
    duckdb_katalog,
)

INGEST_JOB = "indlaes_levering"
ROLLOUT_JOB = "udrul_maaneder"
BENCHMARK_JOB = BENCHMARK_JOB_NAME

ASSET_CHECKS = [afsloeringskontrol]  # checks declared on their own (each job selects its assets')

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
    | dg.AssetSelection.checks_for_assets(*ROLLOUT_ASSETS),
    partitions_def=data_months,
    description="Roll out the weeks of a range of data months in one run (R1, R5-R7, R11).",
    tags=WRITER_TAG,
    executor_def=dg.in_process_executor,
)

benchmark_job = dg.define_asset_job(
    BENCHMARK_JOB,
    selection=dg.AssetSelection.assets(*BENCHMARK_ASSETS, duckdb_katalog)
    | dg.AssetSelection.checks_for_assets(*BENCHMARK_ASSETS),
    partitions_def=benchmark_months,
    description="Publish the benchmark (from 2020-01) for the months a roll-out reached, in one run.",
    tags=WRITER_TAG,
    executor_def=dg.in_process_executor,
)
