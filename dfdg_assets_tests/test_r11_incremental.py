"""R11: loading deliveries one month at a time through the sensor gives exactly the same
warehouse (and so the same query answers) as one backfill of all months, on generated data
with backdated records and corrections."""

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dfdg_assets.core.partitions import apply, months_in_range, retention_start
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.definitions import defs
from dfdg_assets.generate import generate
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.jobs import BENCHMARK_JOB, INGEST_JOB, ROLLOUT_JOB
from dfdg_assets.orchestration.ledger import RolloutPlan, partition_requests, plan_benchmark
from dfdg_assets.orchestration.sensors import nye_leveringer
from dfdg_assets.storage import Warehouse

MONTHS = ["2020-10", "2020-11", "2020-12", "2021-01"]
COMPARED = [
    "stg_visitation",
    "stg_aktivitet",
    "stg_samtale",
    "stg_samtale_deltager",
    "stg_visitationsforloeb",
    "fct_visitation_uge",
    "fct_aktivitet_uge",
    "fct_samtale_uge",
    "bdg_samtale_deltager",
    "dim_borger",
    "dim_organisation",
    "dim_uddannelse",
    "dim_tid_uge",
    "stg_ydelse",
    "fct_borger_ydelse_uge",
    "fct_befolkning_16_66",
    "cube_benchmark",
]


def _config(root: DataRoot) -> dict:
    return {
        "resources": {"data_root": {"config": {"root": str(root.root)}}},
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }


def _run(instance, root: DataRoot, req: dg.RunRequest) -> None:
    job = defs.resolve_job_def(req.job_name)
    kwargs = {"partition_key": req.partition_key} if req.partition_key else {}
    tags = {
        k: v for k, v in req.tags.items() if not k.startswith("dagster/partition") or "range" in k
    }
    result = job.execute_in_process(
        instance=instance, run_config=_config(root), tags=tags, **kwargs
    )
    assert result.success


def _tick(instance, root: DataRoot, cursor: str | None):
    ctx = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),  # as the daemon: dynamic partitions are resolved
        cursor=cursor,
        resources={"data_root": DataRootResource(root=str(root.root))},
        definitions=defs,
    )
    result = nye_leveringer.evaluate_tick(ctx)
    apply(instance, result.dynamic_partitions_requests or [])  # as the daemon does
    return result


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "inbox"
    generate(out, kommuner=2, borgere=150, fra=MONTHS[0], til=MONTHS[-1], seed=7)
    return out


def _table(root: DataRoot, name: str) -> pl.DataFrame:
    df = Warehouse(root.warehouse).read(name)
    # a month re-published by R11 carries a later time and revision; its content must not differ
    df = df.drop([c for c in ("publiceret", "revision") if c in df.columns])
    return df.sort(df.columns)


@pytest.mark.slow  # the sensor month by month over a generated sample (40-140 s)
def test_month_by_month_through_the_sensor_equals_one_backfill(generated, tmp_path):
    inc = DataRoot.of(tmp_path / "inkrementel")
    full = DataRoot.of(tmp_path / "fuld")
    for r in (inc, full):
        r.inbox.mkdir(parents=True)
    # the same key secret on both paths: surrogate keys are a function of the natural key
    Warehouse(inc.warehouse).key_secret()
    full.warehouse.mkdir(parents=True)
    shutil.copy(inc.warehouse / ".noegle", full.warehouse / ".noegle")

    # A: deliveries arrive one month at a time; the sensor turns each into runs
    inst = open_instance(inc)
    cursor = None
    rollouts = []
    for month in MONTHS:
        shutil.copytree(generated / month, inc.inbox / month)
        for _ in range(3):  # ingest, then rollout, then nothing
            data = _tick(inst, inc, cursor)
            cursor = data.cursor
            for req in data.run_requests:
                if req.job_name == ROLLOUT_JOB:
                    rollouts.append(req.tags)
                _run(inst, inc, req)
    assert len(rollouts) == len(MONTHS)
    # backdated records make some rollouts reach back before their delivery month
    starts = [t["dagster/asset_partition_range_start"][:7] for t in rollouts]
    assert any(s < m for s, m in zip(starts, MONTHS, strict=True))

    # B: every delivery at once, one ranged run for the raw layer, one rollout over all months
    for month in MONTHS:
        shutil.copytree(generated / month, full.inbox / month)
    finst = open_instance(full)
    plan = RolloutPlan(MONTHS[0], MONTHS[-1], "")
    fwh = Warehouse(full.warehouse)
    apply(finst, partition_requests(finst, fwh, MONTHS))
    _run(finst, full, dg.RunRequest(job_name=INGEST_JOB, tags=plan.tags))
    # both paths hold the retention window of R10 (January of Y-3 on)
    first_needed = max(min(starts), retention_start(MONTHS[-1]))
    apply(finst, partition_requests(finst, fwh, months_in_range(first_needed, MONTHS[-1])))
    _run(
        finst,
        full,
        dg.RunRequest(job_name=ROLLOUT_JOB, tags=RolloutPlan(first_needed, MONTHS[-1], "").tags),
    )
    bench = plan_benchmark(fwh)  # the benchmark's own job after the roll-out, as dfdg load does
    assert bench is not None
    apply(finst, partition_requests(finst, fwh, months_in_range(bench.first, bench.last)))
    _run(finst, full, dg.RunRequest(job_name=BENCHMARK_JOB, tags=bench.tags))

    wa, wb = Warehouse(inc.warehouse), Warehouse(full.warehouse)
    for name in COMPARED:
        a, b = _table(inc, name), _table(full, name)
        assert a.height > 0 or name in ("bdg_samtale_deltager",), name
        if name.startswith(("fct_", "bdg_", "dim_tid", "cube_", "stg_ydelse")):
            # the incremental path rolls out from the first affected month; compare those months
            a = a.filter(pl.col("maaned") >= first_needed) if "maaned" in a.columns else a
            b = b.filter(pl.col("maaned") >= first_needed) if "maaned" in b.columns else b
        try:
            assert_frame_equal(a, b, check_row_order=True)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None
    assert wa.partitions("raw_visitation") == wb.partitions("raw_visitation") == MONTHS
    # some weekly facts stood as built in a roll-out (their record group did not change that far
    # back: the roll-out debt per group), and the tables above still equal the full build
    kept = [
        (t, r.asset_materialization.partition)
        for t in ("fct_visitation_uge", "fct_samtale_uge", "bdg_samtale_deltager")
        for r in inst.fetch_materializations(dg.AssetKey(t), limit=1000).records
        if r.asset_materialization.metadata.get("uaendret")
    ]
    assert kept

    # ... and the data packages of both paths are the same, apart from their generation time
    import datetime as dt
    import json

    from dfdg_assets.exports.packages import export_package

    when = dt.datetime(2021, 2, 15, 12, 0, tzinfo=dt.UTC)
    for niveau in ("datamart", "dsa"):
        pa = export_package(inc, 101, niveau, MONTHS[0], MONTHS[-1], out=tmp_path / "pa", now=when)
        pb = export_package(full, 101, niveau, MONTHS[0], MONTHS[-1], out=tmp_path / "pb", now=when)
        ma = json.loads((pa / "manifest.json").read_text())
        mb = json.loads((pb / "manifest.json").read_text())
        assert ma == mb and ma["tables"], niveau
        for f in sorted(p.name for p in pa.iterdir()):
            assert (pa / f).read_bytes() == (pb / f).read_bytes(), f"{niveau}/{f}"
