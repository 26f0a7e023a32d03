"""The Dagster instance of a data root: its `dagster.yaml` (run coordinator, one writer at a time)."""

from __future__ import annotations

import dagster as dg

from dfdg_assets.core.settings import DataRoot

INSTANCE_YAML = """\
# The Dagster instance of this data root (created by dfdg). Runs that write the warehouse carry
# the tag dfdg/skriver and run one at a time; others queue behind them.
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    tag_concurrency_limits:
      - key: "dfdg/skriver"
        limit: 1
telemetry:
  enabled: false
"""


def open_instance(root: DataRoot) -> dg.DagsterInstance:
    """The persistent Dagster instance under the data root (created on first use)."""
    home = root.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(INSTANCE_YAML, encoding="utf-8")
    return dg.DagsterInstance.from_config(str(home))
