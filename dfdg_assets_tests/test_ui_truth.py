"""What the Dagster UI shows is the warehouse's truth: per-month row counts after a range roll-out,
materialized months = warehouse months, every run in the code location, column schemas."""

import dagster as dg
import pytest
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.definitions import defs
from dfdg_assets.generate import generate
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.loader import load
from dfdg_assets.orchestration.runs import LABEL
from dfdg_assets.storage import Warehouse

# a generated sample loaded once for the module (~20 s): part of `make test-slow`
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> DataRoot:
    root = DataRoot.of(tmp_path_factory.mktemp("ui") / "data")
    generate(root.inbox, kommuner=[101, 360], borgere=150, fra="2019-11", til="2020-03", seed=3)
    report = load(root, out=lambda _: None)
    assert report.ok and len(report.loaded) == 5 and report.rollout[1] == "2020-03"
    return root


def _monthly_assets():
    graph = defs.resolve_asset_graph()
    return [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None]


def test_row_count_of_every_month_is_the_warehouses(loaded):
    instance = open_instance(loaded)
    wh = Warehouse(loaded.warehouse)
    checked = 0
    for key in _monthly_assets():
        table = key.to_user_string()
        held = set(wh.partitions(table))
        events = instance.fetch_materializations(key, limit=10_000).records
        latest: dict[str, dg.AssetMaterialization] = {}
        for rec in sorted(events, key=lambda r: r.storage_id):
            m = rec.asset_materialization
            latest[m.partition[:7]] = m
        shown = set(latest)
        assert shown <= held, f"{table}: materialized months not in the warehouse: {shown - held}"
        for month, mat in latest.items():
            rows = wh.read(table, [month]).height
            assert mat.metadata["dagster/row_count"].value == rows, (table, month)
            checked += 1
    assert checked >= 5 * 10
    # the range roll-out gave different months different counts (not one total copied)
    counts = {
        r.asset_materialization.partition: r.asset_materialization.metadata[
            "dagster/row_count"
        ].value
        for r in instance.fetch_materializations(
            dg.AssetKey("fct_visitation_uge"), limit=100
        ).records
    }
    assert len(counts) == 39 and len(set(counts.values())) > 5


def test_every_run_belongs_to_the_code_location(loaded):
    instance = open_instance(loaded)
    runs = instance.get_runs()
    assert (
        len(runs) == 3
    )  # five consecutive deliveries in one ingest run, the roll-out, the benchmark
    # the UI finds a location's runs (Overview, job page) by this stored tag
    labelled = instance.get_runs(filters=dg.RunsFilter(tags={REPOSITORY_LABEL_TAG: LABEL}))
    assert {r.run_id for r in labelled} == {r.run_id for r in runs}
    for run in runs:
        assert run.remote_job_origin is not None
        assert run.remote_job_origin.location_name == "dfdg"
        assert run.status == dg.DagsterRunStatus.SUCCESS


def test_rejected_rows_metadata_has_counts_not_rows(loaded):
    instance = open_instance(loaded)
    wh = Warehouse(loaded.warehouse)
    for rec in instance.fetch_materializations(
        dg.AssetKey("raw_afviste_raekker"), limit=100
    ).records:
        m = rec.asset_materialization
        md = m.metadata
        rejected = wh.read("raw_afviste_raekker", [m.partition[:7]])
        assert md["dagster/row_count"].value == rejected.height
        per_file = md["afvist_pr_fil"].value
        assert sum(per_file.values()) == rejected.height
        text = str(md)
        for raw in rejected["raekke"].to_list()[:20]:
            assert raw not in text


def test_every_table_asset_describes_its_columns_and_grain():
    graph = defs.resolve_asset_graph()
    tables = [
        k
        for k in graph.get_all_asset_keys()
        if k.to_user_string()[:4] in ("raw_", "stg_", "dim_", "fct_", "bdg_", "cube")
    ]
    assert len(tables) == 31
    for key in tables:
        meta = graph.get(key).metadata
        schema = meta["dagster/column_schema"]
        assert schema.columns and all(c.description for c in schema.columns), key
        assert meta["grain"], key
    fct = graph.get(dg.AssetKey("fct_visitation_uge")).metadata["dagster/column_schema"]
    assert [c.name for c in fct.columns][:2] == ["forloeb_id", "borger_key"] or len(
        fct.columns
    ) == 10


def test_key_check_names_the_failing_month():
    import polars as pl

    from dfdg_assets.facts.keys import KEYS, KeyCheck

    check = KeyCheck("fct_visitation_uge", lambda _t, _m, _c: None)
    key = KEYS["fct_visitation_uge"][0]
    ok = pl.DataFrame({c: [1, 2] if i == 0 else ["a", "a"] for i, c in enumerate(key)})
    bad = pl.DataFrame({c: [1, 1] if i == 0 else ["a", "a"] for i, c in enumerate(key)})
    check.add(ok, "2020-01")
    check.add(bad, "2020-02")
    unique = check.verdicts()["noegle_unik"]
    assert unique["2020-01"].passed
    assert (
        not unique["2020-02"].passed and unique["2020-02"].severity == dg.AssetCheckSeverity.ERROR
    )
    assert unique["2020-02"].metadata["dubletter"] == 1
    assert unique["2020-02"].description.startswith("2020-02:")
