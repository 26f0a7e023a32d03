"""The partitions the Dagster UI shows are the warehouse's months, asked the way the UI asks
(GraphQL against the code location `dfdg` of workspace.yaml, on a loaded sample):

- every monthly asset shows as materialized exactly the months the warehouse holds for its table,
  and no month after the newest delivery is offered;
- the benchmark offers nothing before 2020-01 (its own partitions);
- a UI backfill of a range of months for the roll-out's assets runs as one run, and each month
  keeps its own row count;
- months pruned by retention are no longer offered nor shown as materialized.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from dfdg_assets.core.partitions import BENCHMARK_MONTHS, DATA_MONTHS, months_in_range
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.definitions import defs
from dfdg_assets.generate import generate
from dfdg_assets.maintenance.assets import ROLLOUT_ASSETS
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.loader import load
from dfdg_assets.storage import Warehouse

# two generated loads, a code server and a backfill through the daemons' own code: make test-slow
pytestmark = pytest.mark.slow

WORKSPACE = Path(__file__).resolve().parents[1] / "workspace.yaml"
FIRST, NEWEST, LATER = "2019-11", "2020-03", "2021-01"

STATUS = """query ($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
  partitionKeysByDimension { partitionKeys }
  assetPartitionStatuses { ... on DefaultPartitionStatuses {
    materializedPartitions failedPartitions unmaterializedPartitions materializingPartitions } }
} } }"""
BACKFILL = """mutation ($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
ROW_COUNTS = """query ($k: AssetKeyInput!, $p: [String!]) { assetNodeOrError(assetKey: $k) {
  ... on AssetNode { assetMaterializations(partitions: $p) { partition metadataEntries {
    label ... on IntMetadataEntry { intValue } } } } } }"""


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory) -> Path:
    inbox = tmp_path_factory.mktemp("gen") / "inbox"
    generate(inbox, kommuner=[101, 360], borgere=120, fra=FIRST, til=LATER, seed=3)
    return inbox


def deliver(deliveries: Path, root: DataRoot, first: str, last: str) -> None:
    root.inbox.mkdir(parents=True, exist_ok=True)
    for m in months_in_range(first, last):
        shutil.copytree(deliveries / m, root.inbox / m)


@pytest.fixture(scope="module")
def loaded(deliveries, tmp_path_factory) -> DataRoot:
    """2019-11..2020-03 loaded: the roll-out reaches back to 2017-01 (R11, window from 2017)."""
    root = DataRoot.of(tmp_path_factory.mktemp("ui") / "data")
    deliver(deliveries, root, FIRST, NEWEST)
    report = load(root, out=lambda _: None)
    assert report.ok and report.rollout == ("2017-01", NEWEST)
    return root


def clone(root: DataRoot, tmp_path: Path) -> DataRoot:
    shutil.copytree(root.root, tmp_path / "data")
    return DataRoot.of(tmp_path / "data")


@contextmanager
def ui(root: DataRoot, monkeypatch) -> Iterator:
    """The webserver's view: a code server for workspace.yaml on the data root's instance."""
    monkeypatch.setenv("DFDG_DATA_ROOT", str(root.root))
    monkeypatch.setenv("DAGSTER_HOME", str(root.dagster_home))
    with define_out_of_process_context(str(WORKSPACE), None, open_instance(root)) as ctx:
        yield ctx


def status(ctx, table: str) -> dict:
    node = execute_dagster_graphql(ctx, STATUS, {"k": {"path": [table]}}).data["assetNodeOrError"]
    st = node["assetPartitionStatuses"]
    return {
        "keys": [k[:7] for k in node["partitionKeysByDimension"][0]["partitionKeys"]],
        **{name: sorted(k[:7] for k in st[name]) for name in st},
    }


def monthly_tables() -> list[str]:
    graph = defs.resolve_asset_graph()
    return sorted(
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).partitions_def is not None
    )


def assert_ui_shows_the_warehouse(ctx, root: DataRoot, newest: str) -> None:
    wh = Warehouse(root.warehouse)
    tables = monthly_tables()
    assert len(tables) >= 19
    for table in tables:
        shown = status(ctx, table)
        held = [m for m in wh.partitions(table) if m[:1].isdigit()]
        assert shown["materializedPartitions"] == held, table
        assert shown["failedPartitions"] == [] and shown["materializingPartitions"] == []
        assert shown["keys"] == sorted(shown["keys"]), f"{table}: months out of order"
        # nothing after the newest delivery is offered (so nothing there shows as missing)
        assert shown["keys"][-1] == newest, table
        assert set(held) <= set(shown["keys"])
        if table == "cube_benchmark":
            assert shown["keys"][0] == "2020-01", "the benchmark offers nothing before 2020-01"
            assert held == months_in_range("2020-01", newest)


def test_the_ui_shows_the_warehouses_months(loaded, monkeypatch):
    instance = open_instance(loaded)
    assert instance.get_dynamic_partitions(DATA_MONTHS)[0] == "2017-01-01"
    assert instance.get_dynamic_partitions(BENCHMARK_MONTHS)[0] == "2020-01-01"
    with ui(loaded, monkeypatch) as ctx:
        assert_ui_shows_the_warehouse(ctx, loaded, NEWEST)
        # raw tables hold the deliveries only: the months before the first are missing, not green
        raw = status(ctx, "raw_visitation")
        assert raw["materializedPartitions"] == months_in_range(FIRST, NEWEST)
        assert raw["unmaterializedPartitions"] == months_in_range("2017-01", "2019-10")
    # four jobs' runs: five ingests, the roll-out, the benchmark after it
    assert {r.job_name for r in instance.get_runs()} == {
        "indlaes_levering",
        "udrul_maaneder",
        "udrul_benchmark",
    }


def _drive(ctx, backfill_id: str, timeout: float = 240) -> list[dg.DagsterRun]:
    """What the daemon does: the backfill iteration creates runs, the run queue launches them."""
    instance = ctx.instance
    queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
    log = logging.getLogger("dfdg-test")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        list(execute_backfill_iteration(ctx.process_context, log))
        list(queue.run_iteration(ctx.process_context))
        runs = instance.get_runs(filters=dg.RunsFilter.for_backfill(backfill_id))
        done = instance.get_backfill(backfill_id).status != BulkActionStatus.REQUESTED
        if runs and all(r.is_finished for r in runs) and done:
            return runs
        time.sleep(1)
    raise AssertionError("the backfill did not finish")


def test_a_ui_backfill_of_a_range_is_one_run(loaded, tmp_path, monkeypatch):
    root = clone(loaded, tmp_path)
    wh = Warehouse(root.warehouse)
    months = months_in_range("2020-01", NEWEST)
    rows = {m: wh.read("fct_visitation_uge", [m]).height for m in months}
    assets = [{"path": [a.key.to_user_string()]} for a in ROLLOUT_ASSETS]
    with ui(root, monkeypatch) as ctx:
        launched = execute_dagster_graphql(
            ctx,
            BACKFILL,
            {"p": {"assetSelection": assets, "partitionNames": [f"{m}-01" for m in months]}},
        ).data["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        runs = _drive(ctx, launched["backfillId"])
        assert len(runs) == 1, "a backfill of a range runs as one run"
        run = runs[0]
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags[ASSET_PARTITION_RANGE_START_TAG] == "2020-01-01"
        assert run.tags[ASSET_PARTITION_RANGE_END_TAG] == f"{NEWEST}-01"
        # each month shows its own row count after the single-run range
        mats = execute_dagster_graphql(
            ctx,
            ROW_COUNTS,
            {"k": {"path": ["fct_visitation_uge"]}, "p": [f"{m}-01" for m in months]},
        ).data["assetNodeOrError"]["assetMaterializations"]
        latest: dict[str, int] = {}
        for m in mats:  # newest first
            count = next(
                e["intValue"] for e in m["metadataEntries"] if e["label"] == "dagster/row_count"
            )
            latest.setdefault(m["partition"][:7], count)
        assert latest == rows
        assert len(set(rows.values())) > 1
        assert_ui_shows_the_warehouse(ctx, root, NEWEST)
    assert {m: wh.read("fct_visitation_uge", [m]).height for m in months} == rows


def test_pruned_months_are_no_longer_shown(loaded, deliveries, tmp_path, monkeypatch):
    root = clone(loaded, tmp_path)
    deliver(deliveries, root, "2020-04", LATER)
    report = load(root, out=lambda _: None)  # 2021 is loaded: retention keeps 2018-01 on
    assert report.ok
    instance = open_instance(root)
    assert instance.get_dynamic_partitions(DATA_MONTHS)[0] == "2018-01-01"
    # the pruned months' materializations are still in the event log, only no longer shown
    old = instance.fetch_materializations(dg.AssetKey("fct_visitation_uge"), limit=1000).records
    assert any(r.asset_materialization.partition.startswith("2017-") for r in old)
    with ui(root, monkeypatch) as ctx:
        assert_ui_shows_the_warehouse(ctx, root, LATER)
        fct = status(ctx, "fct_visitation_uge")
        assert fct["keys"][0] == "2018-01" and not any(k < "2018-01" for k in fct["keys"])
