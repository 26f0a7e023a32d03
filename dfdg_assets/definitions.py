"""The one entry point: every asset, check, job, sensor, schedule and resource of the product."""

from __future__ import annotations

import dagster as dg

from dfdg_assets.core.catalog import describe
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.exports.jobs import eksporter_datapakke
from dfdg_assets.maintenance.assets import (
    BENCHMARK_ASSETS,
    INGEST_ASSETS,
    ROLLOUT_ASSETS,
    duckdb_katalog,
)
from dfdg_assets.orchestration.jobs import ASSET_CHECKS, benchmark_job, ingest_job, rollout_job
from dfdg_assets.orchestration.schedules import maanedlig_indlaesning
from dfdg_assets.orchestration.sensors import nye_leveringer
from dfdg_assets.raw.overdue import levering_rettidig

defs = dg.Definitions(
    assets=describe([*INGEST_ASSETS, *ROLLOUT_ASSETS, *BENCHMARK_ASSETS, duckdb_katalog]),
    asset_checks=[*ASSET_CHECKS, levering_rettidig],
    jobs=[ingest_job, rollout_job, benchmark_job, eksporter_datapakke],
    sensors=[nye_leveringer],
    schedules=[maanedlig_indlaesning],
    resources={"data_root": DataRootResource()},
)
