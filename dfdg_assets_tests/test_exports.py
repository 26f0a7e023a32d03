"""Data packages (SPEC section 6): one loaded sample, every municipality and both levels.

No other municipality's citizen in a package, manifest counts and hashes that match the files,
byte-identical repeats, dimensions holding only referenced members, the Dagster job (and nothing
personal in its event log), the CLI and its one-line refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from dfdg_assets.core.privacy import PersonalDataSafeError
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.exports.packages import (
    DATAMART_TABLES,
    DSA_TABLES,
    ExportError,
    InvalidRequest,
    NoData,
    UnknownMunicipality,
    export_package,
    read_manifest,
)
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.conftest import SAMPLE_FRA, SAMPLE_KOMMUNER, SAMPLE_TIL, clone_root

KOMMUNER = [101, 751, 825]
NIVEAUER = ["datamart", "dsa"]
FRA, TIL = "2019-12", "2020-02"
CASES = [(k, n) for k in KOMMUNER for n in NIVEAUER]
TEN_DIGITS = re.compile(r"(?<!\d)\d{10}(?!\d)")
T1 = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
T2 = dt.datetime(2025, 6, 7, 8, 9, 10, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Sample:
    root: DataRoot
    wh: Warehouse
    own_cprs: dict[int, set[str]]  # CPRs with a record of the municipality in the raw tables
    all_cprs: set[str]
    names: set[str]
    packages: dict[tuple[int, str], Path]  # written with now=T1
    repeats: dict[tuple[int, str], Path]  # the same, again, elsewhere, with now=T2


@pytest.fixture(scope="module")
def sample(tmp_path_factory, generated_loaded) -> Sample:
    base = tmp_path_factory.mktemp("exports")
    # the session's generated sample (three municipalities, 500 citizens, FRA..TIL, seed 11),
    # copied: the tests write packages into its exports folder
    assert (generated_loaded.root.inbox / FRA).is_dir()
    assert (SAMPLE_KOMMUNER, SAMPLE_FRA, SAMPLE_TIL) == (KOMMUNER, FRA, TIL)
    report = generated_loaded.report
    assert report.ok, report
    root = clone_root(generated_loaded.root, base / "data")
    wh = Warehouse(root.warehouse)
    records = pl.concat(
        [
            wh.read(f"raw_{f}").select("cpr", "kommunekode")
            for f in ("visitation", "aktivitet", "samtale", "ydelse", "borger")
        ]
    ).unique()
    own = {k: set(records.filter(pl.col("kommunekode") == k)["cpr"].to_list()) for k in KOMMUNER}
    dim = wh.read("dim_borger")
    packages = {
        (k, n): export_package(root, k, n, FRA, TIL, out=base / "a", now=T1) for k, n in CASES
    }
    repeats = {
        (k, n): export_package(root, k, n, FRA, TIL, out=base / "b", now=T2) for k, n in CASES
    }
    return Sample(
        root,
        wh,
        own,
        set(dim["cpr"].to_list()),
        set(dim["fuldenavn"].drop_nulls().to_list()),
        packages,
        repeats,
    )


def _tables(path: Path) -> dict[str, pl.DataFrame]:
    return {t: pl.read_parquet(path / f"{t}.parquet") for t in read_manifest(path)["tables"]}


def _ten_digit_strings(path: Path) -> set[str]:
    """Every 10-digit string in every file of a package, Parquet read back as text."""
    found: set[str] = set()
    for f in sorted(path.iterdir()):
        if f.suffix == ".parquet":
            df = pl.read_parquet(f)
            for col in df.columns:
                for v in df[col].cast(pl.String).drop_nulls().to_list():
                    found.update(TEN_DIGITS.findall(v))
        else:
            text = f.read_text(encoding="utf-8")
            if f.name == "manifest.json":  # SHA-256 hex digests may hold 10-digit runs
                text = re.sub(r'"sha256": "[0-9a-f]{64}"', "", text)
            found.update(TEN_DIGITS.findall(text))
    return found


def _without_generated_at(path: Path) -> dict:
    m = read_manifest(path)
    m.pop("generated_at")
    return m


def _same_package(a: Path, b: Path) -> None:
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir())
    assert _without_generated_at(a) == _without_generated_at(b)
    for name in files:
        if name != "manifest.json":
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


# ================================================================ privacy
@pytest.mark.parametrize("kommune,niveau", CASES)
def test_no_cpr_of_a_citizen_without_a_record_of_the_municipality(sample, kommune, niveau):
    found = _ten_digit_strings(sample.packages[(kommune, niveau)])
    assert found, "the package holds its own citizens' CPR numbers (the test can fail)"
    assert sample.all_cprs - sample.own_cprs[kommune], "other municipalities have citizens"
    foreign = found - sample.own_cprs[kommune]
    assert not foreign, f"{len(foreign)} CPR-like strings of other citizens"


@pytest.mark.parametrize("kommune", KOMMUNER)
def test_dsa_holds_only_the_municipalitys_raw_rows(sample, kommune):
    tables = _tables(sample.packages[(kommune, "dsa")])
    assert list(tables) == sorted(DSA_TABLES)
    for t in ("raw_visitation", "raw_aktivitet", "raw_samtale", "raw_ydelse", "raw_borger"):
        df = tables[t]
        assert (df["kommunekode"] == kommune).all(), t
        assert set(df["data_maaned"].to_list()) <= {"2019-12", "2020-01", "2020-02"}
        expected = sample.wh.read(t).filter(pl.col("kommunekode") == kommune)
        assert df.height == expected.height, t  # all of them, as received
    own = set(tables["raw_samtale"].select("data_maaned", "samtale_id").rows())
    assert set(tables["raw_samtale_deltager"].select("data_maaned", "samtale_id").rows()) <= own


# ================================================================ manifest and files
@pytest.mark.parametrize("kommune,niveau", CASES)
def test_manifest_matches_the_files(sample, kommune, niveau):
    path = sample.packages[(kommune, niveau)]
    m = read_manifest(path)
    assert m["municipality"]["code"] == kommune and m["municipality"]["name"]
    assert m["niveau"] == niveau
    assert (m["period"]["fra"], m["period"]["til"]) == (FRA, TIL)
    assert m["generated_at"] == T1.isoformat()
    assert set(m["tables"]) == set(DATAMART_TABLES if niveau == "datamart" else DSA_TABLES)
    listed = {"manifest.json", *m["files"]}
    for table, entry in m["tables"].items():
        assert pl.read_parquet(path / f"{table}.parquet").height == entry["rows"], table
        csv = pl.read_csv(path / f"{table}.csv", infer_schema=False)
        assert csv.height == entry["rows"], table
        listed |= set(entry["files"])
    for name, f in [(n, f) for e in m["tables"].values() for n, f in e["files"].items()] + list(
        m["files"].items()
    ):
        data = (path / name).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data), name
    assert {p.name for p in path.iterdir()} == listed
    # keys sorted, deterministic layout
    text = (path / "manifest.json").read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    # no temp folder left beside the packages
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("kommune,niveau", CASES)
def test_same_package_twice_is_byte_identical_apart_from_generated_at(sample, kommune, niveau):
    a, b = sample.packages[(kommune, niveau)], sample.repeats[(kommune, niveau)]
    assert read_manifest(b)["generated_at"] == T2.isoformat()
    _same_package(a, b)


def test_readme_describes_every_table_and_column(sample):
    for path in sample.packages.values():
        readme = (path / "README.md").read_text(encoding="utf-8")
        for table, df in _tables(path).items():
            section = readme.split(f"\n### {table}\n", 1)[1].split("\n### ", 1)[0]
            assert "Grain:" in section
            for col in df.columns:
                assert f"| `{col}` |" in section, (table, col)


def test_csv_format(sample):
    path = sample.packages[(101, "dsa")]
    text = (path / "raw_visitation.csv").read_bytes().decode("utf-8")
    assert not text.startswith("\ufeff") and "\r" not in text
    header, first = text.split("\n")[:2]
    assert header.startswith("data_maaned,linje,visitation_id,cpr,kommunekode,")
    assert re.search(r",\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,", first)  # delivery timestamp format
    bench = pl.read_csv(
        sample.packages[(101, "datamart")] / "cube_benchmark.csv", infer_schema=False
    )
    assert bench.height and "publiceret" not in bench.columns and "revision" not in bench.columns


# ================================================================ datamart content
@pytest.mark.parametrize("kommune", KOMMUNER)
def test_datamart_dimensions_hold_only_referenced_members(sample, kommune):
    t = _tables(sample.packages[(kommune, "datamart")])
    facts = [n for n, df in t.items() if not n.startswith("dim_") and "borger_key" in df.columns]
    assert set(facts) == {
        "fct_visitation_uge",
        "fct_aktivitet_uge",
        "fct_samtale_uge",
        "stg_ydelse",
        "fct_borger_ydelse_uge",
    }
    referenced = set().union(*(set(t[n]["borger_key"].to_list()) for n in facts))
    assert set(t["dim_borger"]["borger_key"].to_list()) == referenced
    assert t["dim_borger"]["borger_key"].is_unique().all()
    orgs = set(t["fct_visitation_uge"]["visiterende_org_id"].drop_nulls().to_list())
    orgs |= set(t["fct_aktivitet_uge"]["ansvarlig_org_id"].drop_nulls().to_list())
    orgs |= set(t["fct_aktivitet_uge"]["aktiverende_org_id"].drop_nulls().to_list())
    orgs |= set(t["fct_samtale_uge"]["indkaldende_org_id"].drop_nulls().to_list())
    assert set(t["dim_organisation"]["org_id"].to_list()) == orgs
    edu = set(
        t["fct_aktivitet_uge"]
        .select("uddannelseskode", "uddannelseskodetype")
        .drop_nulls("uddannelseskode")
        .rows()
    )
    assert set(t["dim_uddannelse"].select("uddannelseskode", "uddannelseskodetype").rows()) == edu
    assert t["dim_kommune"]["kommunekode"].to_list() == [kommune]
    assert set(t["dim_tid_uge"]["maaned"].to_list()) == {"2019-12", "2020-01", "2020-02"}
    weeks = set(t["dim_tid_uge"]["uge"].to_list())
    for n in ("fct_visitation_uge", "fct_aktivitet_uge", "fct_samtale_uge", "stg_ydelse"):
        assert (t[n]["kommunekode"] == kommune).all(), n
        assert set(t[n]["uge"].to_list()) <= weeks, n
    assert (t["fct_befolkning_16_66"]["kommunekode"] == kommune).all()
    assert set(t["cube_benchmark"]["kommune"].to_list()) == {f"{kommune:03d}", "Hele landet"}
    # a citizen-week of the YR link belongs to the municipality through its course/activity weeks
    own_weeks = set(t["fct_visitation_uge"].select("borger_key", "uge").rows()) | set(
        t["fct_aktivitet_uge"].select("borger_key", "uge").rows()
    )
    assert set(t["fct_borger_ydelse_uge"].select("borger_key", "uge").rows()) <= own_weeks
    held = set(t["fct_samtale_uge"].select("samtale_id", "maaned").rows())
    assert set(t["bdg_samtale_deltager"].select("samtale_id", "maaned").rows()) <= held


# ================================================================ refusals
def test_refusals_are_one_line_errors_and_write_nothing(sample, tmp_path):
    cases = [
        (UnknownMunicipality, dict(kommune=999)),
        (InvalidRequest, dict(fra="2020-02", til="2019-12")),
        (InvalidRequest, dict(niveau="alt")),
        (InvalidRequest, dict(fra="2020-1")),
        (NoData, dict(fra="2021-01", til="2021-03")),  # nothing loaded
        (NoData, dict(kommune=147)),  # Frederiksberg: no records in the sample
    ]
    for cls, kw in cases:
        args = {"kommune": 101, "niveau": "datamart", "fra": FRA, "til": TIL, **kw}
        with pytest.raises(cls) as exc:
            export_package(sample.root, out=tmp_path, **args)
        assert isinstance(exc.value, ExportError) and isinstance(exc.value, PersonalDataSafeError)
        assert "\n" not in str(exc.value) and str(exc.value)
    with pytest.raises(NoData):
        export_package(sample.root, 751, "dsa", "2018-01", "2018-02", out=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_partial_period_lists_the_months_without_data(sample, tmp_path):
    p = export_package(sample.root, 751, "dsa", "2020-02", "2020-03", out=tmp_path)
    assert read_manifest(p)["period"]["months_without_data"] == ["2020-03"]
    assert p.name == "751_dsa_2020-02_2020-03"


def test_default_location_and_replacing_a_package(sample):
    stale = sample.root.exports / ".825_datamart_2019-12_2020-02.0123.tmp"  # a killed export's
    stale.mkdir(parents=True)
    os.utime(stale, (0, 0))
    p1 = export_package(sample.root, 825, "datamart", FRA, TIL, now=T1)
    assert p1 == sample.root.exports / "825_datamart_2019-12_2020-02"
    p2 = export_package(sample.root, 825, "datamart", FRA, TIL, now=T2)  # replaces it in place
    assert p2 == p1 and read_manifest(p2)["generated_at"] == T2.isoformat()
    _same_package(p2, sample.packages[(825, "datamart")])
    assert [p.name for p in sample.root.exports.iterdir()] == [p1.name]


# ================================================================ Dagster job
def test_dagster_job_writes_the_same_package_and_logs_nothing_personal(sample, tmp_path):
    from dfdg_assets.definitions import defs

    job = defs.resolve_job_def("eksporter_datapakke")
    home = tmp_path / "instance"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(tempdir=str(home))

    def run(**cfg):
        return job.execute_in_process(
            instance=instance,
            run_config={
                "ops": {"eksporter": {"config": cfg}},
                "resources": {"data_root": {"config": {"root": str(sample.root.root)}}},
            },
            raise_on_error=False,
        )

    result = run(kommune=101, niveau="dsa", fra=FRA, til=TIL, out=str(tmp_path / "job"))
    assert result.success
    path = Path(result.output_for_node("eksporter"))
    assert path == tmp_path / "job" / "101_dsa_2019-12_2020-02"
    _same_package(path, sample.packages[(101, "dsa")])
    refused = run(kommune=999, niveau="datamart", fra=FRA, til=TIL)
    assert not refused.success
    failures = [e for e in refused.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "ukendt kommunekode 999" in failures[0].step_failure_data.error.message
    instance.dispose()

    stored = b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())
    assert b"raw_visitation: " in stored  # the logs are there (the search can find things)
    for cpr in sorted(sample.all_cprs):
        assert cpr.encode() not in stored
    for name in sorted(sample.names):
        assert name.encode() not in stored
    assert job.tags.get("dfdg/skriver") is None  # reads only: never queues behind a load


# ================================================================ CLI
def _dfdg(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("DFDG_DATA_ROOT", None)
    return subprocess.run(
        [sys.executable, "-m", "dfdg_assets.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        env=env,
        timeout=120,
    )


def test_cli_export_and_its_one_line_refusal(sample, tmp_path):
    root = str(sample.root.root)
    common = ["--niveau", "datamart", "--fra", FRA, "--til", TIL]
    res = _dfdg("--data-root", root, "export", "--kommune", "751", *common, "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    path = tmp_path / "751_datamart_2019-12_2020-02"
    assert str(path) in res.stdout
    for table, entry in read_manifest(path)["tables"].items():
        assert re.search(rf"^\s+{table}\s+{entry['rows']} rækker$", res.stdout, re.M), table
    _same_package(path, sample.packages[(751, "datamart")])

    res = _dfdg("export", "--data-root", root, "--kommune", "999", *common)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dfdg: ukendt kommunekode 999"), res.stderr
