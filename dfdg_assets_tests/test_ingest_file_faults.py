"""R12 file-level faults: each rejects the whole delivery, names file, fault and line, and
leaves the warehouse exactly as it was."""

import json
from pathlib import Path

import dagster as dg
import pytest

from dfdg_assets.core.partitions import ensure
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.ingest.delivery import read_delivery
from dfdg_assets.ingest.errors import DeliveryRejected
from dfdg_assets.orchestration.loader import load
from dfdg_assets.raw.assets import raw_levering
from dfdg_assets_tests.conftest import clone_root, warehouse_snapshot
from dfdg_assets_tests.deliveries import WORKED_CPR, copy_worked, write_manifest


def _rewrite(folder: Path, name: str, text: str | bytes, manifest: bool = True) -> None:
    p = folder / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    if manifest:
        write_manifest(folder)


def missing_manifest(f: Path):
    (f / "manifest.json").unlink()


def manifest_not_json(f: Path):
    (f / "manifest.json").write_text("{not json")


def manifest_without_file(f: Path):
    m = json.loads((f / "manifest.json").read_text())
    del m["files"]["samtale.csv"]
    (f / "manifest.json").write_text(json.dumps(m))


def manifest_entry_incomplete(f: Path):
    m = json.loads((f / "manifest.json").read_text())
    del m["files"]["visitation.csv"]["rows"]
    (f / "manifest.json").write_text(json.dumps(m))


def checksum_mismatch(f: Path):
    p = f / "visitation.csv"
    p.write_text(p.read_text().replace("Kontanthjælp", "Kontanthjaelp"))


def row_count_mismatch(f: Path):
    m = json.loads((f / "manifest.json").read_text())
    m["files"]["visitation.csv"]["rows"] = 7
    (f / "manifest.json").write_text(json.dumps(m))


def missing_file(f: Path):
    (f / "aktivitet.csv").unlink()


def missing_column(f: Path):
    p = f / "samtale.csv"
    _rewrite(f, "samtale.csv", p.read_text().replace(";kontaktform", ";kontakt_form"))


def wrong_delimiter(f: Path):
    p = f / "visitation.csv"
    _rewrite(f, "visitation.csv", p.read_text().replace(";", ","))


def wrong_encoding(f: Path):
    p = f / "organisation.csv"
    _rewrite(f, "organisation.csv", p.read_text().encode("latin-1"))


def ragged_line(f: Path):
    p = f / "visitation.csv"
    lines = p.read_text().splitlines()
    lines[1] += ";ekstra"
    _rewrite(f, "visitation.csv", "\n".join(lines) + "\n")


def empty_header(f: Path):
    _rewrite(f, "borger.csv", "\n")


def data_month_mismatch(f: Path):
    m = json.loads((f / "manifest.json").read_text())
    m["data_month"] = "2020-09"
    (f / "manifest.json").write_text(json.dumps(m))


FAULTS = {
    missing_manifest: ("manifest.json", "manifest mangler", None),
    manifest_not_json: ("manifest.json", "JSON", 1),
    manifest_without_file: ("samtale.csv", "står ikke i manifestet", None),
    manifest_entry_incomplete: ("manifest.json", "ufuldstændig post", None),
    checksum_mismatch: ("visitation.csv", "SHA-256", None),
    row_count_mismatch: ("visitation.csv", "rækkeantal", None),
    missing_file: ("aktivitet.csv", "mangler", None),
    missing_column: ("samtale.csv", "mangler kolonne(r): kontaktform", 1),
    wrong_delimiter: ("visitation.csv", "skilletegn", 1),
    wrong_encoding: ("organisation.csv", "UTF-8", 2),
    ragged_line: ("visitation.csv", "felter", 2),
    empty_header: ("borger.csv", "overskriftslinje", 1),
    data_month_mismatch: ("manifest.json", "data_month", None),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=lambda f: f.__name__)
def test_fault_is_named(tmp_path, fault):
    copy_worked(tmp_path, ("2020-10",))
    fault(tmp_path / "2020-10")
    file, text, line = FAULTS[fault]
    with pytest.raises(DeliveryRejected) as e:
        read_delivery(tmp_path / "2020-10")
    assert e.value.file == file
    assert text in e.value.fault
    assert e.value.line == line
    assert WORKED_CPR not in str(e.value)


@pytest.mark.parametrize("fault", list(FAULTS), ids=lambda f: f.__name__)
def test_fault_rejects_delivery_and_leaves_warehouse_unchanged(
    worked_through_october, tmp_path, fault
):
    # both months in the inbox, `dfdg load --through 2020-10` (built once, copied here)
    assert worked_through_october.report.ok
    root = clone_root(worked_through_october.root, tmp_path / "data")
    before = warehouse_snapshot(root)
    assert "raw_visitation/2020-10.parquet" in before

    fault(root.inbox / "2020-11")
    result = dg.materialize(
        [raw_levering],
        partition_key="2020-11-01",
        resources={"data_root": DataRootResource(root=str(root.root))},
        instance=with_months("2020-11"),
        raise_on_error=False,
    )
    assert not result.success
    failure = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure[0].step_failure_data.error.message
    assert FAULTS[fault][0] in message and "2020-11" in message
    assert WORKED_CPR not in message
    assert warehouse_snapshot(root) == before


def test_a_rejected_delivery_does_not_stop_later_ones(root):
    copy_worked(root.inbox)
    wrong_delimiter(root.inbox / "2020-10")
    lines: list[str] = []
    report = load(root, out=lines.append)
    assert list(report.failed) == ["2020-10"]
    assert report.loaded == ["2020-11"]
    assert "skilletegn" in report.failed["2020-10"]
    assert any("AFVIST" in line for line in lines)


def test_bom_crlf_and_unlisted_file_are_tolerated(tmp_path):
    copy_worked(tmp_path, ("2020-10",))
    f = tmp_path / "2020-10"
    text = (f / "visitation.csv").read_text()
    (f / "visitation.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    (f / "noter.txt").write_text("ikke en del af leveringen")
    write_manifest(f)
    d = read_delivery(f)
    assert d.frames["visitation"].height == 4
    assert d.frames["visitation"]["visitation_id"].to_list() == ["V1", "V2", "V3", "V4"]
    # a file name is delivery text (it may be a CPR number): masked, with where it was found
    assert any("<leveret tekst, 9 tegn: mappen 2020-10>" in w for w in d.warnings)
    assert not any("noter.txt" in w for w in d.warnings)


def with_months(*months: str) -> dg.DagsterInstance:
    """An ephemeral instance whose data months include these (dynamic partitions)."""
    instance = dg.DagsterInstance.ephemeral()
    ensure(instance, months)
    return instance
