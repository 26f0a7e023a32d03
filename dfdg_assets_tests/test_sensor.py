"""The delivery sensor `nye_leveringer` (SPEC R1, R11, R12, section 5) and the ledger it reads.

Every tick is the real sensor evaluated by Dagster (`evaluate_tick`, which also resolves the
partition of each run request against the job, as the daemon does) against a real persistent
instance under the data root and real deliveries in its inbox. Loading goes through the same
definitions as `dfdg load`, so the instance holds the same run records the sensor sees in
production.

Creating an instance and loading are the slow parts, so three data roots are built once per
module and copied per test: an empty one, the worked example loaded through 2020-11, and the
same plus an ingested (not yet rolled out) 2021-01 delivery with a late registration dated
2020-10-20.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dfdg_assets.core.partitions import (
    BENCHMARK_MONTHS,
    DATA_MONTHS,
    apply,
    ensure,
    months_in_range,
)
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.definitions import defs
from dfdg_assets.ingest.delivery import Completeness
from dfdg_assets.orchestration import ledger
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.jobs import BENCHMARK_JOB, INGEST_JOB, ROLLOUT_JOB
from dfdg_assets.orchestration.ledger import CACHE_FILE
from dfdg_assets.orchestration.sensors import nye_leveringer, overdue_change
from dfdg_assets.raw.assets import TAG_AFFECTED_FROM, TAG_CONTENT, TAG_DELIVERY
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.deliveries import (
    WORKED_CPR,
    WORKED_INBOX,
    WORKED_NAME,
    borger,
    copy_worked,
    visitation,
    write_delivery,
    write_manifest,
)

ORG = {
    "org_id": "JC101",
    "org_navn": "Jobcenter København",
    "org_type": "Jobcenter",
    "kommunekode": 101,
}
SENSOR_TAG = {"dagster/sensor_name": "nye_leveringer"}


def inbox_cache(root: DataRoot) -> dict:
    """The sensor's per-folder hash cache (kept beside the instance, not in the cursor)."""
    return json.loads((root.dagster_home / CACHE_FILE).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# helpers


def content_hash(folder: Path) -> str:
    """The content hash as the SPEC defines identity: the manifest lists every file's SHA-256."""
    return hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()


def tick(root: DataRoot, instance: dg.DagsterInstance, cursor: str | None = None):
    ctx = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),  # as the daemon: dynamic partitions are resolved
        cursor=cursor,
        resources={"data_root": DataRootResource(root=str(root.root))},
        definitions=defs,
    )
    result = nye_leveringer.evaluate_tick(ctx)
    apply(instance, result.dynamic_partitions_requests or [])  # as the daemon does
    return result


def run_config(root: DataRoot) -> dict:
    return {
        "resources": {"data_root": {"config": {"root": str(root.root)}}},
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }


def ingest(root: DataRoot, instance: dg.DagsterInstance, month: str) -> dg.ExecuteInProcessResult:
    """What the daemon does with an ingest request: the ingest job for the month, with its tags."""
    ensure(instance, [month])
    return defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance,
        partition_key=f"{month}-01",
        tags=ledger.delivery_tags(month, content_hash(root.inbox / month)),
        run_config=run_config(root),
        raise_on_error=False,
    )


def rollout(
    root: DataRoot, instance: dg.DagsterInstance, first: str, last: str
) -> dg.ExecuteInProcessResult:
    ensure(instance, months_in_range(first, last))
    return defs.resolve_job_def(ROLLOUT_JOB).execute_in_process(
        instance=instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: f"{first}-01",
            ASSET_PARTITION_RANGE_END_TAG: f"{last}-01",
        },
        run_config=run_config(root),
        raise_on_error=False,
    )


def pending_run(instance: dg.DagsterInstance, job: str, tags: dict[str, str]) -> dg.DagsterRun:
    """A run the daemon has created but not yet started (queued behind the writer limit)."""
    run = instance.create_run_for_job(job_def=defs.resolve_job_def(job), tags=tags)
    assert run.status == dg.DagsterRunStatus.NOT_STARTED
    return run


def rollout_key(first: str, last: str, debt_id: str) -> str:
    return f"udrul:{first}:{last}:{debt_id}"


def ours(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k.startswith("dfdg/")}


def assert_ingest_request(
    req: dg.RunRequest, month: str, h: str, previous: str | None = None
) -> None:
    assert req.job_name == INGEST_JOB
    assert req.partition_key == f"{month}-01"
    assert req.run_key == f"indlaes:{month}:{h}" + (f":{previous[:16]}" if previous else "")
    assert ours(req.tags) == {TAG_DELIVERY: month, TAG_CONTENT: h}
    assert req.tags["dagster/partition"] == f"{month}-01"
    assert req.tags["dagster/sensor_name"] == "nye_leveringer"


def assert_rollout_request(req: dg.RunRequest, first: str, last: str, root: DataRoot) -> None:
    """A rollout of first..last planned from the warehouse's roll-out debt."""
    debt_id = Warehouse(root.warehouse).rollout_debt()["id"]
    assert req.job_name == ROLLOUT_JOB
    assert req.partition_key is None
    assert req.run_key == rollout_key(first, last, debt_id)
    assert req.tags == {
        ASSET_PARTITION_RANGE_START_TAG: f"{first}-01",
        ASSET_PARTITION_RANGE_END_TAG: f"{last}-01",
        ledger.TAG_ROLLOUT_DEBT: debt_id,
        **SENSOR_TAG,
    }


def clone(template: DataRoot, tmp_path: Path) -> tuple[DataRoot, dg.DagsterInstance]:
    """A private copy of a loaded data root (instance, warehouse and inbox)."""
    shutil.copytree(template.root, tmp_path / "data")
    root = DataRoot.of(tmp_path / "data")
    return root, open_instance(root)


def ingest_run_ids(instance: dg.DagsterInstance, month: str) -> list[str]:
    """Ingest runs of a month's delivery: alone, or with consecutive months in one run."""
    return [
        r.run_id
        for r in instance.get_runs(filters=dg.RunsFilter(job_name=INGEST_JOB))
        if r.tags.get(TAG_DELIVERY) == month or f"{TAG_DELIVERY}-{month}" in r.tags
    ]


# --------------------------------------------------------------------------------------------
# loaded data roots, built once per module


@pytest.fixture(scope="module")
def loaded_template(worked_loaded) -> DataRoot:
    """The worked example loaded through 2020-11 with `dfdg load` (two ingests, one rollout):
    the session's copy, never changed (every test clones it)."""
    report = worked_loaded.report
    assert report.ok and report.loaded == ["2020-10", "2020-11"]
    assert report.rollout == ("2020-10", "2020-11")
    return worked_loaded.root


@pytest.fixture(scope="module")
def backdated_template(loaded_template, tmp_path_factory) -> tuple[DataRoot, str]:
    """`loaded_template` plus a 2021-01 delivery with a late registration dated 2020-10-20,
    ingested (as the sensor's ingest run would) but not yet rolled out."""
    root = DataRoot.of(tmp_path_factory.mktemp("backdated") / "data")
    shutil.copytree(loaded_template.root, root.root)
    write_delivery(
        root.inbox,
        "2021-01",
        {
            "visitation": [visitation("V6", WORKED_CPR, "2020-10-20T10:00:00", "Jobparat")],
            "borger": [borger(WORKED_CPR, WORKED_NAME)],
            "organisation": [ORG],
        },
    )
    result = ingest(root, open_instance(root), "2021-01")
    assert result.success
    return root, result.run_id


@pytest.fixture(scope="module")
def empty_template(tmp_path_factory) -> DataRoot:
    """An empty data root with its instance created (creating the instance's storage is slow)."""
    root = DataRoot.of(tmp_path_factory.mktemp("empty") / "data")
    root.inbox.mkdir(parents=True)
    open_instance(root).get_run_ids(limit=1)
    return root


@pytest.fixture
def fresh(empty_template, tmp_path) -> tuple[DataRoot, dg.DagsterInstance]:
    """An empty data root (inbox, no deliveries) with its own persistent instance."""
    return clone(empty_template, tmp_path)


# --------------------------------------------------------------------------------------------
# (1) a new complete delivery


def test_new_complete_delivery_gives_one_ingest_request(fresh):
    root, inst = fresh
    copy_worked(root.inbox, ("2020-10",))
    h = content_hash(root.inbox / "2020-10")

    data = tick(root, inst)

    assert len(data.run_requests) == 1
    assert_ingest_request(data.run_requests[0], "2020-10", h)
    assert data.skip_message is None
    cursor = json.loads(data.cursor)
    assert sorted(cursor) == ["forfaldne", "indbakke"] and len(data.cursor) < 200
    cache = inbox_cache(root)
    assert list(cache) == ["2020-10"]
    fingerprint, complete, reason, cached_hash = cache["2020-10"]
    assert (complete, reason, cached_hash) == (True, "", h)
    manifest_size = (root.inbox / "2020-10" / "manifest.json").stat().st_size
    assert f"manifest.json:{manifest_size}:" in fingerprint
    assert fingerprint.startswith("aktivitet.csv:")


def test_deliveries_arriving_together_give_one_ingest_each_in_month_order(fresh):
    root, inst = fresh
    copy_worked(root.inbox)

    data = tick(root, inst)

    assert [r.partition_key for r in data.run_requests] == ["2020-10-01", "2020-11-01"]
    assert_ingest_request(data.run_requests[0], "2020-10", content_hash(root.inbox / "2020-10"))
    assert_ingest_request(data.run_requests[1], "2020-11", content_hash(root.inbox / "2020-11"))
    assert ROLLOUT_JOB not in {r.job_name for r in data.run_requests}


def test_ingest_already_pending_for_the_same_delivery_is_not_requested_again(fresh):
    root, inst = fresh
    copy_worked(root.inbox, ("2020-10",))
    h = content_hash(root.inbox / "2020-10")
    pending_run(
        inst, INGEST_JOB, {**ledger.delivery_tags("2020-10", h), "dagster/partition": "2020-10-01"}
    )

    data = tick(root, inst)

    assert data.run_requests == []
    assert data.skip_message == "ingen nye eller ændrede leveringer"


# --------------------------------------------------------------------------------------------
# (2) identical re-delivery, (3) corrected re-delivery


def test_identical_redelivery_after_load_gives_no_request(loaded_template, tmp_path):
    root, inst = clone(loaded_template, tmp_path)
    before = tick(root, inst)
    assert before.run_requests == []
    old_fp = inbox_cache(root)["2020-11"][0]

    # The same bytes arrive again (a new copy: new mtimes, so the cursor's cache is not used).
    shutil.rmtree(root.inbox / "2020-11")
    shutil.copytree(WORKED_INBOX / "2020-11", root.inbox / "2020-11", copy_function=shutil.copy)
    data = tick(root, inst, cursor=before.cursor)

    assert data.run_requests == []
    assert data.skip_message.startswith("forfaldne leveringer: 2020-12, 2021-01, ")
    entry = inbox_cache(root)["2020-11"]
    assert entry[0] != old_fp
    assert entry[1:] == [True, "", content_hash(WORKED_INBOX / "2020-11")]


def test_corrected_redelivery_gives_a_new_request_with_a_new_run_key(loaded_template, tmp_path):
    root, inst = clone(loaded_template, tmp_path)
    folder = root.inbox / "2020-11"
    old = content_hash(folder)
    first = tick(root, inst)
    assert first.run_requests == []

    v = folder / "visitation.csv"
    v.write_text(v.read_text().replace("2020-11-04T09:00:00", "2020-11-05T09:00:00"))
    write_manifest(folder)
    new = content_hash(folder)
    assert new != old

    data = tick(root, inst, cursor=first.cursor)

    assert len(data.run_requests) == 1
    req = data.run_requests[0]
    assert_ingest_request(req, "2020-11", new, previous=old)
    assert not req.run_key.startswith(f"indlaes:2020-11:{old}")


def test_redelivery_of_an_earlier_version_after_a_correction_is_ingested_again(
    loaded_template, tmp_path
):
    root, inst = clone(loaded_template, tmp_path)
    folder = root.inbox / "2020-11"
    original = content_hash(folder)
    v = folder / "visitation.csv"
    v.write_text(v.read_text().replace("2020-11-04T09:00:00", "2020-11-05T09:00:00"))
    write_manifest(folder)
    assert ingest(root, inst, "2020-11").success  # the correction B is loaded

    shutil.rmtree(folder)  # ... and the original A is delivered again
    shutil.copytree(WORKED_INBOX / "2020-11", folder)
    assert content_hash(folder) == original

    data = tick(root, inst)

    assert [r.job_name for r in data.run_requests] == [INGEST_JOB]
    assert ours(data.run_requests[0].tags) == {TAG_DELIVERY: "2020-11", TAG_CONTENT: original}


def test_deliveries_loaded_by_a_range_backfill_are_not_ingested_again(fresh):
    root, inst = fresh
    copy_worked(root.inbox, ("2020-10",))
    # A backfill of the ingest job from the UI: one run over a range (here of one month).
    ensure(inst, ["2020-10"])
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=inst,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: "2020-10-01",
            ASSET_PARTITION_RANGE_END_TAG: "2020-10-01",
        },
        run_config=run_config(root),
        raise_on_error=False,
    )
    assert result.success

    data = tick(root, inst)

    assert INGEST_JOB not in [r.job_name for r in data.run_requests]


# --------------------------------------------------------------------------------------------
# (4) incomplete deliveries


def _no_manifest(folder: Path) -> str:
    (folder / "manifest.json").unlink()
    return "manifest.json mangler"


def _still_copying(folder: Path) -> str:
    v = folder / "visitation.csv"
    v.write_bytes(v.read_bytes()[:100])
    return "visitation.csv: SHA-256 passer ikke (endnu ikke færdigkopieret?)"


def _file_not_there_yet(folder: Path) -> str:
    (folder / "samtale.csv").unlink()
    return "samtale.csv mangler"


@pytest.mark.parametrize(
    "fault", [_no_manifest, _still_copying, _file_not_there_yet], ids=lambda f: f.__name__[1:]
)
def test_incomplete_delivery_gives_no_request_and_its_reason_is_the_skip_reason(fresh, fault):
    root, inst = fresh
    copy_worked(root.inbox, ("2020-10",))
    reason = fault(root.inbox / "2020-10")

    data = tick(root, inst)

    assert data.run_requests == []
    assert data.skip_message == f"2020-10 ufuldstændig: {reason}"
    assert inbox_cache(root)["2020-10"][1:3] == [False, reason]

    # The copy finishes: the next tick (with the cursor) sees the change and asks for the ingest.
    shutil.rmtree(root.inbox / "2020-10")
    copy_worked(root.inbox, ("2020-10",))
    data = tick(root, inst, cursor=data.cursor)
    assert len(data.run_requests) == 1
    assert_ingest_request(data.run_requests[0], "2020-10", content_hash(root.inbox / "2020-10"))


def test_incomplete_delivery_does_not_hold_back_a_complete_one(fresh):
    root, inst = fresh
    copy_worked(root.inbox)
    _no_manifest(root.inbox / "2020-10")

    data = tick(root, inst)

    assert len(data.run_requests) == 1
    assert_ingest_request(data.run_requests[0], "2020-11", content_hash(root.inbox / "2020-11"))


# --------------------------------------------------------------------------------------------
# (5) late and corrected records: one rollout over every affected month (R11)


def test_backdated_record_rolls_out_from_the_month_of_its_week(backdated_template, tmp_path):
    template, ingest_id = backdated_template
    root, inst = clone(template, tmp_path)
    # The late registration dated 2020-10-20 lies in 2020-W43 (Sunday 2020-10-25): month 2020-10.
    assert inst.get_run_by_id(ingest_id).tags[TAG_AFFECTED_FROM] == "2020-10"

    data = tick(root, inst)

    assert len(data.run_requests) == 1
    assert_rollout_request(data.run_requests[0], "2020-10", "2021-01", root)
    assert data.skip_message is None


def test_the_benchmark_is_published_in_its_own_run_right_after_the_rollout(
    backdated_template, tmp_path
):
    template, _ = backdated_template
    root, inst = clone(template, tmp_path)
    req = tick(root, inst).run_requests[0]
    assert req.job_name == ROLLOUT_JOB
    # the roll-out's months are partitions before its run is launched, in order
    assert inst.get_dynamic_partitions(DATA_MONTHS) == [
        f"{m}-01" for m in months_in_range("2020-10", "2021-01")
    ]
    assert rollout(root, inst, "2020-10", "2021-01").success

    data = tick(root, inst)

    assert [r.job_name for r in data.run_requests] == [BENCHMARK_JOB]
    bench = data.run_requests[0]
    debt_id = Warehouse(root.warehouse).benchmark_debt()["id"]
    assert bench.run_key == f"benchmark:2020-10:2021-01:{debt_id}"
    assert ours(bench.tags) == {ledger.TAG_BENCHMARK_DEBT: debt_id}
    assert bench.tags[ASSET_PARTITION_RANGE_START_TAG] == "2020-10-01"
    assert inst.get_dynamic_partitions(BENCHMARK_MONTHS) == inst.get_dynamic_partitions(DATA_MONTHS)
    result = defs.resolve_job_def(BENCHMARK_JOB).execute_in_process(
        instance=inst, tags=bench.tags, run_config=run_config(root)
    )
    assert result.success
    assert Warehouse(root.warehouse).partitions("cube_benchmark")[-1] == "2021-01"
    assert Warehouse(root.warehouse).benchmark_debt() is None

    assert tick(root, inst).run_requests == []


def test_a_new_months_partition_is_added_by_the_sensors_result(fresh):
    root, inst = fresh
    copy_worked(root.inbox, ("2020-10",))

    data = tick(root, inst)

    added = {
        (r.partitions_def_name, tuple(r.partition_keys))
        for r in data.dynamic_partitions_requests
        if isinstance(r, dg.AddDynamicPartitionsRequest)
    }
    assert added == {(DATA_MONTHS, ("2020-10-01",)), (BENCHMARK_MONTHS, ("2020-10-01",))}


def test_rollout_is_not_requested_again_while_it_is_pending(backdated_template, tmp_path):
    template, ingest_id = backdated_template
    root, inst = clone(template, tmp_path)
    req = tick(root, inst).run_requests[0]
    pending_run(
        inst,
        ROLLOUT_JOB,
        {k: v for k, v in req.tags.items() if k.startswith("dagster/asset_partition")},
    )

    data = tick(root, inst)

    assert data.run_requests == []


def test_correction_rolls_out_from_the_month_of_the_old_version(loaded_template, tmp_path):
    root, inst = clone(loaded_template, tmp_path)
    # V1 (2020-10-05, 2020-W41 -> month 2020-10) is re-sent in 2021-01 dated 2020-12-15
    # (2020-W51 -> month 2020-12): the old version's course changes too, so from 2020-10.
    write_delivery(
        root.inbox,
        "2021-01",
        {
            "visitation": [visitation("V1", WORKED_CPR, "2020-12-15T09:00:00", "Aktivitetsparat")],
            "borger": [borger(WORKED_CPR, WORKED_NAME)],
            "organisation": [ORG],
        },
    )
    result = ingest(root, inst, "2021-01")
    assert result.success
    assert inst.get_run_by_id(result.run_id).tags[TAG_AFFECTED_FROM] == "2020-10"

    data = tick(root, inst)

    assert len(data.run_requests) == 1
    assert_rollout_request(data.run_requests[0], "2020-10", "2021-01", root)


# --------------------------------------------------------------------------------------------
# (6) a delivery outside the partitions definition


@pytest.mark.parametrize("month", ["2016-12", "2099-01"])
def test_delivery_outside_the_partitions_is_skipped_with_a_reason(fresh, month):
    root, inst = fresh
    write_delivery(root.inbox, month, {"borger": [borger(WORKED_CPR, WORKED_NAME)]})

    data = tick(root, inst)

    assert data.run_requests == []
    assert data.skip_message == f"{month} ligger uden for datamånederne og springes over"

    copy_worked(root.inbox, ("2020-10",))
    data = tick(root, inst, cursor=data.cursor)
    assert len(data.run_requests) == 1
    assert_ingest_request(data.run_requests[0], "2020-10", content_hash(root.inbox / "2020-10"))


# --------------------------------------------------------------------------------------------
# (7) no rollout while ingests are pending


def test_rollout_waits_while_another_delivery_is_still_to_be_ingested(backdated_template, tmp_path):
    template, _ = backdated_template
    root, inst = clone(template, tmp_path)
    write_delivery(root.inbox, "2021-02", {"borger": [borger(WORKED_CPR, WORKED_NAME)]})
    h = content_hash(root.inbox / "2021-02")

    # The 2021-01 ingest is not rolled out yet, but 2021-02 is pending: only its ingest.
    data = tick(root, inst)
    assert len(data.run_requests) == 1
    assert_ingest_request(data.run_requests[0], "2021-02", h)

    # The daemon has queued that ingest: nothing new, in particular no rollout yet.
    pending_run(
        inst, INGEST_JOB, {**ledger.delivery_tags("2021-02", h), "dagster/partition": "2021-02-01"}
    )
    data = tick(root, inst, cursor=data.cursor)
    assert data.run_requests == []


def test_a_rejected_delivery_does_not_block_the_rollout(backdated_template, tmp_path):
    template, ingest_id = backdated_template
    root, inst = clone(template, tmp_path)
    folder = write_delivery(root.inbox, "2021-02", {"borger": [borger(WORKED_CPR, WORKED_NAME)]})
    (folder / "visitation.csv").write_text(
        (folder / "visitation.csv").read_text().replace(";", ",")
    )
    write_manifest(folder)
    assert not ingest(root, inst, "2021-02").success  # rejected at file level (wrong delimiter)

    data = tick(root, inst)

    rollouts = [r for r in data.run_requests if r.job_name == ROLLOUT_JOB]
    assert len(rollouts) == 1
    assert_rollout_request(rollouts[0], "2020-10", "2021-01", root)


# --------------------------------------------------------------------------------------------
# the ledger, directly


@pytest.mark.parametrize(
    ("newest", "first"),
    [
        ("2020-11", "2017-01"),
        ("2021-01", "2018-01"),
        ("2024-12", "2021-01"),
        ("2019-06", "2017-01"),
        ("2017-01", "2017-01"),
    ],
)
def test_retention_start(newest, first):
    assert ledger.retention_start(newest) == first


def _states(*months: str) -> list[Completeness]:
    return [Completeness(m, True, "", "x") for m in months]


@pytest.mark.parametrize(
    ("have", "newest", "today", "expected"),
    [
        (("2020-10", "2020-11"), None, dt.date(2021, 6, 1), []),
        # due on the 10th: not late on the 10th, late on the 11th
        (("2020-10", "2020-11"), "2020-11", dt.date(2021, 1, 10), []),
        (("2020-10", "2020-11"), "2020-11", dt.date(2021, 1, 11), ["2020-12"]),
        (
            ("2020-10", "2020-11"),
            "2020-11",
            dt.date(2021, 3, 11),
            ["2020-12", "2021-01", "2021-02"],
        ),
        # 2020-12 has arrived (not loaded yet): only 2021-01 is late
        (("2020-11", "2020-12"), "2020-11", dt.date(2021, 3, 1), ["2021-01"]),
        (("2020-12",), "2020-12", dt.date(2021, 2, 11), ["2021-01"]),
    ],
)
def test_overdue_months(have, newest, today, expected):
    assert ledger.overdue_months(_states(*have), today, newest) == expected


def test_overdue_months_include_a_missing_month_before_the_newest():
    states = _states("2020-10", "2020-11", "2021-01")  # 2020-12 never arrived (due 2021-01-10)
    assert ledger.overdue_months(states, dt.date(2021, 3, 1), "2021-01") == ["2020-12"]


def test_plan_rollout_on_an_empty_warehouse_is_none(fresh):
    root, _ = fresh
    assert ledger.plan_rollout(Warehouse(root.warehouse)) is None


def test_plan_rollout_after_load_is_none_because_its_rollout_settled_the_debt(
    loaded_template, tmp_path
):
    root, inst = clone(loaded_template, tmp_path)
    assert len(ingest_run_ids(inst, "2020-10")) == 1
    assert Warehouse(root.warehouse).rollout_debt() is None
    assert ledger.plan_rollout(Warehouse(root.warehouse)) is None
    assert tick(root, inst).run_requests == []


def test_plan_rollout_covers_the_debt_of_every_committed_ingest(backdated_template, tmp_path):
    template, _ = backdated_template
    root, inst = clone(template, tmp_path)
    wh = Warehouse(root.warehouse)

    plan = ledger.plan_rollout(wh)
    debt_id = wh.rollout_debt()["id"]
    assert plan == ledger.RolloutPlan("2020-10", "2021-01", debt_id)
    assert plan.months == 4
    assert plan.tags == {
        ASSET_PARTITION_RANGE_START_TAG: "2020-10-01",
        ASSET_PARTITION_RANGE_END_TAG: "2021-01-01",
        ledger.TAG_ROLLOUT_DEBT: debt_id,
    }
    # Runs in the instance do not settle anything: a pending (or dead) rollout run ...
    pending_run(inst, ROLLOUT_JOB, plan.tags)
    assert ledger.plan_rollout(wh) == plan
    # ... only a rollout that commits does.
    assert rollout(root, inst, "2020-10", "2021-01").success
    assert ledger.plan_rollout(wh) is None


def test_plan_rollout_never_reaches_before_the_retention_window(loaded_template, tmp_path):
    root, _ = clone(loaded_template, tmp_path)
    wh = Warehouse(root.warehouse)
    wh.record_delivery("2020-11", {"indhold_sha256": "x", "berort_fra": "2016-06", "run_id": "r"})
    wh.commit_deliveries("r")
    plan = ledger.plan_rollout(wh)
    assert (plan.first, plan.last) == ("2017-01", "2020-11")


def test_plan_rollout_a_shorter_rollout_does_not_settle_the_debt(backdated_template, tmp_path):
    template, _ = backdated_template
    root, inst = clone(template, tmp_path)
    # An operator rolls out only 2020-10 (a one-month range run of the rollout job).
    assert rollout(root, inst, "2020-10", "2020-10").success

    plan = ledger.plan_rollout(Warehouse(root.warehouse))

    assert plan is not None and (plan.first, plan.last) == ("2020-10", "2021-01")


def test_overdue_is_logged_once_per_change_and_the_cursor_stays_short(loaded_template, tmp_path):
    root, inst = clone(loaded_template, tmp_path)
    first = tick(root, inst)
    second = tick(root, inst, cursor=first.cursor)
    assert json.loads(first.cursor)["forfaldne"].startswith("2020-12, 2021-01, ")
    assert first.cursor == second.cursor and len(first.cursor) < 200
    # the skip reason names the overdue months on every tick; the log warns only on a change
    assert second.skip_message.startswith("forfaldne leveringer: 2020-12")
    before = json.loads(first.cursor)["forfaldne"]
    assert overdue_change("", before) == f"Forfaldne leveringer: {before}"
    assert overdue_change(before, before) is None
    assert overdue_change(before, "") == "Ingen forfaldne leveringer længere"
    # one clear signal: the check levering_rettidig on raw_visitation failed once, naming months
    evals = [  # reported by the sensor, without a run (the ingest runs evaluate it too)
        r.event_log_entry.dagster_event.event_specific_data
        for r in inst.get_event_records(
            dg.EventRecordsFilter(dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=100
        )
        if not r.event_log_entry.run_id
    ]
    mine = [e for e in evals if e.check_name == "levering_rettidig"]
    assert len(mine) == 1 and not mine[0].passed
    assert mine[0].severity == dg.AssetCheckSeverity.WARN
    assert mine[0].description.startswith("Forfaldne leveringer: 2020-12, 2021-01")


def test_sensor_and_schedule_start_stopped():
    assert nye_leveringer.default_status == dg.DefaultSensorStatus.STOPPED
    schedule = defs.resolve_schedule_def("maanedlig_indlaesning")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_the_inbox_is_hashed_again_only_where_a_file_changed(tmp_path, monkeypatch):
    """`dfdg load` and the sensor share the per-folder cache: an inbox of years of deliveries
    costs a stat per file, and a file rewritten in place (same size, old mtime put back) is
    still hashed again and seen as a new delivery."""
    from dfdg_assets.ingest import delivery
    from dfdg_assets.orchestration import ledger
    from dfdg_assets_tests.deliveries import copy_worked

    root = DataRoot.of(tmp_path / "data")
    copy_worked(root.inbox)
    hashed: list[str] = []
    real = delivery._file_sha256
    monkeypatch.setattr(delivery, "_file_sha256", lambda f: hashed.append(f.name) or real(f))
    first, _ = ledger.cached_inbox_state(root)
    assert [s.month for s in first if s.complete] == ["2020-10", "2020-11"]
    files = len(list((root.inbox / "2020-10").glob("*.csv")))
    assert len(hashed) == 2 * files
    hashed.clear()
    again, _ = ledger.cached_inbox_state(root)
    assert hashed == [] and again == first
    # the same bytes count, the mtime restored: only the ctime tells, and it is enough
    f = root.inbox / "2020-11" / "visitation.csv"
    st = f.stat()
    data = f.read_bytes()
    f.write_bytes(data.replace(b"Afmeldt", b"Afmeldx", 1))
    assert f.read_bytes() != data
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    changed, _ = ledger.cached_inbox_state(root)
    assert hashed and set(hashed) <= {p.name for p in (root.inbox / "2020-11").iterdir()}
    assert "2020-10" not in str(hashed)
    november = next(s for s in changed if s.month == "2020-11")
    assert not november.complete and "SHA-256" in november.reason
