"""The delivery sensor: new or changed complete deliveries become ingest runs, ingested
deliveries become one rollout run over every month they affect (R11).

Quiet by design: its cursor is short (a digest of the inbox and the overdue months; the per-folder
hash cache lives in a file under the data root's Dagster home), and an overdue delivery is
logged once when the set of overdue months changes, not on every tick (the skip reason still
names it). Default status STOPPED: an operator turns it on once in the UI (docs/operations.md)."""

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import cast

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dfdg_assets.core.partitions import for_sensor, is_data_month, months_in_range
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.weeks import month_key
from dfdg_assets.ingest.delivery import Completeness, invalid_folders
from dfdg_assets.orchestration.jobs import (
    BENCHMARK_JOB,
    INGEST_JOB,
    ROLLOUT_JOB,
    benchmark_job,
    ingest_job,
    rollout_job,
)
from dfdg_assets.orchestration.ledger import (
    MAX_ATTEMPTS,
    TAG_BENCHMARK_DEBT,
    TAG_ROLLOUT_DEBT,
    cached_inbox_state,
    delivery_tags,
    failed_attempts,
    has_failed,
    is_in_flight,
    loaded_hash,
    newest_loaded_month,
    overdue_months,
    partition_requests,
    pending_deliveries,
    plan_benchmark,
    plan_rollout,
)
from dfdg_assets.orchestration.liveness import mark_dead_runs_failed
from dfdg_assets.raw.overdue import evaluation as overdue_evaluation
from dfdg_assets.storage import Warehouse


def ingest_request(
    month: str, content_hash: str, previous: str | None = None, attempt: int = 0
) -> dg.RunRequest:
    """The run for one delivery; the run key includes the content hash (and the hash it replaces),
    so an identical re-delivery never runs twice, a corrected one does, and so does a return to
    an earlier version after a correction."""
    suffix = f":{previous[:16]}" if previous else ""
    if attempt:  # a retry after a run that died (killed, crashed)
        suffix += f":forsoeg{attempt + 1}"
    return dg.RunRequest(
        run_key=f"indlaes:{month}:{content_hash}{suffix}",
        job_name=INGEST_JOB,
        partition_key=month_key(month),
        tags=delivery_tags(month, content_hash),
    )


def _short(months: list[str], n: int = 6) -> str:
    return ", ".join(months[:n]) + (f" … ({len(months)} i alt)" if len(months) > n else "")


def _inbox_notes(inbox: Path, states: list[Completeness]) -> list[str]:
    """Skip notes for folders that are not months and for incomplete deliveries."""
    notes = [
        f"mappen {name} er ikke en gyldig måned (YYYY-MM) og ignoreres"
        for name in invalid_folders(inbox)
    ]
    for s in states:
        if not s.complete:
            notes.append(f"{s.month} ufuldstændig: {s.reason}")
    return notes


def _ingest_requests(
    context: dg.SensorEvaluationContext,
    wh: Warehouse,
    states: list[Completeness],
    notes: list[str],
) -> list[dg.RunRequest]:
    """One ingest run per new or changed complete delivery within the data months that is not
    already running and has not been rejected or held back (those get a note instead)."""
    this_month = dt.date.today().isoformat()[:7]
    requests: list[dg.RunRequest] = []
    for s in pending_deliveries(wh, states):
        content = cast(str, s.content_hash)  # a pending delivery has its content hash
        if not is_data_month(s.month, this_month):
            notes.append(f"{s.month} ligger uden for datamånederne og springes over")
            continue
        tags = delivery_tags(s.month, content)
        if is_in_flight(context.instance, INGEST_JOB, tags):
            continue
        if has_failed(context.instance, s.month, content):
            # rejected or held back: an operator re-executes it (with acceptance) or a corrected
            # delivery arrives; the other deliveries go on and are rolled out
            notes.append(
                f"{s.month} afvist eller holdt tilbage (se kørslen); venter på rettet levering eller accept"
            )
            continue
        attempt = failed_attempts(context.instance, INGEST_JOB, tags)
        requests.append(ingest_request(s.month, content, loaded_hash(wh, s.month), attempt))
    return requests


def _rollout_request(
    context: dg.SensorEvaluationContext, wh: Warehouse, notes: list[str]
) -> dg.RunRequest | None:
    """The one rollout run over every month the ingested deliveries affect, unless it is already
    running or has failed too often (then a note says so)."""
    plan = plan_rollout(wh)
    if not plan:
        return None
    attempt = failed_attempts(context.instance, ROLLOUT_JOB, {TAG_ROLLOUT_DEBT: plan.debt_id})
    if attempt >= MAX_ATTEMPTS:
        notes.append(
            f"udrulningen af {plan.first}..{plan.last} er fejlet {attempt} gange; "
            "se kørslerne, `dfdg load` eller en ny levering prøver igen"
        )
        return None
    if is_in_flight(context.instance, ROLLOUT_JOB):
        return None
    retry = f":forsoeg{attempt + 1}" if attempt else ""
    context.log.info(f"Udrulning af {plan.first}..{plan.last} ({plan.months} måneder)")
    return dg.RunRequest(
        run_key=f"udrul:{plan.first}:{plan.last}:{plan.debt_id}{retry}",
        job_name=ROLLOUT_JOB,
        tags=plan.tags,
    )


def _benchmark_request(
    context: dg.SensorEvaluationContext, wh: Warehouse, notes: list[str]
) -> dg.RunRequest | None:
    """The benchmark run (own partitions from 2020-01, own job) right after the roll-out."""
    bench = plan_benchmark(wh)
    if not bench:
        return None
    attempt = failed_attempts(context.instance, BENCHMARK_JOB, {TAG_BENCHMARK_DEBT: bench.debt_id})
    if attempt >= MAX_ATTEMPTS:
        notes.append(
            f"benchmark for {bench.first}..{bench.last} er fejlet {attempt} gange; "
            "se kørslerne, `dfdg load` eller en ny levering prøver igen"
        )
        return None
    if is_in_flight(context.instance, BENCHMARK_JOB):
        return None
    retry = f":forsoeg{attempt + 1}" if attempt else ""
    return dg.RunRequest(
        run_key=f"benchmark:{bench.first}:{bench.last}:{bench.debt_id}{retry}",
        job_name=BENCHMARK_JOB,
        tags=bench.tags,
    )


def _report_overdue(
    context: dg.SensorEvaluationContext,
    wh: Warehouse,
    states: list[Completeness],
    before: str,
    notes: list[str],
) -> str:
    """Note the overdue months; when they changed since the last tick, log it once and report
    the check levering_rettidig. Returns the overdue months' text for the cursor."""
    late = overdue_months(states, dt.date.today(), newest_loaded_month(wh))
    overdue = _short(late) if late else ""
    if late:
        notes.append(f"forfaldne leveringer: {overdue}")
    change = overdue_change(before, overdue)
    if change:
        context.log.warning(change)
        # the check levering_rettidig on raw_visitation shows the new state in the UI
        context.instance.report_runless_asset_event(overdue_evaluation(late))
    return overdue


@dg.sensor(
    name="nye_leveringer",
    jobs=[ingest_job, rollout_job, benchmark_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Turns new or changed complete deliveries in the inbox into ingest runs, then rolls out every affected month in one run.",
)
def nye_leveringer(
    context: dg.SensorEvaluationContext, data_root: DataRootResource
) -> dg.SensorResult:
    for run_id in mark_dead_runs_failed(context.instance):
        context.log.warning(
            f"Kørsel {run_id[:8]}: processen findes ikke længere, markeret som fejlet"
        )
    cursor = json.loads(context.cursor) if context.cursor else {}
    states, seen = cached_inbox_state(data_root.paths)
    notes = _inbox_notes(data_root.inbox, states)
    wh = data_root.warehouse
    requests = _ingest_requests(context, wh, states, notes)
    # Roll out only when no ingest is queued or running, so that a batch of deliveries arriving
    # together becomes one rollout run.
    if not requests and not is_in_flight(context.instance, INGEST_JOB):
        rollout = _rollout_request(context, wh, notes)
        if rollout:
            requests.append(rollout)
        elif not plan_rollout(wh) and not is_in_flight(context.instance, ROLLOUT_JOB):
            bench = _benchmark_request(context, wh, notes)
            if bench:
                requests.append(bench)
    overdue = _report_overdue(context, wh, states, cursor.get("forfaldne", ""), notes)
    for n in notes:
        if not n.startswith("forfaldne"):
            context.log.warning(n)
    new_cursor = json.dumps(
        {"indbakke": _digest(seen), "forfaldne": overdue}, sort_keys=True, ensure_ascii=False
    )
    # the data months become the warehouse's months plus those of the runs requested here
    # (added before the runs are launched; pruned months are deleted)
    launching = [
        m
        for r in requests
        for m in (
            [r.partition_key[:7]]
            if r.partition_key
            else months_in_range(
                r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG]
            )
        )
    ]
    partitions = for_sensor(context.instance, partition_requests(context.instance, wh, launching))
    if requests:
        return dg.SensorResult(
            run_requests=requests, cursor=new_cursor, dynamic_partitions_requests=partitions
        )
    return dg.SensorResult(
        skip_reason="; ".join(notes) if notes else "ingen nye eller ændrede leveringer",
        cursor=new_cursor,
        dynamic_partitions_requests=partitions,
    )


def overdue_change(before: str, now: str) -> str | None:
    """The log line for a change in the overdue months (None: no change, nothing to log)."""
    if now == before:
        return None
    return f"Forfaldne leveringer: {now}" if now else "Ingen forfaldne leveringer længere"


def _digest(seen: dict) -> str:
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()[:16]
