"""`dfdg load`: every pending delivery through the same Dagster definitions, recorded in the
persistent instance under the data root (so the runs show in `dagster dev`), with progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dfdg_assets.core.partitions import apply, months_in_range
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.core.weeks import add_months, month_key
from dfdg_assets.ingest.delivery import Completeness, invalid_folders
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.jobs import BENCHMARK_JOB, INGEST_JOB, ROLLOUT_JOB
from dfdg_assets.orchestration.ledger import (
    cached_inbox_state,
    delivery_tags,
    partition_requests,
    pending_deliveries,
    plan_benchmark,
    plan_rollout,
)
from dfdg_assets.orchestration.liveness import mark_dead_runs_failed, process_tags
from dfdg_assets.orchestration.runs import run_job
from dfdg_assets.raw.assets import TAG_BATCH, TAG_DELIVERY
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
    """Tidy up after runs that died, ingest the pending deliveries, roll out, summarise."""
    report = LoadReport()
    instance = open_instance(root)
    wh = Warehouse(root.warehouse)
    _recover(instance, wh, out)
    pending = _pending(root, wh, through, out, report)
    # the data months (Dagster partitions) are the warehouse's months and those about to load
    apply(instance, partition_requests(instance, wh, [s.month for s in pending]))
    _ingest(root, instance, wh, pending, accept, retention, out, report)
    _rollout(root, instance, wh, out, report)
    if report.rollout_failed is None:
        _benchmark(root, instance, wh, out, report)
    report.seconds = time.perf_counter() - t0
    _summary(wh, out, report)
    return report


def _recover(instance, wh: Warehouse, out: Callable[[str], None]) -> None:
    """Mark runs whose process died as failed, delete the warehouse's temp files and the ledger
    entries staged by a run that died before committing (that delivery is simply loaded again;
    entries of a run still under way, e.g. one the daemon started, are left to it)."""
    for run_id in mark_dead_runs_failed(instance):
        out(f"  Afbrudt kørsel {run_id[:8]} (processen findes ikke længere) markeret som fejlet")
    wh.clean_temp_files()
    for month, entry in wh.staged_deliveries().items():
        run = instance.get_run_by_id(entry.get("run_id", "")) if entry.get("run_id") else None
        if run is None or run.is_finished:
            (wh.path / "_leveringer" / "_afventer" / f"{month}.json").unlink(missing_ok=True)


def _pending(
    root: DataRoot,
    wh: Warehouse,
    through: str | None,
    out: Callable[[str], None],
    report: LoadReport,
) -> list[Completeness]:
    """Report the inbox's invalid folders and incomplete deliveries (up to `through`) and return
    the complete deliveries whose content the warehouse does not hold yet."""
    states, _ = cached_inbox_state(root)
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
    return pending


def _rollout(
    root: DataRoot, instance, wh: Warehouse, out: Callable[[str], None], report: LoadReport
) -> None:
    """Roll out every month the warehouse owes a roll-out in one run, if any."""
    plan = plan_rollout(wh)
    if not plan:
        return
    t = time.perf_counter()
    out(f"Udruller {plan.first}..{plan.last} ({plan.months} måneder) i én kørsel …")
    apply(instance, partition_requests(instance, wh, months_in_range(plan.first, plan.last)))
    result = run_job(instance, ROLLOUT_JOB, _run_config(root), {**plan.tags, **process_tags()})
    release(root.root / WRITER_LOCK)
    report.rollout = (plan.first, plan.last)
    if result.success:
        out(f"Udrulning færdig ({time.perf_counter() - t:.1f} s)")
    else:
        report.rollout_failed = result.failure
        out(f"Udrulning FEJLEDE: {report.rollout_failed}")


def _benchmark(
    root: DataRoot, instance, wh: Warehouse, out: Callable[[str], None], report: LoadReport
) -> None:
    """The benchmark has its own partitions (from 2020-01), so its own job, right after."""
    bench = plan_benchmark(wh)
    if not bench:
        return
    t = time.perf_counter()
    apply(instance, partition_requests(instance, wh, months_in_range(bench.first, bench.last)))
    result = run_job(instance, BENCHMARK_JOB, _run_config(root), {**bench.tags, **process_tags()})
    release(root.root / WRITER_LOCK)
    if result.success:
        out(
            f"Benchmark {bench.first}..{bench.last} offentliggjort ({time.perf_counter() - t:.1f} s)"
        )
    else:
        report.rollout_failed = result.failure
        out(f"Benchmark FEJLEDE: {report.rollout_failed}")


def _summary(wh: Warehouse, out: Callable[[str], None], report: LoadReport) -> None:
    """Count the rows the loaded deliveries rejected and print the closing line."""
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


def batches(months: list[str]) -> list[list[str]]:
    """Pending months grouped into runs of consecutive calendar months (one run each)."""
    out: list[list[str]] = []
    for m in sorted(months):
        if out and add_months(out[-1][-1], 1) == m:
            out[-1].append(m)
        else:
            out.append([m])
    return out


def _ingest(
    root: DataRoot,
    instance,
    wh: Warehouse,
    pending: list,
    accept: set[str],
    retention: bool,
    out: Callable[[str], None],
    report: LoadReport,
) -> None:
    """Ingest the pending deliveries, consecutive months in one run each (staging, dimensions and
    the catalogue are then built once per run, not once per month). A run whose deliveries are
    not all accepted is redone (a faulty manifest is seen before: that month runs alone at once):
    each refused month alone (its own failed run, with its reason),
    the others again in runs of consecutive months."""
    hashes = {s.month: s.content_hash or "" for s in pending}
    # a delivery whose manifest is already known to be faulty runs alone (and is rejected)
    faulty = [s.month for s in pending if s.reason]
    todo = [[m] for m in faulty] + _split([m for m in hashes if m not in faulty], faulty)
    progress = _Progress(len(hashes), out)
    while todo:
        batch = todo.pop(0)
        result = _run_ingest(root, instance, batch, hashes, accept, retention, progress)
        if result.success:
            report.loaded.extend(batch)
            continue
        if len(batch) == 1:
            report.failed[batch[0]] = result.failure
            progress.failed(batch[0], result.failure)
            continue
        staged = {m for m, e in wh.staged_deliveries().items() if e.get("run_id") == result.run_id}
        wh.discard_staged_deliveries()
        refused = [m for m in batch if m not in staged]
        if not refused:  # failed after every delivery was accepted: one run per month instead
            todo = [[m] for m in batch] + todo
            continue
        accepted = [m for m in batch if m in staged]
        todo = [[m] for m in refused] + _split(accepted, refused) + todo


def _split(months: list[str], at: list[str]) -> list[list[str]]:
    """`months` in runs of consecutive months that do not span any month of `at`."""
    groups = batches(months)
    out: list[list[str]] = []
    for g in groups:
        part: list[str] = []
        for m in g:
            if part and any(part[-1] < x < m for x in at):
                out.append(part)
                part = []
            part.append(m)
        out.append(part)
    return out


def _run_ingest(root, instance, batch, hashes, accept, retention, progress):
    first, last = batch[0], batch[-1]
    if len(batch) == 1:
        partition_tags = {"dagster/partition": month_key(first)}
        tags = delivery_tags(first, hashes[first])
    else:
        partition_tags = {
            ASSET_PARTITION_RANGE_START_TAG: month_key(first),
            ASSET_PARTITION_RANGE_END_TAG: month_key(last),
        }
        tags = {
            TAG_DELIVERY: f"{first}..{last}",
            TAG_BATCH: str(len(batch)),
            **{f"{TAG_DELIVERY}-{m}": hashes[m] for m in batch},  # findable per delivery
        }
    progress.start(batch)
    result = run_job(
        instance,
        INGEST_JOB,
        _run_config(root, any(m in accept for m in batch), retention),
        {**tags, **partition_tags, **process_tags()},
        on_log=progress.log,
    )
    release(root.root / WRITER_LOCK)
    if result.success:
        progress.done(batch)
    return result


class _Progress:
    """`[i/n] YYYY-MM indlæst (s)` per delivery as the run ingests it (from the run's own log)."""

    def __init__(self, total: int, out: Callable[[str], None]):
        self.total, self.out, self.n = total, out, 0
        self.shown: set[str] = set()
        self.t = time.perf_counter()
        self.batch: list[str] = []

    def start(self, batch: list[str]) -> None:
        self.batch, self.t = batch, time.perf_counter()

    def _line(self, month: str, what: str) -> None:
        self.n += 1
        width = len(str(self.total))
        self.out(f"[{self.n:>{width}}/{self.total}] {month} {what}")

    def log(self, message: str) -> None:
        month = message[:7]
        if (
            len(self.batch) > 1
            and month in self.batch
            and month not in self.shown
            and message[7:].startswith(": indlæst")
        ):
            now = time.perf_counter()
            self.shown.add(month)
            self._line(month, f"indlæst ({now - self.t:.1f} s)")
            self.t = now

    def done(self, batch: list[str]) -> None:
        for month in batch:
            if month not in self.shown:
                self.shown.add(month)
                self._line(month, f"indlæst ({time.perf_counter() - self.t:.1f} s)")
        self.shown.clear()

    def failed(self, month: str, why: str) -> None:
        self._line(month, f"AFVIST: {why}")
