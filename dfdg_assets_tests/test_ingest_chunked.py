"""A file read in chunks (`ingest/chunked.py`) gives exactly what the whole-file path gives:
loaded rows in order, rejected rows with line and reason, counts, warnings and file faults.
A tiny chunk size (`DFDG_INGEST_CHUNK_MB`) forces every file through the chunked path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dfdg_assets.ingest import contract
from dfdg_assets.ingest.chunked import ENV_CHUNK_MB
from dfdg_assets.ingest.errors import DeliveryRejected
from dfdg_assets.raw.ingest import ingest_delivery
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.deliveries import borger, csv_text, visitation, write_delivery

TINY = "0.001"  # about 1 KiB per chunk: a few dozen lines
CPRS = [f"{61 + d % 28:02d}{1 + d % 12:02d}80{1000 + d:04d}" for d in range(400)]


def _visitations() -> list[dict]:
    rows = [
        visitation(f"V{i}", CPRS[i % 400], f"2020-10-{1 + i % 28:02d}T10:00:00") for i in range(400)
    ]
    rows.insert(300, dict(rows[3]))  # an exact duplicate far from its first copy
    rows.insert(310, dict(rows[3]))  # and another
    rows.insert(200, dict(rows[7], visitationskategori="Aktivitetsparat"))  # conflicts with V7
    rows.insert(250, dict(rows[9], cpr="3102801234"))  # own fault: conflicts with nothing
    rows.insert(260, dict(rows[11], kommunekode=999))  # own fault, duplicated below
    rows.insert(380, dict(rows[260]))
    rows.insert(100, dict(rows[20], visitationskategori="Ny kategori"))  # unknown, conflicts
    rows.append(visitation("VX", CPRS[0], "2020-10-01T10:00:00", kategori="Endnu en"))
    rows.append(dict(rows[-1]))  # the last row duplicated at the very end
    return rows


def _tables() -> dict[str, list[dict]]:
    people = [borger(c, navn=f"Navn {i}") for i, c in enumerate(CPRS)]
    people.insert(150, dict(people[149], fuldenavn="Andet Navn"))  # same cpr, other name
    return {"visitation": _visitations(), "borger": people}


def _ingest(folder: Path, root: Path, chunk: str | None, monkeypatch) -> dict:
    if chunk is None:
        monkeypatch.delenv(ENV_CHUNK_MB, raising=False)
    else:
        monkeypatch.setenv(ENV_CHUNK_MB, chunk)
    wh = Warehouse(root)
    d = ingest_delivery(folder, wh, accept_over_threshold=True)
    frames = {
        k: pl.read_parquet(v) if isinstance(v, Path) else v for k, v in sorted(d.frames.items())
    }
    chunked = sorted(k[0] for k, v in d.frames.items() if isinstance(v, Path))
    wh.write_many(d.frames)
    return {
        "frames": frames,
        "chunked": chunked,
        "stats": d.stats,
        "warnings": d.warnings,
        "affected_from": d.affected_from,
        "rejected_total": d.rejected_total,
        "heights": d.heights,
        "published": {t: pl.read_parquet(wh.partition_file(t, "2020-10")) for t, _ in frames},
        "leftovers": sorted(p.name for p in Path(root).rglob(".*")),
    }


def _same(whole: dict, chunked: dict) -> None:
    assert chunked["chunked"]  # the tiny chunk size did send files through the chunked path
    assert not whole["chunked"]
    assert whole["frames"].keys() == chunked["frames"].keys()
    for k in whole["frames"]:
        assert_frame_equal(whole["frames"][k], chunked["frames"][k])
        assert_frame_equal(whole["published"][k[0]], chunked["published"][k[0]])
    for key in ("stats", "warnings", "affected_from", "rejected_total", "heights"):
        assert whole[key] == chunked[key], key
    assert chunked["leftovers"] == []  # no spill or staged file is left behind


def test_chunks_give_the_whole_file_result(tmp_path, monkeypatch):
    folder = write_delivery(tmp_path / "inbox", "2020-10", _tables())
    whole = _ingest(folder, tmp_path / "a", None, monkeypatch)
    chunked = _ingest(folder, tmp_path / "b", TINY, monkeypatch)
    _same(whole, chunked)
    rejected = whole["frames"][("raw_afviste_raekker", "2020-10")]
    reasons = dict(zip(rejected["linje"], rejected["aarsag"], strict=True))
    assert sorted(reasons.values()).count("modstridende dublet af id") == 6
    assert "ugyldigt CPR-nummer" in reasons.values()
    assert whole["stats"]["visitation"]["dubletter_sammenfaldet"] == 4
    assert any("ukendte værdier" in w for w in whole["warnings"])


def _write(folder: Path, name: str, text: str, crlf: bool = False) -> None:
    data = text.replace("\n", "\r\n") if crlf else text
    (folder / f"{name}.csv").write_bytes(data.encode("utf-8"))
    manifest = json.loads((folder / contract.MANIFEST).read_text())
    raw = (folder / f"{name}.csv").read_bytes()
    manifest["files"][f"{name}.csv"] = {
        "rows": raw.replace(b"\r\n", b"\n").rstrip(b"\n").count(b"\n"),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    (folder / contract.MANIFEST).write_text(json.dumps(manifest))


def test_quotes_crlf_and_a_bom_in_chunks(tmp_path, monkeypatch):
    """Quoted fields (a separator inside), CRLF line ends and a byte-order mark: chunks end only
    where a record ends, and the rows are those of the whole file."""
    folder = write_delivery(tmp_path / "inbox", "2020-10", _tables())
    text = csv_text(contract.VISITATION, _visitations())
    lines = text.split("\n")
    for i in range(5, len(lines) - 1, 37):
        cols = lines[i].split(";")
        cols[4] = f'"{cols[4]};x"'
        lines[i] = ";".join(cols)
    _write(folder, "visitation", "\ufeff" + "\n".join(lines), crlf=True)
    whole = _ingest(folder, tmp_path / "a", None, monkeypatch)
    chunked = _ingest(folder, tmp_path / "b", TINY, monkeypatch)
    _same(whole, chunked)
    loaded = whole["frames"][("raw_visitation", "2020-10")]
    assert loaded.filter(pl.col("ydelsesgruppe").str.ends_with(";x")).height > 5


@pytest.mark.parametrize("fault", ["unclosed_quote", "ragged", "utf8", "rows"])
def test_file_faults_in_a_late_chunk_are_named_alike(tmp_path, monkeypatch, fault):
    """A fault far into the file (beyond many chunk borders) is the same rejection, with the
    same line, on both paths."""
    folder = write_delivery(tmp_path / "inbox", "2020-10", _tables())
    text = csv_text(contract.VISITATION, _visitations())
    lines = text.split("\n")
    if fault == "unclosed_quote":
        lines[301] = lines[301].replace("Kontanthjælp", '"Kontanthjælp')
    elif fault == "ragged":
        lines[333] += ";ekstra"
    elif fault == "utf8":
        lines[350] = lines[350].replace("Kontanthjælp", "Kontanthj\udce6lp")
    body = "\n".join(lines)
    if fault == "utf8":
        raw = body.encode("utf-8", "surrogateescape")
        (folder / "visitation.csv").write_bytes(raw)
        _write_manifest_entry(folder, raw)
    else:
        _write(folder, "visitation", body)
    if fault == "rows":
        manifest = json.loads((folder / contract.MANIFEST).read_text())
        manifest["files"]["visitation.csv"]["rows"] += 1
        (folder / contract.MANIFEST).write_text(json.dumps(manifest))
    errors = []
    for chunk in (None, TINY):
        if chunk is None:
            monkeypatch.delenv(ENV_CHUNK_MB, raising=False)
        else:
            monkeypatch.setenv(ENV_CHUNK_MB, chunk)
        root = tmp_path / f"wh{len(errors)}"
        with pytest.raises(DeliveryRejected) as e:
            ingest_delivery(folder, Warehouse(root), accept_over_threshold=True)
        errors.append(str(e.value))
        assert not [p for p in root.rglob(".*")], "nothing staged is left behind"
    assert errors[0] == errors[1]
    assert "visitation.csv" in errors[0]


def _write_manifest_entry(folder: Path, raw: bytes) -> None:
    manifest = json.loads((folder / contract.MANIFEST).read_text())
    manifest["files"]["visitation.csv"] = {
        "rows": raw.rstrip(b"\n").count(b"\n"),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    (folder / contract.MANIFEST).write_text(json.dumps(manifest))


def test_a_killed_chunked_ingest_leaves_nothing_the_next_load_keeps(tmp_path):
    """The spill folder and the staged file of a run killed mid-file are hidden temp names that
    the next load's clean-up removes."""
    wh = Warehouse(tmp_path / "wh")
    staged = wh.staging_file("raw_visitation", "2020-10")
    staged.write_bytes(b"half")
    spill = staged.parent / ".indlaes-abc.tmp"
    spill.mkdir()
    (spill / "r0.parquet").write_bytes(b"x")
    assert wh.partitions("raw_visitation") == []
    assert wh.clean_temp_files() == 2
    assert list(staged.parent.iterdir()) == []


@pytest.mark.parametrize("last_newline", [True, False])
def test_a_short_and_a_long_line_that_balance_are_both_found(tmp_path, last_newline):
    """A file with as many separators as the header asks for in all may still be ragged: one
    line short, another long. The first of them is named, whichever it is."""
    from dfdg_assets.ingest.delivery import parse_csv

    text = csv_text(contract.VISITATION, _visitations())
    lines = text.rstrip("\n").split("\n")
    for short, long_ in ((40, 300), (300, 40), (5, len(lines) - 1), (len(lines) - 1, 5)):
        ls = list(lines)
        ls[short] = ls[short].rsplit(";", 1)[0]
        ls[long_] += ";x"
        data = ("\n".join(ls) + ("\n" if last_newline else "")).encode()
        with pytest.raises(DeliveryRejected) as e:
            parse_csv("2020-10", contract.VISITATION, data)
        first = min(short, long_)
        assert e.value.line == first + 1
        assert e.value.fault.startswith("6 felter" if first == short else "8 felter")


def test_field_counts_left_to_the_reader_name_the_same_line_as_a_full_scan():
    """Random ragged files (short, long, trailing ';', empty and CR lines, with or without a
    last line end): `parse_csv` names exactly the line the line-by-line scan names, or none."""
    import random

    import numpy as np

    from dfdg_assets.ingest.delivery import _ragged_line, parse_csv

    r = random.Random(5)
    for _ in range(2000):
        n = r.randint(1, 30)
        lines = ["samtale_id;deltagertype"] + [f"S{i};Type" for i in range(n)]
        for _ in range(r.randint(0, 3)):
            i = r.randint(1, n)
            match r.choice(["short", "long", "trail", "empty", "cr", "double"]):
                case "short":
                    lines[i] = lines[i].split(";")[0]
                case "long":
                    lines[i] += ";x"
                case "trail":
                    lines[i] += ";"
                case "empty":
                    lines[i] = ""
                case "cr":
                    lines[i] += "\r"
                case "double":
                    lines[i] = ";;"
        data = ("\n".join(lines) + r.choice(["", "\n", "\n\n"])).encode()
        exact = _ragged_line(np.frombuffer(data, dtype=np.uint8), 2)
        try:
            parse_csv("2020-10", contract.SAMTALE_DELTAGER, data)
            got = None
        except DeliveryRejected as e:
            got = e.line
        assert got == (None if exact is None else exact[0] + 1), data


def test_a_file_whose_every_row_is_rejected_gives_an_empty_table_in_chunks(tmp_path, monkeypatch):
    rows = [dict(r, kommunekode=999) for r in _visitations()[:120]]
    people = [borger(c, navn=f"Navn {i}") for i, c in enumerate(CPRS[:50])]
    folder = write_delivery(tmp_path / "inbox", "2020-10", {"visitation": rows, "borger": people})
    whole = _ingest(folder, tmp_path / "a", None, monkeypatch)
    chunked = _ingest(folder, tmp_path / "b", TINY, monkeypatch)
    _same(whole, chunked)
    assert chunked["published"]["raw_visitation"].height == 0
