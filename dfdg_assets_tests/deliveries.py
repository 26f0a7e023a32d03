"""Hand-made deliveries for tests: write tables as CSV with a correct manifest."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from dfdg_assets.ingest import contract

FIXTURES = Path(__file__).parent / "fixtures"
WORKED_INBOX = FIXTURES / "worked" / "inbox"
WORKED_CPR = "6101801234"
WORKED_NAME = "Test Person"


def csv_text(spec: contract.DeliveryFile, rows: list[dict]) -> str:
    lines = [";".join(spec.column_names)]
    for r in rows:
        lines.append(";".join("" if r.get(c) is None else str(r[c]) for c in spec.column_names))
    return "\n".join(lines) + "\n"


def write_manifest(folder: Path, month: str | None = None) -> None:
    month = month or folder.name
    files = {}
    for spec in contract.FILES:
        f = folder / spec.filename
        if f.exists():
            data = f.read_bytes()
            n = max(data.replace(b"\r\n", b"\n").rstrip(b"\n").count(b"\n"), 0)
            files[spec.filename] = {"rows": n, "sha256": hashlib.sha256(data).hexdigest()}
    (folder / contract.MANIFEST).write_text(json.dumps({"data_month": month, "files": files}))


def write_delivery(inbox: Path, month: str, tables: dict[str, list[dict]]) -> Path:
    """A complete delivery: every required file (empty unless given) and its manifest."""
    folder = inbox / month
    folder.mkdir(parents=True, exist_ok=True)
    for spec in contract.FILES:
        if not spec.required_in(month):
            continue
        (folder / spec.filename).write_text(
            csv_text(spec, tables.get(spec.name, [])), encoding="utf-8"
        )
    write_manifest(folder, month)
    return folder


def copy_worked(inbox: Path, months: tuple[str, ...] = ("2020-10", "2020-11")) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    for m in months:
        shutil.copytree(WORKED_INBOX / m, inbox / m)


def visitation(
    vid: str,
    cpr: str,
    ts: str,
    kategori: str = "Jobparat",
    kommune: int = 101,
    gruppe: str = "Kontanthjælp",
) -> dict:
    return {
        "visitation_id": vid,
        "cpr": cpr,
        "kommunekode": kommune,
        "visitationstidspunkt": ts,
        "ydelsesgruppe": gruppe,
        "visitationskategori": kategori,
        "visiterende_org_id": "JC101",
    }


def borger(cpr: str, navn: str = "Anna Testesen", kommune: int = 101) -> dict:
    return {"cpr": cpr, "fuldenavn": navn, "kommunekode": kommune}
