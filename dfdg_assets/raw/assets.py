"""The raw layer in Dagster: one multi-asset ingests a delivery into all its raw tables at once.

One step for the whole delivery, so a file-level fault in any file publishes nothing of it.
Handles a range of months in one run (single-run backfills); a month that fails does not stop
the others, and the step fails at the end naming every month that did.
"""

from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from dfdg_assets.core.assets import table_spec, warehouse_multi_asset
from dfdg_assets.core.checks import Verdict, month_evaluations
from dfdg_assets.core.privacy import redact
from dfdg_assets.core.publishing import month_metadata
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import SchemaViolation
from dfdg_assets.core.weeks import month_of_key
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.errors import DeliveryHeld, DeliveryRejected
from dfdg_assets.raw import row_checks
from dfdg_assets.raw.ingest import REJECTED_TABLE, IngestedDelivery, ingest_delivery, raw_table
from dfdg_assets.storage import Warehouse

TAG_DELIVERY = "dfdg/levering"
TAG_CONTENT = "dfdg/indhold"
TAG_AFFECTED_FROM = "dfdg/berort_fra"
TAG_ACCEPTED = "dfdg/accepteret_over_1_procent"
TAG_NEWEST = "dfdg/nyeste_maaned"  # newest loaded month right after this ingest
TAG_BATCH = "dfdg/leveringer"  # a run ingesting several consecutive months: how many
TAG_REJECTED = "dfdg/afvist"  # the run rejected or held back a delivery (not retried by the sensor)


class IngestConfig(dg.Config):
    accepter_afviste_raekker: bool = False
    """Accept a delivery although more than 1 % of a file's rows were rejected (recorded with the run)."""


_SPECS = [
    table_spec(
        raw_table(f.name), "raw", f"`{f.filename}` of each monthly delivery, typed and row-checked."
    )
    for f in contract.FILES
] + [
    table_spec(
        REJECTED_TABLE,
        "raw",
        "Rows moved out of a delivery by a row-level fault (R12), with the reason. Personal data: "
        "kept under the data root and pruned with retention.",
    )
]

_CHECKS = [
    dg.AssetCheckSpec(
        "ingen_afviste_raekker",
        asset=REJECTED_TABLE,
        description="Per delivery month: WARN when rows were rejected by row-level faults (R12) "
        "and the delivery loaded; ERROR when the month's delivery was held back (over 1 %) or "
        "rejected.",
    ),
    dg.AssetCheckSpec(
        "kendte_kodevaerdier",
        asset=raw_table("visitation"),
        description="Per delivery month: WARN when a delivery carries values outside the known "
        "value lists (loaded, flagged).",
    ),
]


def _month_metadata(d: IngestedDelivery, table: str) -> dict:
    rows = d.heights[table]
    meta: dict = {"dagster/row_count": rows, "data_maaned": d.month}
    name = table.removeprefix("raw_")
    if name in d.stats:
        s = d.stats[name]
        meta.update(
            leveret=s["leveret"],
            afvist=s["afvist"],
            dubletter_sammenfaldet=s["dubletter_sammenfaldet"],
        )
        if s["afvist_pr_aarsag"]:
            meta["afvist_pr_aarsag"] = dg.MetadataValue.json(s["afvist_pr_aarsag"])
    if table == REJECTED_TABLE:
        rejected = d.frames[(table, d.month)]
        assert isinstance(rejected, pl.DataFrame)
        meta.update(_rejected_metadata(rejected))
    return meta


def _rejected_metadata(rejected: pl.DataFrame) -> dict:
    """Counts per file and reason and the first rows' file, line and reason: never the row."""
    if not rejected.height:
        return {"afvist_pr_fil": dg.MetadataValue.json({})}
    per = rejected.group_by("fil", "aarsag").len().sort("fil", "aarsag")
    per_file = {f: int(n) for f, n in rejected.group_by("fil").len().sort("fil").iter_rows()}
    lines = ["| fil | linje | årsag |", "|---|---:|---|"]
    for f, line, why in rejected.select("fil", "linje", "aarsag").head(10).iter_rows():
        lines.append(f"| {f} | {line} | {redact(str(why), 80)} |")
    return {
        "afvist_pr_fil": dg.MetadataValue.json(per_file),
        "afvist_pr_fil_og_aarsag": dg.MetadataValue.md(
            "\n".join(
                ["| fil | årsag | rækker |", "|---|---|---:|"]
                + [f"| {f} | {redact(str(w), 80)} | {n} |" for f, w, n in per.iter_rows()]
            )
        ),
        "eksempler": dg.MetadataValue.md("\n".join(lines)),
    }


@dataclass
class _Months:
    """What the run's months came to: the loaded deliveries, their metadata, the failures."""

    done: list[IngestedDelivery] = field(default_factory=list)
    metadata: dict[str, dict[str, dict]] = field(default_factory=dict)  # month -> table -> meta
    failed: dict[str, str] = field(default_factory=dict)
    rejected_rows: dict[str, Verdict] = field(default_factory=dict)


def _ingest_month(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    data_root: DataRootResource,
    month: str,
    months: _Months,
) -> None:
    """Ingest, publish and record one month's delivery; a delivery that does not load is noted
    in `months.failed` with its check verdict instead."""
    wh = data_root.warehouse
    try:
        d = ingest_delivery(data_root.inbox / month, wh, config.accepter_afviste_raekker)
    except (DeliveryRejected, DeliveryHeld, SchemaViolation) as e:
        months.failed[month] = str(e)
        months.rejected_rows[month] = row_checks.not_loaded(month, e)
        context.log.error(str(e))
        return
    try:
        data_root.publish(d.frames)
    except BaseException:
        d.discard()
        raise
    months.metadata[month] = {
        spec.key.path[-1]: _month_metadata(d, spec.key.path[-1]) for spec in _SPECS
    }
    d.frames.clear()  # published: a range of months never holds more than one in memory
    _record_delivery(context, wh, d)
    months.done.append(d)
    months.rejected_rows[month] = row_checks.rejected_rows(d)


def _record_delivery(context: dg.AssetExecutionContext, wh: Warehouse, d: IngestedDelivery) -> None:
    """Write the loaded delivery's ledger entry, then log its warnings and a one-line summary."""
    month = d.month
    wh.record_delivery(
        month,
        {
            "indhold_sha256": d.content_hash,
            "berort_fra": d.affected_from,
            "berort_fra_pr_gruppe": d.affected_by_group,
            "run_id": context.run_id,
            "accepteret_over_1_procent": d.accepted_over_threshold,
        },
    )
    for w in d.warnings:
        context.log.warning(f"{month}: {w}")
    if d.accepted_over_threshold:
        context.log.warning(f"{month}: accepteret trods over 1 % afviste rækker (run config)")
    context.log.info(
        f"{month}: indlæst, {d.rejected_total} rækker afvist, berører måneder fra {d.affected_from}"
    )


def _tag_run(
    context: dg.AssetExecutionContext, wh: Warehouse, done: list[IngestedDelivery]
) -> None:
    """Tag the run with the earliest affected month, the newest loaded month and any acceptance."""
    if not done:
        return
    loaded = wh.partitions(raw_table("visitation"))
    tags = {
        TAG_AFFECTED_FROM: min(d.affected_from for d in done),
        TAG_NEWEST: loaded[-1] if loaded else max(d.month for d in done),
    }
    if any(d.accepted_over_threshold for d in done):
        tags[TAG_ACCEPTED] = "ja"
    context.instance.add_run_tags(context.run_id, tags)


def _fail(
    context: dg.AssetExecutionContext, months: _Months, known: dict[str, Verdict]
) -> dg.Failure:
    """Log what did load and each month's check results, and return the failure naming every
    month that did not (the caller raises it)."""
    context.instance.add_run_tags(context.run_id, {TAG_REJECTED: "ja"})
    for d in months.done:
        for spec in _SPECS:
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=spec.key,
                    partition=f"{d.month}-01",
                    metadata=months.metadata[d.month][spec.key.path[-1]],
                )
            )
    for check, asset, verdicts in (
        ("ingen_afviste_raekker", REJECTED_TABLE, months.rejected_rows),
        ("kendte_kodevaerdier", raw_table("visitation"), known),
    ):
        for evaluation in month_evaluations(context, asset, check, verdicts, output=False):
            context.log_event(evaluation)
    failed = months.failed
    return dg.Failure(
        description="; ".join(failed[m] for m in sorted(failed)),
        metadata={"afviste_leveringer": sorted(failed)},
    )


def _results(context: dg.AssetExecutionContext, months: _Months, known: dict[str, Verdict]):
    """Yield one materialization per table, each month's counts attached to that month (see
    core/publishing.py), then the per-month check results."""
    for spec in _SPECS:
        table = spec.key.path[-1]
        for d in months.done:
            meta = months.metadata[d.month][table]
            meta["indhold_sha256"] = d.content_hash
            month_metadata(context, d.month, meta, asset_key=spec.key)
        yield dg.MaterializeResult(asset_key=spec.key)
    yield from month_evaluations(
        context, REJECTED_TABLE, "ingen_afviste_raekker", months.rejected_rows
    )
    yield from month_evaluations(context, raw_table("visitation"), "kendte_kodevaerdier", known)


@warehouse_multi_asset("raw_levering", specs=_SPECS, check_specs=_CHECKS)
def raw_levering(
    context: dg.AssetExecutionContext, config: IngestConfig, data_root: DataRootResource
):
    """Ingest the delivery of each month in the run: file-level checks (R12) reject the whole
    delivery; row-level faults go to raw_afviste_raekker; over 1 % rejected holds it back."""
    months = _Months()
    for key in context.partition_keys:
        _ingest_month(context, config, data_root, month_of_key(key), months)
    _tag_run(context, data_root.warehouse, months.done)
    known = {d.month: row_checks.known_values(d) for d in months.done}
    if months.failed:
        raise _fail(context, months, known)
    yield from _results(context, months, known)
