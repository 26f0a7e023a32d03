"""The monthly schedule: on the 11th, load the previous month's delivery, or skip with the reason."""

import dagster as dg

from dfdg_assets.core.partitions import apply
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.weeks import add_months
from dfdg_assets.ingest.delivery import completeness
from dfdg_assets.orchestration.jobs import ingest_job
from dfdg_assets.orchestration.ledger import is_loaded, loaded_hash, partition_requests
from dfdg_assets.orchestration.sensors import ingest_request


def month_due(scheduled: object) -> str:
    """The data month a tick on a given date asks for: the previous calendar month."""
    return add_months(f"{scheduled.year:04d}-{scheduled.month:02d}", -1)  # type: ignore[attr-defined]


@dg.schedule(
    name="maanedlig_indlaesning",
    cron_schedule="0 6 11 * *",
    execution_timezone="Europe/Copenhagen",
    job=ingest_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="On the 11th at 06:00 (deliveries are due by the 10th): ingest the previous month's delivery.",
)
def maanedlig_indlaesning(context: dg.ScheduleEvaluationContext, data_root: DataRootResource):
    month = month_due(context.scheduled_execution_time)
    folder = data_root.inbox / month
    if not folder.is_dir():
        return dg.SkipReason(f"Levering for {month} er ikke modtaget (forfalden den 10.)")
    state = completeness(folder)
    if not state.complete:
        return dg.SkipReason(f"Levering for {month} er ufuldstændig: {state.reason}")
    wh = data_root.warehouse
    if is_loaded(wh, month, state.content_hash or ""):
        return dg.SkipReason(f"Levering for {month} er allerede indlæst")
    # the month becomes a partition before its run is requested (a schedule, unlike a sensor,
    # cannot return partition requests in Dagster 1.13)
    apply(context.instance, partition_requests(context.instance, wh, [month]))
    return ingest_request(month, state.content_hash or "", loaded_hash(wh, month))
