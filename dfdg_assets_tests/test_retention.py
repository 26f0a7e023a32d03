"""R10 retention: nothing before January of Y-3 remains anywhere under the data root, history
still in force keeps counting, numbers inside the window do not change, pruning is idempotent."""

import json
import shutil

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dfdg_assets.core.partitions import ensure
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.cubes.query import query_dfdg
from dfdg_assets.definitions import defs
from dfdg_assets.ingest import contract
from dfdg_assets.maintenance import retention
from dfdg_assets.maintenance.retention import COLLECT_VERSIONS, PRUNING, prune
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.jobs import INGEST_JOB
from dfdg_assets.orchestration.loader import load
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.conftest import warehouse_snapshot
from dfdg_assets_tests.deliveries import borger, visitation, write_delivery

GONE = "6506751234"  # every record in 2017, ends there
GONE_NAME = "Forsvundet Fortidsen"
OPEN = "6207801234"  # a course opened in 2017 and never ended
ACTIVE = "6308851234"  # an activity started in 2017, still ongoing
NEW = "6409901234"  # only records from 2020 on


def _activity(aid, cpr, start, end=None, kommune=101):
    row = {c: None for c in contract.AKTIVITET.column_names}
    row.update(
        aktivitet_id=aid,
        cpr=cpr,
        kommunekode=kommune,
        ansvarlig_org_id="JC101",
        startdato=start,
        slutdato=end,
        aktiveringstype="Mentor",
        aktivitetsstatus="Optaget",
        timer_pr_uge=10,
    )
    return row


def _samtale(sid, cpr, dato):
    return {
        "samtale_id": sid,
        "cpr": cpr,
        "kommunekode": 101,
        "samtaledato": dato,
        "samtaletype": "Jobsamtale",
        "kontaktform": "Telefon",
        "samtalestatus": "Afholdt",
        "indkaldende_org_id": "JC101",
    }


def _inbox(inbox):
    residents = [borger(GONE, GONE_NAME), borger(OPEN), borger(ACTIVE), borger(NEW)]
    write_delivery(
        inbox,
        "2017-06",
        {
            "visitation": [
                visitation("G1", GONE, "2017-06-05T09:00:00"),
                visitation("G2", GONE, "2017-06-20T09:00:00", kategori="Afmeldt"),
                visitation("O1", OPEN, "2017-06-10T09:00:00", kategori="Aktivitetsparat"),
                visitation("GX", GONE, "2017-06-21T09:00:00", kommune=999),  # a rejected row
            ],
            "aktivitet": [_activity("GA", GONE, "2017-06-06", "2017-06-15")],
            "samtale": [_samtale("GS", GONE, "2017-06-07")],
            "samtale_deltager": [{"samtale_id": "GS", "deltagertype": "Mentor"}],
            "borger": residents,
        },
    )
    write_delivery(
        inbox,
        "2017-12",
        {"aktivitet": [_activity("AA", ACTIVE, "2017-12-04")], "borger": residents[1:]},
    )
    write_delivery(
        inbox,
        "2020-12",
        {"visitation": [visitation("N1", NEW, "2020-12-07T09:00:00")], "borger": residents[1:]},
    )
    write_delivery(
        inbox,
        "2021-01",
        {
            "visitation": [
                visitation("N2", NEW, "2021-01-11T09:00:00", kategori="Aktivitetsparat")
            ],
            "samtale": [_samtale("NS", NEW, "2021-01-12")],
            "borger": residents[1:],
        },
    )


def _load(root: DataRoot, retention: bool) -> None:
    _inbox(root.inbox)
    report = load(root, accept={"2017-06"}, retention=retention, out=lambda _: None)
    assert report.loaded == ["2017-06", "2017-12", "2020-12", "2021-01"], report.failed


@pytest.fixture(scope="module")
def pruned(tmp_path_factory):
    root = DataRoot.of(tmp_path_factory.mktemp("ret") / "data")
    root.inbox.mkdir(parents=True)
    # data packages ordered earlier: one reaching before the cutoff, one inside the window
    for name, fra in (
        ("101_dsa_2017-06_2017-12", "2017-06"),
        ("101_dsa_2020-12_2020-12", "2020-12"),
    ):
        pkg = root.exports / name
        pkg.mkdir(parents=True)
        (pkg / "manifest.json").write_text(json.dumps({"period": {"fra": fra, "til": fra}}))
        (pkg / "raw_visitation.csv").write_text(f"cpr\n{GONE if fra < '2018' else NEW}\n")
    _load(root, retention=True)
    return root


@pytest.fixture(scope="module")
def kept(tmp_path_factory, pruned):
    root = DataRoot.of(tmp_path_factory.mktemp("noret") / "data")
    root.inbox.mkdir(parents=True)
    (root.warehouse).mkdir(parents=True)
    (root.warehouse / ".noegle").write_bytes((pruned.warehouse / ".noegle").read_bytes())
    _load(root, retention=False)
    return root


@pytest.fixture(scope="module")
def ingested_2017(tmp_path_factory):
    """The 2017 deliveries ingested by the ingest job (as the loader's ingest runs do, without
    pruning and not yet rolled out), the later two still waiting in the inbox: everything of
    2017 is there to be pruned."""
    root = DataRoot.of(tmp_path_factory.mktemp("ingest2017") / "data")
    _inbox(root.inbox)
    instance = open_instance(root)
    ensure(instance, ["2017-06", "2017-12"])
    for month in ("2017-06", "2017-12"):
        ops: dict = {"beskaer_opbevaring": {"config": {"aktiv": False}}}
        if month == "2017-06":
            ops["raw_levering"] = {"config": {"accepter_afviste_raekker": True}}
        result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
            instance=instance,
            partition_key=f"{month}-01",
            run_config={
                "resources": {"data_root": {"config": {"root": str(root.root)}}},
                "ops": ops,
            },
        )
        assert result.success
    return root


def _every_text(root: DataRoot) -> tuple[bytes, str]:
    """All bytes under the data root, and the text of every Parquet file's contents."""
    raw = b""
    texts = []
    for p in sorted(root.root.rglob("*")):
        if not p.is_file():
            continue
        raw += p.read_bytes()
        if p.suffix == ".parquet":
            df = pl.read_parquet(p)
            texts.append(df.select(pl.all().cast(pl.String)).write_csv())
    return raw, "\n".join(texts)


def test_nothing_before_the_cutoff_remains_anywhere(pruned):
    raw, text = _every_text(pruned)
    for needle in (GONE, GONE_NAME):
        assert needle.encode() not in raw
        assert needle not in text
    # the data we keep is really there (the search can fail)
    assert OPEN in text and ACTIVE in text
    assert sorted(p.name for p in pruned.inbox.iterdir()) == ["2020-12", "2021-01"]
    assert sorted(p.name for p in pruned.exports.iterdir()) == ["101_dsa_2020-12_2020-12"]
    wh = Warehouse(pruned.warehouse)
    for table in wh.tables():
        assert all(not p[:1].isdigit() or p >= "2018-01" for p in wh.partitions(table)), table
    assert not list((pruned.warehouse / "_leveringer").glob("2017-*"))
    rejected = wh.read("raw_afviste_raekker")
    assert not rejected.filter(pl.col("data_maaned") < "2018").height


def test_history_in_force_still_counts(pruned):
    out = query_dfdg(pruned.root, ["antal_borgere"], by=["maaned"], fra="2021-01", til="2021-01")
    assert out["antal_borgere"].to_list() == [
        3
    ]  # OPEN (course from 2017), ACTIVE (activity from 2017), NEW
    vis = query_dfdg(
        pruned.root,
        ["antal_visitationsforloeb"],
        by=["visitationskategori"],
        fra="2021-01",
        til="2021-01",
    )
    assert dict(vis.iter_rows()) == {"Aktivitetsparat": 2, "Jobparat": 1}


@pytest.mark.slow  # a second whole load (44 months rolled out) beside the pruned one: 25-30 s
@pytest.mark.parametrize(
    "measures, by",
    [
        (["antal_borgere"], ["maaned"]),
        (["antal_visitationsforloeb", "antal_borgere"], ["maaned", "visitationskategori"]),
        (
            ["antal_aktiveringsforloeb", "antal_dage_aktiveret", "antal_timer_aktiveret_pr_uge"],
            ["kvartal"],
        ),
        (["antal_samtaler"], ["aar"]),
        (["antal_borgere"], ["uge", "aktiveringstype"]),
    ],
)
def test_answers_inside_the_window_are_the_same_with_and_without_pruning(
    pruned, kept, measures, by
):
    a = query_dfdg(pruned.root, measures, by=by, fra="2018-01", til="2021-01")
    b = query_dfdg(kept.root, measures, by=by, fra="2018-01", til="2021-01")
    assert a.height > 0
    assert_frame_equal(a, b)


def test_pruning_twice_changes_nothing(pruned):
    wh = Warehouse(pruned.warehouse)
    before = warehouse_snapshot(pruned)
    report = prune(wh, pruned.inbox, pruned.exports, "2021-01", "2018-01")
    assert not report.pruned_anything and report.files == 0
    assert warehouse_snapshot(pruned) == before


@pytest.mark.slow  # two loads of a generated sample (~20 s)
def test_a_month_folder_that_is_a_symlink_is_unlinked_never_followed(tmp_path):
    outside = tmp_path / "andetsteds"
    root = DataRoot.of(tmp_path / "data")
    root.inbox.mkdir(parents=True)
    _inbox(outside)  # the deliveries live outside the data root ...
    for month in sorted(p.name for p in outside.iterdir()):
        if month < "2018":
            (root.inbox / month).symlink_to(outside / month)  # ... two linked into the inbox
        else:
            shutil.copytree(outside / month, root.inbox / month)
    report = load(root, accept={"2017-06"}, out=lambda _: None)
    assert report.ok and report.loaded == ["2017-06", "2017-12", "2020-12", "2021-01"]
    assert sorted(p.name for p in root.inbox.iterdir()) == ["2020-12", "2021-01"]
    assert (outside / "2017-06" / "manifest.json").is_file()  # the target is untouched
    raw, text = _every_text(root)
    assert GONE.encode() not in raw and GONE not in text
    assert not (root.warehouse / PRUNING).exists()


def test_a_pruning_that_fails_half_way_keeps_its_bookkeeping_and_the_next_run_completes(
    ingested_2017, tmp_path, monkeypatch
):
    root = DataRoot.of(tmp_path / "data")
    shutil.copytree(ingested_2017.root, root.root)
    wh = Warehouse(root.warehouse)
    assert wh.delivery_record("2017-06") is not None
    old = [t for t in wh.tables() for p in wh.partitions(t) if p[:1].isdigit() and p < "2018"]
    assert old  # tables to prune

    def fail(path):
        raise PermissionError("adgang nægtet")

    monkeypatch.setattr(retention, "_remove", fail)
    with pytest.raises(PermissionError):
        prune(wh, root.inbox, root.exports, "2021-01", "2018-01")
    # tables may be gone, but the bookkeeping is not: the month is still known, the marker says so
    assert (root.warehouse / PRUNING).exists()
    assert wh.delivery_record("2017-06") is not None
    monkeypatch.undo()

    report = prune(wh, root.inbox, root.exports, "2021-01", "2018-01")
    assert report.inbox_folders == ["2017-06", "2017-12"]
    assert wh.delivery_record("2017-06") is None
    assert not (root.warehouse / PRUNING).exists()
    assert (root.warehouse / COLLECT_VERSIONS).exists()


def test_status_names_no_check_of_a_pruned_month(pruned, kept, capsys):
    """`dfdg status` lists failing checks of the months the warehouse holds: 2017-06 (accepted
    with rejected rows) fails its check in both roots, but once pruned it is not named."""
    from dfdg_assets.cli import main

    for root, named in ((kept, True), (pruned, False)):
        main(["--data-root", str(root.root), "status"])
        checks = [line for line in capsys.readouterr().out.splitlines() if "WARN" in line]
        rejected = [line for line in checks if "ingen_afviste_raekker" in line]
        assert rejected == (
            ["  WARN  raw_afviste_raekker.ingen_afviste_raekker: 2017-06"] if named else []
        )
        assert not any("2017" in line for line in checks) or named
