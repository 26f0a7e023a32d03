"""Every delivery fault is a clear, contained rejection (R12): manifest faults reject only their
delivery with a one-line reason; a delivery still arriving stays a skip; invalid folder names are
reported; delivery-supplied text never reaches a log, metadata or an error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from dfdg_assets.core.privacy import masked
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.delivery import completeness, invalid_folders, parse_csv, read_delivery
from dfdg_assets.ingest.errors import DeliveryRejected
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.loader import load
from dfdg_assets_tests.deliveries import copy_worked

SECRET_FILE_CPR = "0101701234"


def _manifest(f: Path) -> dict:
    return json.loads((f / "manifest.json").read_text())


def _entry(f: Path, name: str, target: str = "visitation.csv") -> None:
    """Rename the manifest entry of `target` to `name` (the file itself stays where it is)."""
    m = _manifest(f)
    m["files"][name] = m["files"].pop(target)
    (f / "manifest.json").write_text(json.dumps(m))


def invalid_json(f: Path):
    (f / "manifest.json").write_text('{"data_month": "2020-11", "files": {')


def wrong_data_month(f: Path):
    m = _manifest(f)
    m["data_month"] = "2020-09"
    (f / "manifest.json").write_text(json.dumps(m))


def absolute_entry(f: Path):
    _entry(f, "/etc/passwd")


def dotdot_entry(f: Path):
    _entry(f, "../../../../etc/passwd")


def separator_entry(f: Path):
    _entry(f, "under/visitation.csv")


def overlong_entry(f: Path):
    _entry(f, "v" * 5000 + ".csv")


def symlink_out_of_folder(f: Path):
    outside = f.parent.parent / "udenfor.csv"
    shutil.copy(f / "visitation.csv", outside)
    (f / "visitation.csv").unlink()
    (f / "visitation.csv").symlink_to(outside)


FAULTS = {
    invalid_json: "JSON",
    wrong_data_month: "data_month",
    absolute_entry: "absolut sti",
    dotdot_entry: "'..'",
    separator_entry: "skilletegn for stier",
    overlong_entry: "over 100 tegn",
    symlink_out_of_folder: "peger ud af leveringsmappen",
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=lambda f: f.__name__)
def test_a_manifest_fault_is_a_rejection_with_a_one_line_reason(tmp_path, fault):
    copy_worked(tmp_path / "inbox", ("2020-11",))
    folder = tmp_path / "inbox" / "2020-11"
    fault(folder)
    state = completeness(folder)
    assert state.complete, "a faulty manifest is not 'still arriving'"
    with pytest.raises(DeliveryRejected) as e:
        read_delivery(folder)
    text = str(e.value)
    assert FAULTS[fault] in text and "\n" not in text and len(text) < 300
    assert "passwd" not in text and "vvvvvvvvvv" not in text  # entries are masked


def test_each_manifest_fault_rejects_only_its_delivery_and_the_others_load(tmp_path):
    root = DataRoot.of(tmp_path / "data")
    copy_worked(root.inbox, ("2020-10", "2020-11"))
    # three faulty months beside the two good ones (copies of 2020-11 with their month fixed)
    for month, fault in (
        ("2020-12", overlong_entry),
        ("2021-01", dotdot_entry),
        ("2021-02", invalid_json),
    ):
        shutil.copytree(root.inbox / "2020-11", root.inbox / month)
        m = _manifest(root.inbox / month)
        m["data_month"] = month
        (root.inbox / month / "manifest.json").write_text(json.dumps(m))
        fault(root.inbox / month)
    (root.inbox / "2020-13").mkdir()
    (root.inbox / "2021-9").mkdir()
    (root.inbox / "2021-03").mkdir()  # still arriving: no manifest yet
    lines: list[str] = []
    report = load(root, out=lines.append)
    assert report.loaded == ["2020-10", "2020-11"]
    assert sorted(report.failed) == ["2020-12", "2021-01", "2021-02"]
    assert "over 100 tegn" in report.failed["2020-12"]
    assert "'..'" in report.failed["2021-01"]
    assert "JSON" in report.failed["2021-02"]
    assert report.incomplete == {"2021-03": "manifest.json mangler"}
    assert report.invalid_folders == ["2020-13", "2021-9"]
    assert any("Mappen 2020-13 er ikke en gyldig måned" in line for line in lines)
    assert all(len(line) < 400 for line in lines)
    assert report.rollout is not None and report.rollout_failed is None
    # the failed deliveries are failed runs in Dagster
    inst = open_instance(root)
    failed = inst.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    assert sorted(r.tags["dfdg/levering"] for r in failed) == ["2020-12", "2021-01", "2021-02"]


def test_invalid_folder_names_are_listed(tmp_path):
    for name in ("2020-13", "2021-9", "2020-10", "noget andet", ".skjult"):
        (tmp_path / name).mkdir()
    assert invalid_folders(tmp_path) == ["2020-13", "2021-9", masked("noget andet", "inbox")]


def test_an_unclosed_quote_names_its_line():
    text = 'visitation_id;cpr\nV1;x\nV2;"y\nV3;z\n'
    spec = contract.DeliveryFile(
        "visitation", (contract.VISITATION.columns[0], contract.VISITATION.columns[1])
    )
    with pytest.raises(DeliveryRejected) as e:
        parse_csv("2020-10", spec, text.encode())
    assert e.value.line == 3 and "anførselstegn" in e.value.fault


def test_delivery_text_never_reaches_the_event_log_or_the_output(tmp_path, capsys):
    """A file named like a CPR number that is not in the manifest, and an unknown code value
    carrying a name: both are masked placeholders with file (and line) everywhere."""
    root = DataRoot.of(tmp_path / "data")
    copy_worked(root.inbox, ("2020-10",))
    folder = root.inbox / "2020-10"
    (folder / f"{SECRET_FILE_CPR}.csv").write_text("x")
    secret_name = "Hemmelig Navnesen"
    v = folder / "visitation.csv"
    v.write_text(v.read_text().replace("Jobparat", secret_name, 1))
    from dfdg_assets_tests.deliveries import write_manifest

    write_manifest(folder)
    lines: list[str] = []
    report = load(root, out=lines.append)
    assert report.loaded == ["2020-10"], report.failed
    inst = open_instance(root)
    seen = []
    for run in inst.get_runs():
        for ev in inst.all_logs(run.run_id):
            seen.append(str(ev.user_message))
            if ev.dagster_event is not None:
                seen.append(repr(ev.dagster_event.event_specific_data))
    everything = "\n".join(seen + lines) + capsys.readouterr().out
    assert SECRET_FILE_CPR not in everything and secret_name not in everything
    assert "<leveret tekst" in everything  # the placeholders are there
    assert "visitation.csv, linje" in everything
