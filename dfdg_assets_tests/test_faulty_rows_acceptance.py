"""Acceptance (R12, R3): with invalid rows in every file (under 1 % each), every cube table and
the benchmark equal the contract's answer: the same inbox with those rows never delivered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dfdg_assets_tests.deliveries import write_manifest
from dfdg_assets_tests.test_crash_safety import dfdg, fresh_root, snapshot

FILES = ("visitation.csv", "aktivitet.csv", "samtale.csv", "ydelse.csv", "borger.csv")


def _bad_cpr(line: str, cpr_index: int) -> str:
    fields = line.split(";")
    fields[cpr_index] = "00" + fields[cpr_index][2:]  # day 00: not a CPR number
    return ";".join(fields)


def _inject(month_dir: Path, clean_dir: Path) -> int:
    """Damage under 1 % of the rows of every checked file (in `month_dir`) and write the same
    files without those rows to `clean_dir`: the contract's answer is that they never came."""
    faults = 0
    for name in FILES:
        lines = (month_dir / name).read_text(encoding="utf-8").splitlines()
        header, rows = lines[0], lines[1:]
        k = len(rows) // 150  # 0.67 %
        if k == 0:
            continue
        cpr = header.split(";").index("cpr")
        picked = set(range(7, len(rows), max(1, len(rows) // k))[:k])
        faulty = [_bad_cpr(r, cpr) if i in picked else r for i, r in enumerate(rows)]
        clean = [r for i, r in enumerate(rows) if i not in picked]
        if name == "visitation.csv" and len(rows) > 400:
            # a conflicting duplicate: the id is rejected whole (R3), the valid rows are
            # judged among themselves only
            j = next(i for i in range(len(rows)) if i not in picked and i > 20)
            fields = rows[j].split(";")
            ts = header.split(";").index("visitationstidspunkt")
            fields[ts] = fields[ts][:11] + "06:59:00"
            faulty.append(";".join(fields))
            clean = [r for r in clean if r != rows[j]]
            faults += 1
        faults += k
        (month_dir / name).write_text("\n".join([header, *faulty]) + "\n", encoding="utf-8")
        (clean_dir / name).write_text("\n".join([header, *clean]) + "\n", encoding="utf-8")
    write_manifest(month_dir)
    write_manifest(clean_dir)
    return faults


CUBE_PREFIXES = ("fct_", "dim_", "bdg_", "cube_")


@pytest.mark.slow
def test_invalid_rows_in_every_file_give_the_contracts_answer(tmp_path):
    gen = tmp_path / "gen"
    res = dfdg(
        "generate", "--kommuner", "2", "--borgere", "1000", "--fra", "2020-11",
        "--til", "2020-12", "--fejlrate", "0", "--out", str(gen / "inbox"), root=gen,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    faulty_inbox, clean_inbox = tmp_path / "faulty", tmp_path / "clean"
    shutil.copytree(gen / "inbox", faulty_inbox)
    shutil.copytree(gen / "inbox", clean_inbox)
    n = sum(_inject(faulty_inbox / m.name, clean_inbox / m.name) for m in faulty_inbox.iterdir())
    assert n >= 10

    a = fresh_root(faulty_inbox, tmp_path / "a")
    b = fresh_root(clean_inbox, tmp_path / "b")
    ra, rb = dfdg("load", root=a), dfdg("load", root=b)
    assert ra.returncode == 0, ra.stdout + ra.stderr
    assert rb.returncode == 0, rb.stdout + rb.stderr
    got, want = snapshot(a), snapshot(b)
    cubes = [v for v in want if v.startswith(CUBE_PREFIXES)]
    assert "cube_benchmark" in cubes and any(v.startswith("fct_") for v in cubes)
    for v in cubes:
        assert got[v] == want[v], f"{v} differs from the contract's answer"
