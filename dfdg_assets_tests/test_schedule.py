"""The monthly schedule `maanedlig_indlaesning` (SPEC R1, section 5): on the 11th it asks for the
previous month's partition, or skips naming the month and the reason.

Ticks are evaluated by Dagster (`evaluate_tick`, which resolves the partition against the job as
the daemon does) with the data root as a resource on the context, against a real persistent
instance and real deliveries.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from dfdg_assets.core.partitions import ensure
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.definitions import defs
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.jobs import INGEST_JOB
from dfdg_assets.orchestration.ledger import delivery_tags
from dfdg_assets.orchestration.schedules import maanedlig_indlaesning, month_due
from dfdg_assets.raw.assets import TAG_CONTENT, TAG_DELIVERY
from dfdg_assets_tests.deliveries import (
    WORKED_CPR,
    WORKED_NAME,
    borger,
    copy_worked,
    write_delivery,
    write_manifest,
)

CPH = ZoneInfo("Europe/Copenhagen")
DEC_11 = datetime(2020, 12, 11, 6, tzinfo=CPH)  # asks for data month 2020-11


def content_hash(folder: Path) -> str:
    return hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()


def context(
    root: DataRoot, instance: dg.DagsterInstance, when: datetime = DEC_11
) -> dg.ScheduleEvaluationContext:
    return dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=when,
        resources={"data_root": DataRootResource(root=str(root.root))},
        repository_def=defs.get_repository_def(),
    )


def evaluate(root: DataRoot, instance: dg.DagsterInstance, when: datetime = DEC_11):
    return maanedlig_indlaesning.evaluate_tick(context(root, instance, when))


def clone(template: DataRoot, tmp_path: Path) -> tuple[DataRoot, dg.DagsterInstance]:
    shutil.copytree(template.root, tmp_path / "data")
    root = DataRoot.of(tmp_path / "data")
    return root, open_instance(root)


@pytest.fixture(scope="module")
def empty_template(tmp_path_factory) -> DataRoot:
    root = DataRoot.of(tmp_path_factory.mktemp("empty") / "data")
    root.inbox.mkdir(parents=True)
    open_instance(root).get_run_ids(limit=1)  # creating the instance's storage is the slow part
    return root


@pytest.fixture
def fresh(empty_template, tmp_path) -> tuple[DataRoot, dg.DagsterInstance]:
    return clone(empty_template, tmp_path)


@pytest.fixture(scope="module")
def loaded_template(empty_template, tmp_path_factory) -> DataRoot:
    """The worked example's 2020-11 delivery ingested successfully (as the sensor's run would)."""
    root = DataRoot.of(tmp_path_factory.mktemp("loaded") / "data")
    shutil.copytree(empty_template.root, root.root)
    copy_worked(root.inbox)
    instance = open_instance(root)
    ensure(instance, ["2020-11"])
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance,
        partition_key="2020-11-01",
        tags=delivery_tags("2020-11", content_hash(root.inbox / "2020-11")),
        run_config={
            "resources": {"data_root": {"config": {"root": str(root.root)}}},
            "loggers": {"console": {"config": {"log_level": "ERROR"}}},
        },
        raise_on_error=False,
    )
    assert result.success
    return root


def assert_ingest_request(
    req: dg.RunRequest, month: str, h: str, previous: str | None = None
) -> None:
    assert req.job_name == INGEST_JOB
    assert req.partition_key == f"{month}-01"
    assert req.run_key == f"indlaes:{month}:{h}" + (f":{previous[:16]}" if previous else "")
    assert {k: v for k, v in req.tags.items() if k.startswith("dfdg/")} == {
        TAG_DELIVERY: month,
        TAG_CONTENT: h,
    }
    assert req.tags["dagster/partition"] == f"{month}-01"
    assert req.tags["dagster/schedule_name"] == "maanedlig_indlaesning"


# --------------------------------------------------------------------------------------------
# the definition


def test_schedule_definition():
    assert maanedlig_indlaesning.name == "maanedlig_indlaesning"
    assert maanedlig_indlaesning.cron_schedule == "0 6 11 * *"  # the 11th at 06:00
    assert maanedlig_indlaesning.execution_timezone == "Europe/Copenhagen"
    assert maanedlig_indlaesning.job_name == INGEST_JOB
    assert maanedlig_indlaesning.default_status == dg.DefaultScheduleStatus.STOPPED
    assert maanedlig_indlaesning.required_resource_keys == {"data_root"}
    assert defs.resolve_schedule_def("maanedlig_indlaesning") is not None


@pytest.mark.parametrize(
    ("when", "month"),
    [
        (DEC_11, "2020-11"),
        (datetime(2021, 1, 11, 6, tzinfo=CPH), "2020-12"),  # across the year
        (datetime(2020, 3, 11, 6, tzinfo=CPH), "2020-02"),
    ],
)
def test_month_due_is_the_previous_month(when, month):
    assert month_due(when) == month


# --------------------------------------------------------------------------------------------
# ticks


def test_complete_delivery_asks_for_the_previous_months_partition(fresh):
    root, inst = fresh
    copy_worked(root.inbox)
    h = content_hash(root.inbox / "2020-11")

    data = evaluate(root, inst)

    assert data.skip_message is None
    assert len(data.run_requests) == 1
    assert_ingest_request(data.run_requests[0], "2020-11", h)


def test_direct_invocation_with_the_resource_on_the_context(fresh):
    root, inst = fresh
    copy_worked(root.inbox)

    req = maanedlig_indlaesning(context(root, inst))

    assert isinstance(req, dg.RunRequest)
    assert req.partition_key == "2020-11-01"
    assert req.run_key == f"indlaes:2020-11:{content_hash(root.inbox / '2020-11')}"


def test_january_tick_asks_for_december(fresh):
    root, inst = fresh
    write_delivery(root.inbox, "2020-12", {"borger": [borger(WORKED_CPR, WORKED_NAME)]})

    data = evaluate(root, inst, datetime(2021, 1, 11, 6, tzinfo=CPH))

    assert len(data.run_requests) == 1
    assert_ingest_request(data.run_requests[0], "2020-12", content_hash(root.inbox / "2020-12"))


def test_skips_naming_the_month_when_the_delivery_has_not_arrived(fresh):
    root, inst = fresh
    copy_worked(root.inbox, ("2020-10",))  # an older delivery is not a substitute

    data = evaluate(root, inst)

    assert data.run_requests == []
    assert data.skip_message == "Levering for 2020-11 er ikke modtaget (forfalden den 10.)"


def _no_manifest(folder: Path) -> str:
    (folder / "manifest.json").unlink()
    return "manifest.json mangler"


def _still_copying(folder: Path) -> str:
    v = folder / "visitation.csv"
    v.write_bytes(v.read_bytes()[:50])
    return "visitation.csv: SHA-256 passer ikke (endnu ikke færdigkopieret?)"


@pytest.mark.parametrize("fault", [_no_manifest, _still_copying], ids=lambda f: f.__name__[1:])
def test_skips_with_the_reason_when_the_delivery_is_incomplete(fresh, fault):
    root, inst = fresh
    copy_worked(root.inbox)
    reason = fault(root.inbox / "2020-11")

    data = evaluate(root, inst)

    assert data.run_requests == []
    assert data.skip_message == f"Levering for 2020-11 er ufuldstændig: {reason}"


def test_skips_when_the_delivery_is_already_loaded(loaded_template, tmp_path):
    root, inst = clone(loaded_template, tmp_path)

    data = evaluate(root, inst)

    assert data.run_requests == []
    assert data.skip_message == "Levering for 2020-11 er allerede indlæst"


def test_a_corrected_delivery_of_a_loaded_month_is_asked_for_again(loaded_template, tmp_path):
    root, inst = clone(loaded_template, tmp_path)
    folder = root.inbox / "2020-11"
    old = content_hash(folder)
    v = folder / "visitation.csv"
    v.write_text(v.read_text().replace("2020-11-04T09:00:00", "2020-11-05T09:00:00"))
    write_manifest(folder)
    new = content_hash(folder)
    assert new != old

    data = evaluate(root, inst)

    assert len(data.run_requests) == 1
    assert_ingest_request(data.run_requests[0], "2020-11", new, previous=old)
