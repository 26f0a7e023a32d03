"""The data root as a Dagster resource: inbox, warehouse and catalogue, resolved at run time."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from dfdg_assets.core.settings import ENV_DATA_ROOT, DataRoot
from dfdg_assets.storage import Warehouse


class DataRootResource(dg.ConfigurableResource):
    """Where the inbox, the warehouse, the exports and the Dagster home live.

    `root` from config; when not set, `DFDG_DATA_ROOT`, else `./data` (read when a run starts).
    """

    root: str | None = Field(default=None, description="The data root folder")

    @property
    def paths(self) -> DataRoot:
        return DataRoot.of(self.root or os.environ.get(ENV_DATA_ROOT) or "data")

    @property
    def inbox(self) -> Path:
        return self.paths.inbox

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.paths.warehouse)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Inside a run: take the data root's writer lock (one writing run at a time, whatever
        launched it; held until the run's last step, the loader, or the process ends) and tag the
        run with the process executing it, so a run whose process died is recognised as dead
        (orchestration.liveness). Outside a run (sensor, schedule) nothing happens."""
        if context.dagster_run is None or context.instance is None:
            return
        from dfdg_assets.orchestration.liveness import process_tags
        from dfdg_assets.storage.lock import WRITER_LOCK, hold

        log = context.log

        def waiting(who: str) -> None:
            if log:
                log.info(f"Venter på en anden skrivende kørsel på dataroden ({who}) …")

        # tagged first: a run waiting for the lock is alive, not one that died before starting
        context.instance.add_run_tags(context.dagster_run.run_id, process_tags())
        hold(self.paths.root / WRITER_LOCK, on_wait=waiting)

    def release_writer_lock(self) -> None:
        from dfdg_assets.storage.lock import WRITER_LOCK, release

        release(self.paths.root / WRITER_LOCK)

    def publish(self, frames: dict[tuple[str, str], pl.DataFrame | Path]) -> None:
        """Write partitions atomically (SQL readers see them once the catalogue is refreshed)."""
        self.warehouse.write_many(frames)

    def refresh_catalogue(self) -> list[str]:
        return self.warehouse.refresh_catalogue(self.paths.catalogue)
