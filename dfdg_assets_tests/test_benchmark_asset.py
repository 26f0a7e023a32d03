"""The published benchmark in Dagster: audited before it is written, a blocking check over what
is published, revisions, and a negative control (an under-suppressed table fails the check)."""

import dagster as dg
import polars as pl
import pytest

from dfdg_assets.core.partitions import ensure, months_in_range
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.cubes.assets import benchmark as benchmark_assets
from dfdg_assets.cubes.assets.benchmark import (
    TABLE,
    afsloeringskontrol,
    audit_published,
    cube_benchmark,
)
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.conftest import clone_root


@pytest.fixture(scope="module")
def loaded(generated_loaded):
    """The session's generated sample: municipalities 101, 751 and 825 (Læsø, tiny),
    2019-12..2020-02, loaded with `dfdg load`. Tests that publish again work on a copy."""
    assert generated_loaded.report.ok
    return generated_loaded.root


@pytest.fixture
def loaded_copy(loaded, tmp_path):
    return clone_root(loaded, tmp_path / "data")


def test_published_months_pass_the_blocking_check(loaded):
    wh = Warehouse(loaded.warehouse)
    # the benchmark starts with 2020-01: no earlier month is written (nor offered in the UI)
    assert wh.partitions(TABLE) == ["2020-01", "2020-02"]
    instance = open_instance(loaded)
    assert instance.get_dynamic_partitions("benchmark_maaned") == ["2020-01-01", "2020-02-01"]
    table = wh.read(TABLE, ["2020-01", "2020-02"])
    assert set(table["revision"]) == {1} and table["publiceret"].null_count() == 0
    shown = table.filter(pl.col("antal_ydelsesmodtagere").is_between(1, 4))
    assert shown.height == 0
    assert table["antal_ydelsesmodtagere_undertrykt"].sum() > 0  # Læsø is tiny: something is hidden
    # the roll-out, then the benchmark in its own job (its own partitions)
    runs = [
        instance.get_runs(filters=dg.RunsFilter(job_name=job), limit=1)[0]
        for job in ("udrul_maaneder", "udrul_benchmark")
    ]
    evaluations = [
        e
        for run in runs
        for e in instance.get_records_for_run(run.run_id, limit=100_000).records
        if e.event_log_entry.dagster_event
        and e.event_log_entry.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    by_check: dict[tuple[str, str], dict[str | None, bool]] = {}
    for d in (e.event_log_entry.dagster_event.event_specific_data for e in evaluations):
        by_check.setdefault((d.asset_key.path[-1], d.check_name), {})[d.partition] = d.passed
    # the disclosure audit and the key and foreign-key checks of every monthly fact, bridge and
    # time dimension pass, each reported for every month of the roll-out
    first = runs[0].tags["dagster/asset_partition_range_start"]
    last = runs[0].tags["dagster/asset_partition_range_end"]
    assert first <= "2019-12-01" and last == "2020-02-01"
    months = {f"{m}-01" for m in months_in_range(first, last)}
    # the benchmark's own run covers its months only (from 2020-01)
    assert runs[1].tags["dagster/asset_partition_range_start"] == "2020-01-01"
    monthly = (
        "fct_visitation_uge",
        "fct_aktivitet_uge",
        "fct_samtale_uge",
        "bdg_samtale_deltager",
        "fct_borger_ydelse_uge",
        "fct_befolkning_16_66",
        "dim_tid_dag",
    )
    assert by_check == {
        ("cube_benchmark", "afsloeringskontrol"): dict.fromkeys(["2020-01-01", "2020-02-01"], True),
        ("dim_tid_uge", "noegle_unik"): dict.fromkeys(months, True),
        ("fct_borger_maaned", "noegle_unik"): dict.fromkeys(months, True),
        ("fct_borger_ydelse_maaned", "noegle_unik"): dict.fromkeys(months, True),
        **{
            (f, c): dict.fromkeys(months, True)
            for f in monthly
            for c in ("noegle_unik", "fremmednoegler")
        },
    }


def test_an_under_suppressed_table_fails_the_check(loaded, tmp_path):
    """Negative control: put a small count back in view and the blocking check fails."""
    wh = Warehouse(loaded.warehouse)
    table = wh.read(TABLE, ["2020-01"])
    hidden = table.filter(pl.col("antal_ydelsesmodtagere_undertrykt")).head(1)
    assert hidden.height == 1
    key = hidden.select("kommune", "breakdown", "breakdown_vaerdi").row(0)
    tampered = table.with_columns(
        pl.when(
            (pl.col("kommune") == key[0])
            & (pl.col("breakdown") == key[1])
            & (pl.col("breakdown_vaerdi") == key[2])
        )
        .then(pl.lit(3, pl.Int64))
        .otherwise(pl.col("antal_ydelsesmodtagere"))
        .alias("antal_ydelsesmodtagere"),
        pl.when(
            (pl.col("kommune") == key[0])
            & (pl.col("breakdown") == key[1])
            & (pl.col("breakdown_vaerdi") == key[2])
        )
        .then(False)
        .otherwise(pl.col("antal_ydelsesmodtagere_undertrykt"))
        .alias("antal_ydelsesmodtagere_undertrykt"),
    )
    # the check over a range of months, in one run on a real instance: the tampered month fails
    # (blocking, ERROR) naming that month; the others pass
    root = DataRoot.of(tmp_path / "root")
    root.inbox.mkdir(parents=True)
    copy = Warehouse(root.warehouse)
    for m in ("2020-02", "2020-03"):
        copy.write(TABLE, wh.read(TABLE, ["2020-02"]), m)
    copy.write(TABLE, tampered, "2020-01")
    (tmp_path / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "home"))
    ensure(instance, ["2020-01", "2020-02", "2020-03"])
    result = dg.materialize(
        [cube_benchmark, afsloeringskontrol],
        selection=dg.AssetSelection.checks(afsloeringskontrol),
        resources={"data_root": DataRootResource(root=str(root.root))},
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2020-01-01",
            "dagster/asset_partition_range_end": "2020-03-01",
        },
        raise_on_error=False,
    )
    assert not result.success  # blocking
    evaluations = {
        e.event_specific_data.partition: e.event_specific_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    assert {p: e.passed for p, e in evaluations.items()} == {
        "2020-01-01": False,
        "2020-02-01": True,
        "2020-03-01": True,
    }
    bad = evaluations["2020-01-01"]
    assert bad.severity == dg.AssetCheckSeverity.ERROR and bad.blocking
    assert bad.description.startswith("2020-01: ") and "2020-02" not in bad.description
    assert bad.metadata["brud"].value >= 1
    # the pure audit: nothing published, nothing to audit
    assert audit_published(Warehouse(tmp_path / "empty"), ["2020-01"]) == {}


def test_a_failing_audit_blocks_publication(loaded_copy, monkeypatch):
    loaded = loaded_copy
    wh = Warehouse(loaded.warehouse)
    before = wh.read(TABLE, ["2020-02"])

    def no_suppression(df):  # an under-suppressing implementation
        return df.with_columns(
            [pl.lit(False).alias(f"{c}_undertrykt") for c in benchmark_assets.COUNTS]
        )

    monkeypatch.setattr(benchmark_assets, "suppress", no_suppression)
    result = dg.materialize(
        [cube_benchmark],
        partition_key="2020-02-01",
        resources={"data_root": DataRootResource(root=str(loaded.root))},
        instance=with_months("2020-02"),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "ikke offentliggjort" in failure.step_failure_data.error.message
    assert wh.read(TABLE, ["2020-02"]).equals(before)


def test_republishing_unchanged_data_keeps_the_revision(loaded_copy):
    loaded = loaded_copy
    wh = Warehouse(loaded.warehouse)
    before = wh.read(TABLE, ["2020-01"])
    result = dg.materialize(
        [cube_benchmark],
        partition_key="2020-01-01",
        resources={"data_root": DataRootResource(root=str(loaded.root))},
        instance=with_months("2020-01"),
    )
    assert result.success
    after = wh.read(TABLE, ["2020-01"])
    assert after.equals(before)  # same publication time, same revision


def with_months(*months: str) -> dg.DagsterInstance:
    """An ephemeral instance whose data months include these (dynamic partitions)."""
    instance = dg.DagsterInstance.ephemeral()
    ensure(instance, months)
    return instance
