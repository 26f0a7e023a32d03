"""Crash safety: `kill -9` of `dfdg load` (the real CLI) or of a sensor-driven run at any moment,
then a rerun, leaves the warehouse exactly as an uninterrupted load; one writer at a time; the
ledger and roll-out debt protocol that makes it so."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.orchestration import ledger, liveness
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.storage import Warehouse
from dfdg_assets.storage.lock import Busy, exclusive

KEY = bytes(range(32))  # the same surrogate-key secret in every root, so keys compare equal


def dfdg(*args: str, root: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "DFDG_DATA_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "dfdg_assets.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def fresh_root(inbox: Path, dest: Path) -> Path:
    shutil.copytree(inbox, dest / "inbox")
    (dest / "warehouse").mkdir(parents=True)
    (dest / "warehouse" / ".noegle").write_bytes(KEY)
    return dest


def snapshot(root: Path) -> dict[str, list[tuple]]:
    """Every table the catalogue offers (facts, dimensions, benchmark, raw), rows sorted."""
    con = duckdb.connect(str(root / "warehouse" / "dfdg.duckdb"), read_only=True)
    try:
        views = [
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        ]
        out = {}
        for v in sorted(views):
            # the benchmark's publication time is when it was published, not what it says
            drop = [
                c
                for c in ("publiceret",)
                if c in {r[0] for r in con.execute(f'DESCRIBE "{v}"').fetchall()}
            ]
            exclude = f" EXCLUDE ({', '.join(drop)})" if drop else ""
            rows = con.execute(f'SELECT *{exclude} FROM "{v}"').fetchall()
            out[v] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def assert_same_warehouse(root: Path, reference: dict[str, list[tuple]]) -> None:
    got = snapshot(root)
    assert sorted(got) == sorted(reference)
    for name in reference:
        assert got[name] == reference[name], f"{name} differs from the uninterrupted load"


def no_run_in_flight(root: Path) -> bool:
    inst = open_instance(DataRoot.of(root))
    return not inst.get_run_ids(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    )


# --------------------------------------------------------------------------------------------
# the protocol, without subprocesses (fast)


def test_a_staged_ledger_entry_counts_for_nothing_until_its_run_commits(tmp_path):
    wh = Warehouse(tmp_path / "warehouse")
    wh.record_delivery(
        "2020-10", {"indhold_sha256": "abc", "berort_fra": "2020-08", "run_id": "r1"}
    )
    assert wh.delivery_record("2020-10") is None
    assert wh.rollout_debt() is None
    assert ledger.plan_rollout(wh) is None

    # another run's last step commits only its own entries
    assert wh.commit_deliveries("r2") == []
    assert wh.delivery_record("2020-10") is None

    assert wh.commit_deliveries("r1") == ["2020-10"]
    assert wh.delivery_record("2020-10")["indhold_sha256"] == "abc"
    debt = wh.rollout_debt()
    assert debt["fra"] == "2020-08" and debt["til"] == "2020-10"


def test_roll_out_debt_grows_and_is_settled_only_by_the_roll_out_planned_from_it(tmp_path):
    wh = Warehouse(tmp_path / "warehouse")
    wh.record_delivery("2020-10", {"indhold_sha256": "a", "berort_fra": "2020-09", "run_id": "r1"})
    wh.commit_deliveries("r1")
    first_id = wh.rollout_debt()["id"]
    # a later ingest commits before the roll-out: the debt grows (new id), reaching back further
    wh.record_delivery("2020-11", {"indhold_sha256": "b", "berort_fra": "2020-07", "run_id": "r2"})
    wh.commit_deliveries("r2")
    debt = wh.rollout_debt()
    assert (debt["fra"], debt["til"]) == ("2020-07", "2020-11") and debt["id"] != first_id
    # a roll-out planned from the older debt, over a shorter range, does not settle it
    assert not wh.settle_rollout("2020-09", "2020-10", first_id)
    assert wh.rollout_debt() is not None
    assert wh.settle_rollout("2020-07", "2020-11", debt["id"])
    assert wh.rollout_debt() is None


def test_the_debt_narrows_per_record_group_and_only_for_its_own_roll_out(tmp_path):
    wh = Warehouse(tmp_path / "warehouse")
    groups = {"visitation": "2020-09", "aktivitet": "2020-05", "samtale": "2020-10"}
    wh.record_delivery(
        "2020-10",
        {
            "indhold_sha256": "a",
            "berort_fra": "2020-05",
            "berort_fra_pr_gruppe": groups,
            "run_id": "r1",
        },
    )
    wh.commit_deliveries("r1")
    debt = wh.rollout_debt()
    assert debt["fra"] == "2020-05" and debt["fra_pr_gruppe"] == groups
    assert wh.unchanged_before("visitation", debt["id"]) == "2020-09"
    assert wh.unchanged_before("visitation", "another") is None  # a UI backfill: build all
    assert wh.unchanged_before("visitation", None) is None
    assert wh.unchanged_before("ydelse", debt["id"]) is None  # a group not named: build all
    # the next delivery (before the roll-out) lowers a group; one that does not say counts with
    # its overall first month for every group
    wh.record_delivery(
        "2020-11",
        {
            "indhold_sha256": "b",
            "berort_fra": "2020-08",
            "berort_fra_pr_gruppe": {
                "visitation": "2020-08",
                "aktivitet": "2020-11",
                "samtale": "2020-11",
            },
            "run_id": "r2",
        },
    )
    wh.commit_deliveries("r2")
    assert wh.rollout_debt()["fra_pr_gruppe"] == {
        "visitation": "2020-08",
        "aktivitet": "2020-05",
        "samtale": "2020-10",
    }
    wh.record_delivery("2020-12", {"indhold_sha256": "c", "berort_fra": "2020-09", "run_id": "r3"})
    wh.commit_deliveries("r3")
    debt = wh.rollout_debt()
    assert debt["fra_pr_gruppe"] == {
        "visitation": "2020-08",
        "aktivitet": "2020-05",
        "samtale": "2020-09",
    }
    # a debt written without groups (or unreadable) narrows nothing afterwards
    (wh.path / "_udrulning.json").write_text('{"fra": "2020-03", "til": "2020-12", "id": "x"}')
    wh.record_delivery(
        "2021-01",
        {
            "indhold_sha256": "d",
            "berort_fra": "2021-01",
            "berort_fra_pr_gruppe": {"visitation": "2021-01"},
            "run_id": "r4",
        },
    )
    wh.commit_deliveries("r4")
    assert wh.rollout_debt()["fra_pr_gruppe"] == {"visitation": "2020-03"}


def test_discarding_staged_entries_of_dead_runs(tmp_path):
    wh = Warehouse(tmp_path / "warehouse")
    wh.record_delivery("2020-10", {"indhold_sha256": "a", "run_id": "dead"})
    wh.record_delivery("2020-11", {"indhold_sha256": "b", "run_id": "live"})
    assert wh.discard_staged_deliveries(keep_run_id="live") == 1
    assert sorted(wh.staged_deliveries()) == ["2020-11"]


def test_liveness_tells_a_dead_process_from_a_live_one():
    me = liveness.process_tags()
    assert liveness.is_alive(me) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert (
        liveness.is_alive(liveness.process_tags(child.pid) | {liveness.TAG_PID_START: "1"}) is False
    )
    assert liveness.is_alive({**me, liveness.TAG_PID_START: "0"}) is False  # a recycled pid
    assert liveness.is_alive({**me, liveness.TAG_HOST: "en-anden-vaert"}) is None


def test_a_started_run_whose_process_died_is_marked_failed(tmp_path):
    from dfdg_assets.definitions import defs
    from dfdg_assets.orchestration.jobs import ROLLOUT_JOB

    root = DataRoot.of(tmp_path / "data")
    inst = open_instance(root)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    tags = liveness.process_tags(child.pid)
    dead = inst.create_run_for_job(
        job_def=defs.resolve_job_def(ROLLOUT_JOB), tags=tags, status=dg.DagsterRunStatus.STARTED
    )
    live = inst.create_run_for_job(
        job_def=defs.resolve_job_def(ROLLOUT_JOB),
        tags=liveness.process_tags(),
        status=dg.DagsterRunStatus.STARTED,
    )
    assert liveness.mark_dead_runs_failed(inst) == []  # still running
    child.kill()
    child.wait()
    assert liveness.mark_dead_runs_failed(inst) == [dead.run_id]
    assert inst.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert inst.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED


def test_a_run_no_process_ever_started_is_dead_after_the_start_grace(tmp_path, monkeypatch):
    """A process killed between creating a run and starting it leaves it NOT_STARTED (or
    STARTING) without process tags: dead once the start grace is over."""
    from dfdg_assets.definitions import defs
    from dfdg_assets.orchestration.jobs import ROLLOUT_JOB

    inst = open_instance(DataRoot.of(tmp_path / "data"))
    job = defs.resolve_job_def(ROLLOUT_JOB)
    orphan = inst.create_run_for_job(job_def=job, status=dg.DagsterRunStatus.NOT_STARTED)
    launched = inst.create_run_for_job(job_def=job, status=dg.DagsterRunStatus.STARTING)
    monkeypatch.setenv(liveness.ENV_START_GRACE, "180")
    assert liveness.mark_dead_runs_failed(inst) == []  # just created: within the grace
    monkeypatch.setenv(liveness.ENV_START_GRACE, "0")
    assert sorted(liveness.mark_dead_runs_failed(inst)) == sorted([orphan.run_id, launched.run_id])
    assert inst.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
    assert inst.get_run_by_id(launched.run_id).status == dg.DagsterRunStatus.FAILURE


def test_the_writer_lock_admits_one_process_at_a_time(tmp_path):
    lock = tmp_path / ".skriver.laas"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from dfdg_assets.storage.lock import exclusive
                with exclusive(Path({str(lock)!r})):
                    print("held", flush=True)
                    time.sleep(30)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(Busy, match=f"pid {holder.pid}"), exclusive(lock, wait=False):
        pass
    waited: list[str] = []
    done = threading.Event()

    def second():
        with exclusive(lock, on_wait=waited.append):
            done.set()

    t = threading.Thread(target=second)
    t.start()
    time.sleep(0.5)
    assert not done.is_set() and waited  # waiting, and said for whom
    holder.send_signal(signal.SIGKILL)  # a killed holder releases the lock
    holder.wait()
    t.join(10)
    assert done.is_set()


# --------------------------------------------------------------------------------------------
# killing the real CLI


@pytest.fixture(scope="module")
def small_inbox(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("inbox")
    gen = dfdg(
        "generate",
        "--kommuner", "2",
        "--borgere", "150",
        "--fra", "2020-10",
        "--til", "2021-01",
        "--out", str(base / "inbox"),
        root=base / "unused",
    )  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    return base / "inbox"


@pytest.fixture(scope="module")
def reference(small_inbox, tmp_path_factory) -> tuple[dict, float]:
    """An uninterrupted load of the small inbox: its tables and its duration."""
    root = fresh_root(small_inbox, tmp_path_factory.mktemp("ref") / "data")
    t = time.monotonic()
    res = dfdg("load", root=root)
    took = time.monotonic() - t
    assert res.returncode == 0, res.stdout + res.stderr
    return snapshot(root), took


def kill_load_at(inbox: Path, dest: Path, seconds: float) -> subprocess.CompletedProcess:
    root = fresh_root(inbox, dest)
    env = {**os.environ, "DFDG_DATA_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dfdg_assets.cli", "load"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(seconds)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return dfdg("load", root=root)


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.15, 0.5, 0.85])
def test_killed_load_then_rerun_equals_an_uninterrupted_load(
    small_inbox, reference, tmp_path, fraction
):
    tables, took = reference
    rerun = kill_load_at(small_inbox, tmp_path / "data", took * fraction)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert no_run_in_flight(tmp_path / "data")
    assert Warehouse(tmp_path / "data" / "warehouse").rollout_debt() is None
    assert_same_warehouse(tmp_path / "data", tables)
    # and a third run has nothing left to do
    again = dfdg("load", root=tmp_path / "data")
    assert again.returncode == 0 and "Udruller" not in again.stdout


@pytest.mark.slow
def test_kill_point_sweep(small_inbox, reference, tmp_path):
    """Property-style: kill points spread over the whole load (seeded), each then rerun."""
    import random

    tables, took = reference
    rng = random.Random(9)
    for i, fraction in enumerate(sorted(rng.uniform(0.05, 0.98) for _ in range(4))):
        dest = tmp_path / f"k{i}"
        rerun = kill_load_at(small_inbox, dest, took * fraction)
        assert rerun.returncode == 0, f"kill at {fraction:.2f}: {rerun.stdout}{rerun.stderr}"
        assert_same_warehouse(dest, tables)


SENSOR_DRIVER = """
import sys
import dagster as dg
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.core.partitions import apply
from dfdg_assets.definitions import defs
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.sensors import nye_leveringer

root = DataRoot.of(sys.argv[1])
inst = open_instance(root)
cursor = None
cfg = {"resources": {"data_root": {"config": {"root": str(root.root)}}},
       "loggers": {"console": {"config": {"log_level": "ERROR"}}}}
for _ in range(30):  # what the daemon does: tick, launch each request, again
    ctx = dg.build_sensor_context(instance=inst, instance_ref=inst.get_ref(), cursor=cursor, definitions=defs,
                                  resources={"data_root": DataRootResource(root=str(root.root))})
    result = nye_leveringer.evaluate_tick(ctx)
    apply(inst, result.dynamic_partitions_requests or [])
    cursor = result.cursor
    if not result.run_requests:
        break
    for req in result.run_requests:
        defs.resolve_job_def(req.job_name).execute_in_process(
            instance=inst, partition_key=req.partition_key, tags=req.tags, run_config=cfg,
            raise_on_error=False)
"""


def sensor_driver(root: Path, grace: float = 180) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "DFDG_START_GRACE_S": str(grace)}
    return subprocess.Popen(
        [sys.executable, "-c", SENSOR_DRIVER, str(root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.3, 0.8])
def test_killed_sensor_run_is_retried_and_the_result_equals_an_uninterrupted_load(
    small_inbox, reference, tmp_path, fraction
):
    tables, took = reference
    root = fresh_root(small_inbox, tmp_path / "data")
    proc = sensor_driver(root)
    time.sleep(took * fraction)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # the driver (daemon and run worker in one) died; a run it had created but not yet started
    # (no process tags) is dead too: no start grace needed here
    again = sensor_driver(root, grace=0)
    assert again.wait(900) == 0
    assert no_run_in_flight(root)
    assert Warehouse(root / "warehouse").rollout_debt() is None
    assert_same_warehouse(root, tables)


@pytest.mark.slow
def test_two_loads_at_once_one_waits_and_has_nothing_left_to_do(small_inbox, reference, tmp_path):
    tables, _ = reference
    root = fresh_root(small_inbox, tmp_path / "data")
    env = {**os.environ, "DFDG_DATA_ROOT": str(root), "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "dfdg_assets.cli", "load"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(3)
    busy = dfdg("load", "--ingen-vent", root=root)
    assert busy.returncode == 3 and "En anden indlæsning kører allerede" in busy.stderr
    second = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    out1, _ = first.communicate(900)
    out2, _ = second.communicate(900)
    assert first.returncode == 0 and second.returncode == 0
    assert "venter" in out2 and "Ingen nye leveringer at indlæse." in out2
    assert "indlæst" in out1
    assert_same_warehouse(root, tables)


def test_the_sensor_retries_a_dead_ingest_but_not_a_rejected_one(tmp_path):
    from dfdg_assets.core.resources import DataRootResource
    from dfdg_assets.definitions import defs
    from dfdg_assets.orchestration.jobs import INGEST_JOB
    from dfdg_assets.orchestration.sensors import nye_leveringer
    from dfdg_assets.raw.assets import TAG_REJECTED
    from dfdg_assets_tests.deliveries import WORKED_CPR, WORKED_NAME, borger, write_delivery

    root = DataRoot.of(tmp_path / "data")
    root.inbox.mkdir(parents=True)
    write_delivery(root.inbox, "2020-10", {"borger": [borger(WORKED_CPR, WORKED_NAME)]})
    inst = open_instance(root)
    h = ledger.inbox_state(root.inbox)[0][0].content_hash
    tags = ledger.delivery_tags("2020-10", h)

    def tick():
        ctx = dg.build_sensor_context(
            instance=inst,
            instance_ref=inst.get_ref(),  # as the daemon: dynamic partitions are resolved
            resources={"data_root": DataRootResource(root=str(root.root))},
            definitions=defs,
        )
        return nye_leveringer.evaluate_tick(ctx)

    def failed_run(extra=None):
        inst.create_run_for_job(
            job_def=defs.resolve_job_def(INGEST_JOB),
            tags={**tags, **(extra or {})},
            status=dg.DagsterRunStatus.FAILURE,
        )

    assert tick().run_requests[0].run_key == f"indlaes:2020-10:{h}"
    failed_run()  # killed: marked failed by liveness or run monitoring
    assert tick().run_requests[0].run_key == f"indlaes:2020-10:{h}:forsoeg2"
    failed_run()
    failed_run()
    data = tick()  # three attempts died: the sensor stops and says so
    assert data.run_requests == [] and "2020-10 afvist eller holdt tilbage" in data.skip_message

    write_delivery(root.inbox, "2020-11", {"borger": [borger(WORKED_CPR, WORKED_NAME)]})
    h11 = ledger.inbox_state(root.inbox)[0][1].content_hash
    tags = ledger.delivery_tags("2020-11", h11)
    failed_run({TAG_REJECTED: "ja"})  # a rejection is a decision about the delivery: no retry
    assert [r.partition_key for r in tick().run_requests] == []
