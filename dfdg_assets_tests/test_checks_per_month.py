"""Checks per month (docs/decisions.md): real assets materialized on small frames with a real
Dagster instance; each monthly check's status is stored per month, a range run checks every month
of the range, and a deliberately broken month fails naming exactly that month."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dfdg_assets.cli import main
from dfdg_assets.core.checks import ERROR, WARN, failing
from dfdg_assets.core.partitions import ensure, months_in_range
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.dimensions.assets import dim_kommune, dim_region, dim_tid_dag, dim_tid_uge
from dfdg_assets.facts.assets import bdg_samtale_deltager
from dfdg_assets.facts.keys import KeyCheck
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.raw.assets import raw_levering
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.deliveries import copy_worked, write_manifest

PRIVATE = ("cpr", "borger_key", "navn", "6101801234", "Test Person")


def _range(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def _latest(instance: dg.DagsterInstance, asset: str, check: str) -> dict:
    """The latest evaluation of a check per partition (None: unpartitioned), as stored."""
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    out: dict = {}
    for rec in instance.event_log_storage.get_asset_check_execution_history(key, limit=200):
        ev = rec.event.dagster_event.event_specific_data if rec.event else None
        if rec.partition not in out and isinstance(ev, dg.AssetCheckEvaluation):
            out[rec.partition] = ev
    return out


def _no_personal_data(evaluations) -> None:
    for ev in evaluations:
        text = f"{ev.description} {dict(ev.metadata)}"
        for word in PRIVATE:
            assert word not in text, word


@pytest.fixture
def setup(root: DataRoot):
    """The data root's own Dagster instance (what `dfdg status` and the UI read)."""
    instance = open_instance(root)
    ensure(instance, months_in_range("2020-01", "2020-12"))  # the data months run here by hand
    return instance, {"data_root": DataRootResource(root=str(root.root))}, root


def test_a_range_run_checks_every_month_and_names_the_broken_one(setup):
    """dim_tid_dag over 2020-01..2020-03 in one run, with the weeks of 2020-02 missing from
    dim_tid_uge: fremmednoegler fails for 2020-02 only (ERROR), every other result passes."""
    instance, resources, _ = setup
    for m in ("2020-01-01", "2020-03-01"):
        assert dg.materialize(
            [dim_tid_uge], partition_key=m, instance=instance, resources=resources
        ).success
    result = dg.materialize(
        [dim_tid_dag],
        instance=instance,
        resources=resources,
        tags=_range("2020-01-01", "2020-03-01"),
    )
    assert result.success  # not a blocking check: the operator sees it, the data is published
    fk = _latest(instance, "dim_tid_dag", "fremmednoegler")
    assert {p: e.passed for p, e in fk.items()} == {
        "2020-01-01": True,
        "2020-02-01": False,
        "2020-03-01": True,
    }
    bad = fk["2020-02-01"]
    assert bad.severity == ERROR
    assert "2020-02" in bad.description
    assert "2020-01" not in bad.description and "2020-03" not in bad.description
    assert bad.metadata["maaned"].value == "2020-02"
    assert bad.metadata["uopfyldte"].value["uge -> dim_tid_uge"] >= 4  # 4-5 weeks, 7 days each
    unique = _latest(instance, "dim_tid_dag", "noegle_unik")
    assert {p: e.passed for p, e in unique.items()} == dict.fromkeys(fk, True)
    # each evaluation is about its month's materialization (the UI shows it as current)
    for partition, ev in fk.items():
        mat = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("dim_tid_dag"), asset_partitions=[partition]
            ),
            limit=1,
        ).records[0]
        assert ev.target_materialization_data.storage_id == mat.storage_id
        assert ev.partition == partition

    # the month repaired and re-run alone: its status changes, the others keep theirs
    dg.materialize(
        [dim_tid_uge], partition_key="2020-02-01", instance=instance, resources=resources
    )
    dg.materialize(
        [dim_tid_dag], partition_key="2020-02-01", instance=instance, resources=resources
    )
    fk_after = _latest(instance, "dim_tid_dag", "fremmednoegler")
    assert {p: e.passed for p, e in fk_after.items()} == dict.fromkeys(fk, True)
    assert (
        fk_after["2020-01-01"].target_materialization_data
        == fk["2020-01-01"].target_materialization_data
    )


def test_a_duplicated_bridge_key_fails_its_month(setup):
    """bdg_samtale_deltager: a participant row twice in a conversation of 2020-02 fails
    noegle_unik for 2020-02 only; every participant refers to a conversation of its month."""
    instance, resources, root = setup
    wh = Warehouse(root.warehouse)
    for month, ids in {"2020-01": ["S1"], "2020-02": ["S2", "S3"], "2020-03": ["S4"]}.items():
        wh.write("fct_samtale_uge", pl.DataFrame({"samtale_id": ids}), month)
    wh.write(
        "stg_samtale_deltager",
        pl.DataFrame(
            {
                "samtale_id": ["S1", "S2", "S2", "S3", "S4"],
                "deltagertype": ["Tolk", "Tolk", "Tolk", "Bisidder", "Tolk"],
            }
        ),
    )
    assert dg.materialize(
        [bdg_samtale_deltager],
        instance=instance,
        resources=resources,
        tags=_range("2020-01-01", "2020-03-01"),
    ).success
    unique = _latest(instance, "bdg_samtale_deltager", "noegle_unik")
    assert {p: e.passed for p, e in unique.items()} == {
        "2020-01-01": True,
        "2020-02-01": False,
        "2020-03-01": True,
    }
    bad = unique["2020-02-01"]
    assert bad.severity == ERROR and bad.description.startswith("2020-02: 1 dubletnøgler")
    assert bad.metadata["dubletter"].value == 1 and bad.metadata["raekker"].value == 3
    fk = _latest(instance, "bdg_samtale_deltager", "fremmednoegler")
    assert {p: e.passed for p, e in fk.items()} == dict.fromkeys(unique, True)
    _no_personal_data([*unique.values(), *fk.values()])
    keys = [
        dg.AssetCheckKey(dg.AssetKey("bdg_samtale_deltager"), c)
        for c in ("noegle_unik", "fremmednoegler")
    ]
    assert failing(instance, keys) == {"bdg_samtale_deltager.noegle_unik": [("2020-02", "ERROR")]}


def test_unpartitioned_dimensions_check_keys_and_references(setup, tmp_path):
    instance, resources, _ = setup
    result = dg.materialize([dim_region, dim_kommune], instance=instance, resources=resources)
    assert result.success
    for asset, check in (
        ("dim_region", "noegle_unik"),
        ("dim_kommune", "noegle_unik"),
        ("dim_kommune", "fremmednoegler"),
    ):
        ev = _latest(instance, asset, check)
        assert list(ev) == [None] and ev[None].passed, (asset, check)
    # municipalities published before their regions: the reference is reported, not assumed
    other = DataRoot.of(tmp_path / "other")
    other.inbox.mkdir(parents=True)
    dg.materialize(
        [dim_kommune],
        instance=instance,
        resources={"data_root": DataRootResource(root=str(other.root))},
    )
    ev = _latest(instance, "dim_kommune", "fremmednoegler")[None]
    assert not ev.passed and ev.severity == ERROR
    assert ev.metadata["uopfyldte"].value == {"regionskode -> dim_region": -1}


def test_key_check_counts_null_keys_and_orphans():
    dims = {"dim_kommune": pl.DataFrame({"kommunekode": [101, 147]})}
    check = KeyCheck("fct_befolkning_16_66", lambda t, _m, cols: dims[t].select(cols))
    check.add(
        pl.DataFrame({"kommunekode": [101, 147]}, schema={"kommunekode": pl.Int32}), "2020-01"
    )
    check.add(pl.DataFrame({"kommunekode": [101, None, 999, 999]}), "2020-02")
    v = check.verdicts()
    assert v["noegle_unik"]["2020-01"].passed and v["fremmednoegler"]["2020-01"].passed
    bad = v["noegle_unik"]["2020-02"]
    assert not bad.passed and bad.metadata["dubletter"] == 1 and bad.metadata["uden_noegle"] == 1
    assert v["fremmednoegler"]["2020-02"].metadata["uopfyldte"] == {"kommunekode -> dim_kommune": 2}


def _bad_row(inbox, month: str) -> None:
    """A visitation row with an invalid CPR number (day 00): a row-level fault (R12)."""
    f = inbox / month / "visitation.csv"
    header, first = f.read_text(encoding="utf-8").splitlines()[:2]
    fields = first.split(";")
    fields[0] = "V99"
    fields[header.split(";").index("cpr")] = "0001801234"
    f.write_text(f.read_text(encoding="utf-8") + ";".join(fields) + "\n", encoding="utf-8")
    write_manifest(inbox / month)


def test_rejected_rows_per_delivery_month(setup, capsys):
    """2020-10 clean, 2020-11 with a rejected row (over 1 % of its tiny file): the range run
    reports 2020-10 passed and 2020-11 ERROR (held back, the operator must act); accepted by run
    config, 2020-11 loads and its check is a WARN naming that month."""
    instance, resources, root = setup
    copy_worked(root.inbox)
    _bad_row(root.inbox, "2020-11")
    result = dg.materialize(
        [raw_levering],
        instance=instance,
        resources=resources,
        tags=_range("2020-10-01", "2020-11-01"),
        raise_on_error=False,
    )
    assert not result.success  # the held delivery fails the step, naming its month
    rejected = _latest(instance, "raw_afviste_raekker", "ingen_afviste_raekker")
    assert {p: e.passed for p, e in rejected.items()} == {
        "2020-10-01": True,
        "2020-11-01": False,
    }
    held = rejected["2020-11-01"]
    assert held.severity == ERROR and held.description.startswith("2020-11: holdt tilbage")
    assert "2020-10" not in held.description
    assert held.metadata["afvist_pr_fil"].value == {"visitation": 1}
    known = _latest(instance, "raw_visitation", "kendte_kodevaerdier")
    assert set(known) == {"2020-10-01"} and known["2020-10-01"].passed  # 2020-11 not loaded

    result = dg.materialize(
        [raw_levering],
        instance=instance,
        resources=resources,
        partition_key="2020-11-01",
        run_config={"ops": {"raw_levering": {"config": {"accepter_afviste_raekker": True}}}},
    )
    assert result.success
    rejected = _latest(instance, "raw_afviste_raekker", "ingen_afviste_raekker")
    assert rejected["2020-10-01"].passed
    warn = rejected["2020-11-01"]
    assert not warn.passed and warn.severity == WARN
    assert warn.description.startswith("2020-11: 1 rækker afvist (visitation: 1 (50.0 %))")
    assert warn.metadata["afviste_raekker"].value == 1
    _no_personal_data(rejected.values())

    # `dfdg status` names the failing checks with their months
    main(["--data-root", str(root.root), "status"])
    out = capsys.readouterr().out
    assert "  WARN  raw_afviste_raekker.ingen_afviste_raekker: 2020-11\n" in out
    assert "ERROR" not in out and "6101801234" not in out
