"""The published benchmark in Dagster: audited before it is written, a blocking check over what
is published, revisions, and a negative control (an under-suppressed table fails the check)."""

import dagster as dg
import polars as pl
import pytest

from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.cubes.assets import benchmark as benchmark_assets
from dfdg_assets.cubes.assets.benchmark import TABLE, afsloeringskontrol, cube_benchmark
from dfdg_assets.generate import generate
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.loader import load
from dfdg_assets.storage import Warehouse


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from dfdg_assets.core.settings import DataRoot

    root = DataRoot.of(tmp_path_factory.mktemp("bm") / "data")
    generate(
        root.inbox, kommuner=[101, 751, 825], borgere=600, fra="2019-12", til="2020-02", seed=5
    )
    report = load(root, out=lambda _: None)
    assert report.ok
    return root


def test_published_months_pass_the_blocking_check(loaded):
    wh = Warehouse(loaded.warehouse)
    assert wh.partitions(TABLE)[-3:] == ["2019-12", "2020-01", "2020-02"]
    assert wh.read(TABLE, ["2019-12"]).height == 0  # the benchmark starts with 2020-01
    table = wh.read(TABLE, ["2020-01", "2020-02"])
    assert set(table["revision"]) == {1} and table["publiceret"].null_count() == 0
    shown = table.filter(pl.col("antal_ydelsesmodtagere").is_between(1, 4))
    assert shown.height == 0
    assert table["antal_ydelsesmodtagere_undertrykt"].sum() > 0  # Læsø is tiny: something is hidden
    evaluations = [
        e
        for e in open_instance(loaded)
        .get_records_for_run(
            open_instance(loaded)
            .get_runs(filters=dg.RunsFilter(job_name="udrul_maaneder"), limit=1)[0]
            .run_id
        )
        .records
        if e.event_log_entry.dagster_event
        and e.event_log_entry.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    by_check = {
        (d.asset_key.path[-1], d.check_name): d.passed
        for d in (e.event_log_entry.dagster_event.event_specific_data for e in evaluations)
    }
    # the disclosure audit, and the key and foreign-key checks of every fact, all pass
    facts = ("fct_visitation_uge", "fct_aktivitet_uge", "fct_samtale_uge")
    assert by_check == {
        ("cube_benchmark", "afsloeringskontrol"): True,
        **{(f, c): True for f in facts for c in ("noegle_unik", "fremmednoegler")},
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
    copy = Warehouse(tmp_path / "wh")
    copy.write(TABLE, tampered, "2020-01")
    result = afsloeringskontrol(data_root=DataRootResource(root=str(tmp_path / "root")))
    # the resource points at an empty root: nothing published, nothing to fail
    assert result.passed
    root = tmp_path / "root"
    (root / "warehouse").mkdir(parents=True)
    Warehouse(root / "warehouse").write(TABLE, tampered, "2020-01")
    result = afsloeringskontrol(data_root=DataRootResource(root=str(root)))
    assert not result.passed
    assert result.metadata["brud"].value >= 1


def test_a_failing_audit_blocks_publication(loaded, monkeypatch):
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
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "ikke offentliggjort" in failure.step_failure_data.error.message
    assert wh.read(TABLE, ["2020-02"]).equals(before)


def test_republishing_unchanged_data_keeps_the_revision(loaded):
    wh = Warehouse(loaded.warehouse)
    before = wh.read(TABLE, ["2020-01"])
    result = dg.materialize(
        [cube_benchmark],
        partition_key="2020-01-01",
        resources={"data_root": DataRootResource(root=str(loaded.root))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    after = wh.read(TABLE, ["2020-01"])
    assert after.equals(before)  # same publication time, same revision
