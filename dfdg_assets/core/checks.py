"""Asset checks per month (docs/decisions.md, "Checks per month").

Dagster 1.13 partitions asset checks (`AssetCheckSpec(partitions_def=...)`, a preview feature),
but an `AssetCheckResult` carries no partition: in a run over a range of months (single-run
backfill) it would be recorded once, for no month. So a monthly check reports one
`AssetCheckEvaluation` per month of the run, with `partition=` that month's key and the month's
materialization as its target; Dagster stores the status per partition, the UI shows which month
failed, and a later run of one month replaces only that month's status.

`Verdict` is what a check found for one month: pass or fail, the severity (ERROR: the data is
wrong and the operator must act; WARN: informational), a description naming the month, and
counts only (never a CPR number, name or borger_key)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from dfdg_assets.core.weeks import month_of_key

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


@dataclass(frozen=True)
class Verdict:
    """The result of one check for one month."""

    passed: bool
    severity: dg.AssetCheckSeverity = ERROR
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def partitioned_like(
    specs: Sequence[dg.AssetCheckSpec], partitions_def: dg.PartitionsDefinition | None
) -> list[dg.AssetCheckSpec]:
    """The checks of a monthly asset are partitioned like the asset (Dagster requires the same
    partitions definition); `warehouse_asset` applies this to every check it declares."""
    if partitions_def is None:
        return list(specs)
    with warnings.catch_warnings():  # a preview feature in 1.13, chosen on purpose
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [s._replace(partitions_def=partitions_def) for s in specs]


def _op_context(context: Any) -> dg.OpExecutionContext:
    return getattr(context, "op_execution_context", context)


def _targets(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions: Sequence[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """Each month's latest materialization (the one its evaluation is about), in one query."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=list(partitions)),
        limit=len(partitions),
    ).records
    out: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for r in records:  # newest first
        if r.partition_key is not None and r.partition_key not in out:
            out[r.partition_key] = AssetCheckEvaluationTargetMaterializationData(
                run_id=r.run_id, storage_id=r.storage_id, timestamp=r.timestamp
            )
    return out


def month_evaluations(
    context: Any,
    asset: str | dg.AssetKey,
    check_name: str,
    verdicts: Mapping[str, Verdict],
    *,
    output: bool = True,
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """Yield one evaluation per month of the run that has a verdict (`verdicts` maps `YYYY-MM` to
    a Verdict; a month without one, e.g. a delivery that did not load, is not evaluated), then the
    check's step output. Yield them after the
    asset's `MaterializeResult`, so each evaluation targets its month's materialization. Nothing is
    yielded when the run did not select the check. `output=False` for a failing step that only
    logs its evaluations (`context.log_event`)."""
    op = _op_context(context)
    key = dg.AssetCheckKey(dg.AssetKey.from_coercible(asset), check_name)
    if key not in op.selected_asset_check_keys:
        return
    spec = op.assets_def.get_spec_for_check_key(key)
    months = [k for k in op.partition_keys if month_of_key(k) in verdicts]
    targets = _targets(op.instance, key.asset_key, months) if months else {}
    for partition in op.partition_keys:
        v = verdicts.get(month_of_key(partition))
        if v is None:
            continue
        yield dg.AssetCheckEvaluation(
            asset_key=key.asset_key,
            check_name=check_name,
            passed=v.passed,
            severity=v.severity,
            description=v.description,
            metadata=dict(v.metadata),
            target_materialization_data=targets.get(partition),
            blocking=spec.blocking,
            partition=partition,
        )
    if output:
        yield dg.Output(None, output_name=op.assets_def.get_output_name_for_asset_check_key(key))


def failing_months(verdicts: Mapping[str, Verdict]) -> list[str]:
    return sorted(m for m, v in verdicts.items() if not v.passed)


def all_month_evaluations(
    context: Any, asset: str | dg.AssetKey, verdicts: Mapping[str, Mapping[str, Verdict]]
) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
    """`month_evaluations` of several checks of one asset ({check name: {month: Verdict}})."""
    for check_name, by_month in verdicts.items():
        yield from month_evaluations(context, asset, check_name, by_month)


def result(asset: str | dg.AssetKey, check_name: str, verdict: Verdict) -> dg.AssetCheckResult:
    """The result of a check on an unpartitioned asset."""
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check_name,
        passed=verdict.passed,
        severity=verdict.severity,
        description=verdict.description,
        metadata=dict(verdict.metadata),
    )


def failing(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetCheckKey], history: int = 1000
) -> dict[str, list[tuple[str, str]]]:
    """The checks whose latest result failed, per month: {"asset.check": [(month or "", severity)]}
    (for `dfdg status`; months in order)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for key in keys:
        seen: set[str | None] = set()
        bad = []
        for rec in instance.event_log_storage.get_asset_check_execution_history(key, limit=history):
            event = rec.event.dagster_event if rec.event else None
            ev = event.event_specific_data if event else None
            if rec.partition in seen or not isinstance(ev, dg.AssetCheckEvaluation):
                continue
            seen.add(rec.partition)
            if not ev.passed:
                month = month_of_key(rec.partition) if rec.partition else ""
                bad.append((month, ev.severity.value))
        if bad:
            out[f"{key.asset_key.to_user_string()}.{key.name}"] = sorted(bad)
    return out
