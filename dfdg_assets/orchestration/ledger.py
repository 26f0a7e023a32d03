"""What has been delivered, what has been loaded, and what still needs loading or rolling out.

A delivery counts as loaded when the warehouse's delivery ledger holds its content hash: the
ingest stages the entry, the run's last step (the catalogue) commits it, so a killed run never
counts as done; whichever way it was loaded, and a re-delivery of an earlier version after a
correction is loaded again. What still needs rolling out is the warehouse's roll-out debt
(`warehouse/_udrulning.json`), grown when an ingest commits and cleared when a roll-out commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dfdg_assets.core.partitions import (
    BENCHMARK_FIRST_MONTH,
    PartitionsRequest,
    changes,
    retention_start,
)
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.core.weeks import add_months, month_key
from dfdg_assets.ingest.delivery import Completeness, completeness, delivery_months
from dfdg_assets.orchestration.jobs import INGEST_JOB
from dfdg_assets.raw.assets import TAG_CONTENT, TAG_DELIVERY, TAG_REJECTED
from dfdg_assets.storage import Warehouse

_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
DUE_DAY = 10  # a delivery for M is expected by the 10th of M+1 (R1)


def fingerprint(folder: Path) -> str:
    """Cheap change detector: names, sizes, mtimes, ctimes and inodes of the files in a delivery
    folder (a file written, replaced or touched in any way changes its ctime)."""
    parts = []
    for p in sorted(folder.iterdir()):
        if p.is_file():
            st = p.stat()
            parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}")
    return "|".join(parts)


CACHE_FILE = "nye_leveringer_cache.json"  # in the Dagster home: shared by the sensor and the loader


def cached_inbox_state(root: DataRoot) -> tuple[list[Completeness], dict[str, list]]:
    """`inbox_state` with its cache kept under the data root: a delivery folder whose files did
    not change since the last look (`fingerprint`) is not read and hashed again, so looking at an
    inbox holding years of deliveries costs a `stat` per file, not a SHA-256 of every file."""
    path = root.dagster_home / CACHE_FILE
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = None
    states, seen = inbox_state(root.inbox, cache if isinstance(cache, dict) else None)
    with contextlib.suppress(OSError):  # only a cache: a failed write costs a re-hash next time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(seen, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    return states, seen


def inbox_state(
    inbox: Path, cache: dict[str, list] | None = None
) -> tuple[list[Completeness], dict[str, list]]:
    """Completeness of every delivery folder; reuses `cache` where the folder did not change."""
    cache = dict(cache or {})
    out: list[Completeness] = []
    seen = {}
    for month in delivery_months(inbox):
        folder = inbox / month
        fp = fingerprint(folder)
        hit = cache.get(month)
        if hit and hit[0] == fp:
            state = Completeness(month, hit[1], hit[2], hit[3])
        else:
            state = completeness(folder)
        seen[month] = [fp, state.complete, state.reason, state.content_hash]
        out.append(state)
    return out, seen


def delivery_tags(month: str, content_hash: str) -> dict[str, str]:
    return {TAG_DELIVERY: month, TAG_CONTENT: content_hash}


def loaded_hash(warehouse: Warehouse, month: str) -> str | None:
    rec = warehouse.delivery_record(month)
    return rec.get("indhold_sha256") if rec else None


def is_loaded(warehouse: Warehouse, month: str, content_hash: str) -> bool:
    return loaded_hash(warehouse, month) == content_hash


def has_failed(instance: dg.DagsterInstance, month: str, content_hash: str) -> bool:
    """An ingest of exactly this content was rejected or held back (a decision about the
    delivery), or failed otherwise (killed, crashed) `MAX_ATTEMPTS` times."""
    tags = delivery_tags(month, content_hash)
    rejected = instance.get_run_ids(
        filters=dg.RunsFilter(
            job_name=INGEST_JOB,
            tags={**tags, TAG_REJECTED: "ja"},
            statuses=[dg.DagsterRunStatus.FAILURE],
        ),
        limit=1,
    )
    return bool(rejected) or failed_attempts(instance, INGEST_JOB, tags) >= MAX_ATTEMPTS


def is_in_flight(
    instance: dg.DagsterInstance, job_name: str, tags: dict[str, str] | None = None
) -> bool:
    return bool(
        instance.get_run_ids(
            filters=dg.RunsFilter(job_name=job_name, tags=tags or {}, statuses=_IN_FLIGHT), limit=1
        )
    )


def pending_deliveries(
    warehouse: Warehouse, states: list[Completeness], through: str | None = None
) -> list[Completeness]:
    """Complete deliveries (up to `through`) whose content is not what the warehouse holds."""
    return [
        s
        for s in states
        if s.complete
        and s.content_hash
        and (through is None or s.month <= through)
        and not is_loaded(warehouse, s.month, s.content_hash)
    ]


def newest_loaded_month(warehouse: Warehouse) -> str | None:
    parts = warehouse.partitions("raw_visitation")
    return parts[-1] if parts else None


TAG_ROLLOUT_DEBT = "dfdg/udrulningsgaeld"  # the id of the roll-out debt a rollout run settles
TAG_BENCHMARK_DEBT = "dfdg/benchmarkgaeld"  # the id of the benchmark debt a benchmark run settles
MAX_ATTEMPTS = 3  # runs of one delivery (or one roll-out debt) that died or failed otherwise


@dataclass(frozen=True)
class RolloutPlan:
    first: str
    last: str
    debt_id: str
    debt_tag: str = TAG_ROLLOUT_DEBT

    @property
    def tags(self) -> dict[str, str]:
        return {
            ASSET_PARTITION_RANGE_START_TAG: month_key(self.first),
            ASSET_PARTITION_RANGE_END_TAG: month_key(self.last),
            self.debt_tag: self.debt_id,
        }

    @property
    def months(self) -> int:
        return (
            (int(self.last[:4]) - int(self.first[:4])) * 12
            + int(self.last[5:7])
            - int(self.first[5:7])
            + 1
        )


def plan_rollout(warehouse: Warehouse) -> RolloutPlan | None:
    """One rollout over every month the warehouse still owes a roll-out: from the roll-out debt
    that committed ingests left (never from run records, so a killed run never counts as done)
    through the newest loaded month, and never before the retention window."""
    debt = warehouse.rollout_debt()
    newest = newest_loaded_month(warehouse)
    if debt is None or newest is None:
        return None
    first = max(debt.get("fra", newest), retention_start(newest))
    if first > newest:
        return None
    return RolloutPlan(first, newest, str(debt.get("id", "")))


def plan_benchmark(warehouse: Warehouse) -> RolloutPlan | None:
    """The benchmark run (its own job, after the roll-out): the months from 2020-01 that committed
    roll-outs reached and no committed benchmark run has published since, inside the window."""
    debt = warehouse.benchmark_debt()
    newest = newest_loaded_month(warehouse)
    if debt is None or newest is None:
        return None
    first = max(debt.get("fra", newest), retention_start(newest), BENCHMARK_FIRST_MONTH)
    last = min(debt.get("til", newest), newest)
    if first > last:
        return None
    return RolloutPlan(first, last, str(debt.get("id", "")), TAG_BENCHMARK_DEBT)


def held_months(warehouse: Warehouse) -> set[str]:
    """Every data month any table of the warehouse holds."""
    return {p for t in warehouse.tables() for p in warehouse.partitions(t) if p[:1].isdigit()}


def partition_requests(
    instance: dg.DagsterInstance, warehouse: Warehouse, launching: Iterable[str] = ()
) -> list[PartitionsRequest]:
    """The partition changes that make the data months the warehouse's months plus the months
    of the runs about to be launched (`launching`), nothing before the retention window; the
    sensor returns them in its SensorResult, `dfdg load` applies them (`partitions.apply`)."""
    newest = newest_loaded_month(warehouse)
    launching = [m[:7] for m in launching]
    cutoff = retention_start(newest) if newest else None
    held = {m for m in held_months(warehouse) if not cutoff or m >= cutoff}
    if cutoff and launching:  # a run for an older month is launched (retention prunes it then)
        cutoff = min(cutoff, *launching)
    return changes(instance, held | set(launching), remove_before=cutoff)


def failed_attempts(instance: dg.DagsterInstance, job_name: str, tags: dict[str, str]) -> int:
    """Failed runs (killed, crashed, or marked failed by a liveness check) with these tags."""
    return len(
        instance.get_run_ids(
            filters=dg.RunsFilter(
                job_name=job_name, tags=tags, statuses=[dg.DagsterRunStatus.FAILURE]
            ),
            limit=MAX_ATTEMPTS + 1,
        )
    )


def overdue_months(states: list[Completeness], today: dt.date, newest: str | None) -> list[str]:
    """Months from the first delivery on whose delivery is missing and past due (the 10th of
    the next month): gaps between deliveries as well as months after the newest."""
    if newest is None:
        return []
    have = {s.month for s in states}
    out = []
    m = min([*have, newest])
    while True:
        due = dt.date(int(add_months(m, 1)[:4]), int(add_months(m, 1)[5:7]), DUE_DAY)
        if due >= today:
            break
        if m not in have:
            out.append(m)
        m = add_months(m, 1)
    return out
