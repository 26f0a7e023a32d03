"""`dfdg load`: every pending delivery through the same Dagster definitions, recorded in the
persistent instance under the data root (so the runs show in `dagster dev`), with progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.core.weeks import month_key
from dfdg_assets.ingest.delivery import invalid_folders
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.jobs import INGEST_JOB, ROLLOUT_JOB
from dfdg_assets.orchestration.ledger import (
    delivery_tags,
    inbox_state,
    pending_deliveries,
    plan_rollout,
)
from dfdg_assets.orchestration.liveness import mark_dead_runs_failed, process_tags
from dfdg_assets.orchestration.runs import run_job
from dfdg_assets.storage import Warehouse
from dfdg_assets.storage.lock import LOAD_LOCK, WRITER_LOCK, exclusive, release


def _run_config(root: DataRoot, accept: bool = False, retention: bool = True) -> dict:
    cfg: dict = {
        "resources": {"data_root": {"config": {"root": str(root.root)}}},
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }
    ops: dict = {}
    if accept:
        ops["raw_levering"] = {"config": {"accepter_afviste_raekker": True}}
    if not retention:
        ops["beskaer_opbevaring"] = {"config": {"aktiv": False}}
    if ops:
        cfg["ops"] = ops
    return cfg


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)
    invalid_folders: list[str] = field(default_factory=list)
    rollout: tuple[str, str] | None = None
    rollout_failed: str | None = None
    seconds: float = 0.0
    rejected_rows: int = 0  # rows moved to raw_afviste_raekker by the deliveries loaded

    @property
    def ok(self) -> bool:
        return not self.failed and self.rollout_failed is None


def load(
    root: DataRoot,
    through: str | None = None,
    accept: set[str] | None = None,
    out: Callable[[str], None] = print,
    retention: bool = True,
    wait: bool = True,
) -> LoadReport:
    """Ingest every pending delivery (one run each, in month order), then roll out every month
    the warehouse still owes a roll-out in one run. A rejected delivery is reported and the others
    still load. One `dfdg load` per data root at a time: a second one waits (`wait=False`: raises
    `Busy`). `retention=False` skips pruning (only to verify that pruning changes nothing in the
    window)."""

    t0 = time.perf_counter()
    with exclusive(
        root.root / LOAD_LOCK,
        wait=wait,
        on_wait=lambda who: out(f"En anden indlæsning kører på denne datarod ({who}); venter …"),
    ):
        return _load(root, through, accept or set(), out, retention, t0)


def _load(
    root: DataRoot,
    through: str | None,
    accept: set[str],
    out: Callable[[str], None],
    retention: bool,
    t0: float,
) -> LoadReport:

    report = LoadReport()
    instance = open_instance(root)
    for run_id in mark_dead_runs_failed(instance):
        out(f"  Afbrudt kørsel {run_id[:8]} (processen findes ikke længere) markeret som fejlet")
    wh = Warehouse(root.warehouse)
    wh.clean_temp_files()
    # ledger entries staged by a run that died before committing: that delivery is simply loaded
    # again (entries of a run still under way, e.g. one the daemon started, are left to it)
    for month, entry in wh.staged_deliveries().items():
        run = instance.get_run_by_id(entry.get("run_id", "")) if entry.get("run_id") else None
        if run is None or run.is_finished:
            (wh.path / "_leveringer" / "_afventer" / f"{month}.json").unlink(missing_ok=True)
    states, _ = inbox_state(root.inbox)
    for name in invalid_folders(root.inbox):
        report.invalid_folders.append(name)
        out(f"  Mappen {name} er ikke en gyldig måned (YYYY-MM) og ignoreres")
    for s in states:
        if not s.complete and (through is None or s.month <= through):
            report.incomplete[s.month] = s.reason
            out(f"  {s.month} springes over: ufuldstændig ({s.reason})")
    pending = pending_deliveries(wh, states, through)
    if not pending:
        out("Ingen nye leveringer at indlæse.")
    width = len(str(len(pending)))
    for i, s in enumerate(pending, 1):
        t = time.perf_counter()
        result = run_job(
            instance,
            INGEST_JOB,
            _run_config(root, s.month in accept, retention),
            {
                **delivery_tags(s.month, s.content_hash or ""),
                "dagster/partition": month_key(s.month),
                **process_tags(),
            },
        )
        release(root.root / WRITER_LOCK)
        took = time.perf_counter() - t
        if result.success:
            report.loaded.append(s.month)
            out(f"[{i:>{width}}/{len(pending)}] {s.month} indlæst ({took:.1f} s)")
        else:
            report.failed[s.month] = result.failure
            out(f"[{i:>{width}}/{len(pending)}] {s.month} AFVIST: {report.failed[s.month]}")

    plan = plan_rollout(wh)
    if plan:
        t = time.perf_counter()
        out(f"Udruller {plan.first}..{plan.last} ({plan.months} måneder) i én kørsel …")
        result = run_job(instance, ROLLOUT_JOB, _run_config(root), {**plan.tags, **process_tags()})
        release(root.root / WRITER_LOCK)
        report.rollout = (plan.first, plan.last)
        if result.success:
            out(f"Udrulning færdig ({time.perf_counter() - t:.1f} s)")
        else:
            report.rollout_failed = result.failure
            out(f"Udrulning FEJLEDE: {report.rollout_failed}")
    report.seconds = time.perf_counter() - t0
    report.rejected_rows = sum(
        wh.read("raw_afviste_raekker", [m]).height
        for m in report.loaded
        if wh.has("raw_afviste_raekker", m)
    )
    out(
        f"Færdig på {report.seconds:.1f} s: {len(report.loaded)} indlæst "
        f"({report.rejected_rows} rækker afvist), {len(report.failed)} leveringer afvist, "
        f"{len(report.incomplete)} ufuldstændige."
    )
    return report
