"""End to end: the real CLI as a subprocess on generated and hand-made deliveries, the worked
example through the Dagster definitions, re-runs, and the privacy sweep of the instance."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dfdg_assets.definitions import defs
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.jobs import INGEST_JOB
from dfdg_assets.orchestration.loader import load
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.conftest import clone_root
from dfdg_assets_tests.deliveries import (
    WORKED_CPR,
    WORKED_NAME,
    borger,
    visitation,
    write_delivery,
)

SECRET_CPR = "6512901234"
SECRET_NAME = "Hemmelig Testborgersen"
BAD_CPR = "3112901234"  # 31 December 1990 is fine; 3113 below is not


def dfdg(*args: str, root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DFDG_DATA_ROOT": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "dfdg_assets.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.slow  # generate + load as subprocesses (30-90 s)
def test_cli_generate_and_load_small_sample(tmp_path):
    root = tmp_path / "data"
    gen = dfdg(
        "generate",
        "--kommuner",
        "2",
        "--borgere",
        "200",
        "--fra",
        "2019-11",
        "--til",
        "2020-02",
        root=root,
    )
    assert gen.returncode == 0, gen.stderr
    assert sorted(p.name for p in (root / "inbox").iterdir()) == [
        "2019-11",
        "2019-12",
        "2020-01",
        "2020-02",
    ]
    res = dfdg("load", "--through", "2020-01", root=root)
    assert res.returncode == 0, res.stderr
    assert "[3/3] 2020-01 indlæst" in res.stdout
    con = duckdb.connect(str(root / "warehouse" / "dfdg.duckdb"), read_only=True)
    months = [
        r[0]
        for r in con.execute(
            "select distinct data_maaned from raw_visitation order by 1"
        ).fetchall()
    ]
    assert months == ["2019-11", "2019-12", "2020-01"]
    assert con.execute(
        "select count(*) from raw_ydelse where data_maaned < '2020-01'"
    ).fetchone() == (0,)
    assert (
        con.execute("select count(*) from raw_ydelse where data_maaned = '2020-01'").fetchone()[0]
        > 0
    )
    # the rollout covers the retention window up to the newest loaded month
    assert con.execute("select min(maaned), max(maaned) from dim_tid_uge").fetchone() == (
        "2017-01",
        "2020-01",
    )
    n_stg = con.execute("select count(*) from stg_visitation").fetchone()[0]
    n_ids = con.execute("select count(distinct visitation_id) from raw_visitation").fetchone()[0]
    assert n_stg == n_ids > 0
    con.close()
    again = dfdg("load", root=root)
    assert again.returncode == 0 and "[1/1] 2020-02 indlæst" in again.stdout
    third = dfdg("load", root=root)
    assert "Ingen nye leveringer" in third.stdout


def test_cli_errors_are_one_line(tmp_path):
    res = dfdg("load", root=tmp_path / "nothing")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("dfdg: ")
    bad = dfdg("generate", "--fra", "2020-13", root=tmp_path / "x")
    assert bad.returncode == 2


def test_worked_example_current_state(worked_loaded):
    root, report = worked_loaded.root, worked_loaded.report  # one `dfdg load` of both months
    assert report.loaded == ["2020-10", "2020-11"] and report.rollout == ("2020-10", "2020-11")
    wh = Warehouse(root.warehouse)
    stg = wh.read("stg_visitation").sort("visitation_id")
    assert stg["visitation_id"].to_list() == ["V1", "V2", "V3", "V4", "V5"]
    assert stg["visitationskategori"].to_list()[-1] == "Afmeldt"
    assert "cpr" not in stg.columns and stg["borger_key"].n_unique() == 1
    held = wh.read("stg_samtale").filter(pl.col("samtalestatus") == "Afholdt")
    assert held["samtale_id"].to_list() == ["S1"]
    assert wh.read("stg_samtale_deltager")["deltagertype"].to_list() == ["Mentor"]
    dim = wh.read("dim_borger")
    assert dim["cpr"].to_list() == [WORKED_CPR] and dim["fuldenavn"].to_list() == [WORKED_NAME]
    assert dim["borger_key"].to_list() == stg["borger_key"].unique().to_list()
    weeks = wh.read("dim_tid_uge", ["2020-10"])["uge"].to_list()
    assert weeks == ["2020-W40", "2020-W41", "2020-W42", "2020-W43"]
    assert wh.read("dim_tid_uge", ["2020-11"])["uge"].to_list() == [
        f"2020-W{w}" for w in range(44, 49)
    ]
    assert wh.read("dim_organisation")["org_navn"].to_list() == ["Jobcenter København"]


def test_rerunning_a_month_gives_identical_tables(worked_loaded, tmp_path):
    root = clone_root(worked_loaded.root, tmp_path / "data")  # the worked example, loaded
    wh = Warehouse(root.warehouse)
    tables = [t for t in wh.tables() if not t.startswith("dim_tid")]
    before = {t: wh.read(t) for t in tables}
    instance = open_instance(root)
    assert "2020-10-01" in instance.get_dynamic_partitions("data_maaned")  # added by the load
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance,
        partition_key="2020-10-01",
        run_config={"resources": {"data_root": {"config": {"root": str(root.root)}}}},
    )
    assert result.success
    for t in tables:
        assert_frame_equal(wh.read(t), before[t], check_row_order=True)


def test_correction_replaces_earlier_version(root):
    write_delivery(
        root.inbox,
        "2020-10",
        {
            "visitation": [visitation("V1", SECRET_CPR, "2020-10-05T09:00:00")],
            "borger": [borger(SECRET_CPR)],
        },
    )
    write_delivery(
        root.inbox,
        "2020-11",
        {
            "visitation": [
                visitation("V1", SECRET_CPR, "2020-10-06T09:00:00", kategori="Aktivitetsparat")
            ],
            "borger": [borger(SECRET_CPR)],
        },
    )
    load(root, out=lambda _: None)
    stg = Warehouse(root.warehouse).read("stg_visitation")
    assert stg.select("visitation_id", "visitationskategori", "data_maaned").rows() == [
        ("V1", "Aktivitetsparat", "2020-11")
    ]
    # a conflicting duplicate in a later delivery is rejected and the id keeps its earlier version
    write_delivery(
        root.inbox,
        "2020-12",
        {
            "visitation": [
                visitation("V1", SECRET_CPR, "2020-12-01T09:00:00", kategori="Jobparat"),
                visitation("V1", SECRET_CPR, "2020-12-01T09:00:00", kategori="Ikke visiteret"),
            ]
            + [
                visitation(f"W{i}", SECRET_CPR, f"2020-12-{2 + i % 20:02d}T10:{i:02d}:00")
                for i in range(200)
            ],
            "borger": [borger(SECRET_CPR)],
        },
    )
    load(root, out=lambda _: None)
    stg = Warehouse(root.warehouse).read("stg_visitation").filter(pl.col("visitation_id") == "V1")
    assert stg.select("visitationskategori", "data_maaned").rows() == [
        ("Aktivitetsparat", "2020-11")
    ]


@pytest.mark.slow  # the real CLI as a subprocess (a fresh Dagster import and load): 20-36 s
def test_no_cpr_or_name_reaches_the_instance_or_the_logs(tmp_path):
    """Seed a known CPR and name (also in rejected rows and a held delivery), run the real CLI,
    and search every byte Dagster stored and everything the CLI printed."""
    root = tmp_path / "data"
    inbox = root / "inbox"
    rows = [
        visitation(f"V{i}", SECRET_CPR, f"2020-10-{1 + i % 28:02d}T{8 + i // 28:02d}:00:00")
        for i in range(150)
    ]
    rows.append(visitation("VX", "3113901234", "2020-10-05T09:00:00"))  # invalid CPR: rejected row
    write_delivery(
        inbox, "2020-10", {"visitation": rows, "borger": [borger(SECRET_CPR, SECRET_NAME)]}
    )
    bad = [visitation("Y1", SECRET_CPR, "2020-11-02T09:00:00", kommune=999)] * 1 + [
        visitation(f"Y{i}", SECRET_CPR, f"2020-11-{2 + i:02d}T09:00:00") for i in range(2, 10)
    ]
    write_delivery(
        inbox, "2020-11", {"visitation": bad, "borger": [borger(SECRET_CPR, SECRET_NAME)]}
    )
    res = dfdg("load", root=root)
    assert res.returncode == 1  # 2020-11 is held back (1 of 9 rows rejected > 1 %)
    printed = res.stdout + res.stderr
    assert "holdt tilbage" in printed
    # the data is there (the test can fail) ...
    wh = Warehouse(root / "warehouse")
    assert wh.read("dim_borger")["cpr"].to_list() == [SECRET_CPR]
    assert wh.read("raw_afviste_raekker")["aarsag"].to_list() == ["ugyldigt CPR-nummer"]
    # ... but nowhere Dagster keeps anything, nor in what was printed
    for needle in (SECRET_CPR, "3113901234", SECRET_NAME):
        assert needle not in printed
        for p in (root / "dagster_home").rglob("*"):
            if p.is_file():
                assert needle.encode() not in p.read_bytes(), (
                    f"{needle[:2]}… found in {p.relative_to(root)}"
                )
    instance = open_instance(type("R", (), {"dagster_home": root / "dagster_home"})())
    assert len(instance.get_runs(filters=dg.RunsFilter(job_name=INGEST_JOB))) >= 2
