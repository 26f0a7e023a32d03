"""What has been delivered, what has been loaded, and what still needs loading or rolling out.

A delivery counts as loaded when the warehouse's delivery ledger (written by the ingest step
together with the month's tables) holds its content hash: whichever way it was loaded, and a
re-delivery of an earlier version after a correction is loaded again. Months are rolled out when
a rollout run created after an ingest covers the months it affects (from its first affected month
to the newest loaded month at the time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dfdg_assets.core.partitions import retention_start  # noqa: F401 - part of the ledger API
from dfdg_assets.core.weeks import add_months, month_key
from dfdg_assets.ingest.delivery import Completeness, completeness, delivery_months
from dfdg_assets.orchestration.jobs import INGEST_JOB, ROLLOUT_JOB
from dfdg_assets.raw.assets import TAG_AFFECTED_FROM, TAG_CONTENT, TAG_DELIVERY, TAG_NEWEST
from dfdg_assets.storage import Warehouse

_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
DUE_DAY = 10  # a delivery for M is expected by the 10th of M+1 (R1)


def fingerprint(folder: Path) -> str:
    """Cheap change detector: names, sizes and mtimes of the files in a delivery folder."""
    parts = []
    for p in sorted(folder.iterdir()):
        if p.is_file():
            st = p.stat()
            parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


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
    """An ingest of exactly this content already failed (rejected or held back)."""
    return bool(
        instance.get_run_ids(
            filters=dg.RunsFilter(
                job_name=INGEST_JOB,
                tags=delivery_tags(month, content_hash),
                statuses=[dg.DagsterRunStatus.FAILURE],
            ),
            limit=1,
        )
    )


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


@dataclass(frozen=True)
class RolloutPlan:
    first: str
    last: str
    ingest_run_ids: tuple[str, ...]

    @property
    def tags(self) -> dict[str, str]:
        return {
            ASSET_PARTITION_RANGE_START_TAG: month_key(self.first),
            ASSET_PARTITION_RANGE_END_TAG: month_key(self.last),
        }

    @property
    def months(self) -> int:
        return (
            (int(self.last[:4]) - int(self.first[:4])) * 12
            + int(self.last[5:7])
            - int(self.first[5:7])
            + 1
        )


def plan_rollout(instance: dg.DagsterInstance, warehouse: Warehouse) -> RolloutPlan | None:
    """One rollout over every month affected by successful ingests not yet covered by a rollout.

    Covered: a rollout run (finished or under way) created after the ingest ended whose range
    starts at or before the first month the ingest affects.
    """
    newest = newest_loaded_month(warehouse)
    if newest is None:
        return None
    # ingests of any job (the ingest job, or an asset backfill of raw_levering) that loaded data
    ingests = [
        r
        for r in instance.get_run_records(
            filters=dg.RunsFilter(
                statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]
            ),
            limit=1000,
        )
        if TAG_AFFECTED_FROM in r.dagster_run.tags
    ]
    rollouts = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=ROLLOUT_JOB, statuses=[*_IN_FLIGHT, dg.DagsterRunStatus.SUCCESS]
        ),
        limit=500,
    )
    covers = [
        (
            r.create_timestamp.timestamp(),
            r.dagster_run.tags.get(ASSET_PARTITION_RANGE_START_TAG, "")[:7],
            r.dagster_run.tags.get(ASSET_PARTITION_RANGE_END_TAG, "")[:7],
        )
        for r in rollouts
    ]
    floor = retention_start(newest)
    needed: list[tuple[str, str]] = []
    for rec in ingests:
        affected = rec.dagster_run.tags.get(TAG_AFFECTED_FROM)
        if not affected:
            continue
        first = max(affected, floor)
        last = rec.dagster_run.tags.get(TAG_NEWEST, newest)
        ended = rec.end_time or rec.update_timestamp.timestamp()
        if not any(
            created >= ended and start and start <= first and end >= last
            for created, start, end in covers
        ):
            needed.append((first, rec.dagster_run.run_id))
    if not needed:
        return None
    first = min(f for f, _ in needed)
    if first > newest:
        return None
    return RolloutPlan(first, newest, tuple(sorted(r for _, r in needed)))


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
