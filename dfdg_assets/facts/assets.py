"""Fact assets: the weekly facts are monthly partitions rolled out by the rollout job, a range of
months in one run, one month at a time to bound memory."""

from collections.abc import Iterator, Sequence

import dagster as dg
import polars as pl

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.checks import all_month_evaluations
from dfdg_assets.core.prefetch import prefetched
from dfdg_assets.core.publishing import month_metadata, publish_months
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.weeks import month_of_key
from dfdg_assets.facts.keys import KeyCheck, key_checks, warehouse_reader
from dfdg_assets.facts.schemas import (
    ACTIVITY_WEEK_COLS,
    CONVERSATION_WEEK_COLS,
    PARTICIPANT_COLS,
    POPULATION_MONTH_SCHEMA,
    VISITATION_WEEK_COLS,
    activity_week_schema,
    conversation_week_schema,
    participant_schema,
    visitation_week_schema,
)
from dfdg_assets.rules.benefits import population_months
from dfdg_assets.rules.rollout import activity_weeks, conversation_weeks, course_weeks, reaching
from dfdg_assets.staging.assets import scan_staging
from dfdg_assets.staging.schemas import COURSE_COLS, staging_schema

# Sources are ordered once by municipality and citizen; a roll-out keeps its input order, so each
# month's rows come out clustered by municipality (row groups prune well) without a sort per month.
_SOURCE_ORDER = ["kommunekode", "borger_key", "startdato"]


def _months(context: dg.AssetExecutionContext, data_root: DataRootResource) -> list[str]:
    months = [month_of_key(k) for k in context.partition_keys]
    delivered = set(data_root.warehouse.partitions("raw_visitation"))
    missing = [m for m in months if m not in delivered and m >= min(delivered, default=m)]
    if missing:
        context.log.warning(
            f"Ingen levering for {', '.join(missing[:12])}{' …' if len(missing) > 12 else ''}: "
            "udrullet ud fra det kendte (R1)"
        )
    return months


def kept_months(
    context: dg.AssetExecutionContext, data_root: DataRootResource, table: str, group: str
) -> list[str]:
    """The run's months of `table` that stand as built: before the first month the roll-out
    debt this run settles changes in record `group` (a delivery changing only activities leaves
    the course-weeks of earlier months as they are), and built already. A run without the debt
    (a backfill from the UI, say) builds every month."""
    from dfdg_assets.orchestration.ledger import TAG_ROLLOUT_DEBT

    wh = data_root.warehouse
    first = wh.unchanged_before(group, context.run.tags.get(TAG_ROLLOUT_DEBT))
    if first is None:
        return []
    months = [month_of_key(k) for k in context.partition_keys]
    return [m for m in months if m < first and wh.has(table, m)]


def keep_months(context, data_root: DataRootResource, table: str, months, cols, checks) -> None:
    """Months that stand as built: checked as they are stored (only the columns the checks
    read), not written again; their materialization in the run carries the stored row count
    and `uaendret`."""
    if not months:
        return
    needed = {c: cols[c] for c in checks.columns} if cols is not None else None
    for m in months:
        df = data_root.warehouse.read(table, [m], schema=needed)
        checks.add(df, m)
        month_metadata(context, m, {"dagster/row_count": df.height, "uaendret": True})
    context.log.info(f"{len(months)} måneder uændrede siden sidst (ikke skrevet igen)")


def _rollout_asset(name: str, deps: list[str], build, schema, cols, group: str):
    @warehouse_asset(
        name,
        "facts",
        deps=[
            *deps,
            "dim_tid_uge",
            "dim_borger",
            "dim_kommune",
            "dim_organisation",
            "dim_uddannelse",
        ],
        partitioned=True,
        check_specs=key_checks(name),
    )
    def _asset(context: dg.AssetExecutionContext, data_root: DataRootResource):
        kept = kept_months(context, data_root, name, group)
        months = [m for m in _months(context, data_root) if m not in kept]
        checks = KeyCheck(name, warehouse_reader(data_root.warehouse))
        keep_months(context, data_root, name, kept, cols, checks)
        frames = prefetched(checks.watch(_built(data_root, build, months, cols)))
        yield publish_months(data_root, name, frames, schema, context)
        yield from all_month_evaluations(context, name, checks.verdicts())

    return _asset


def _built(data_root, build, months: list[str], cols) -> Iterator[tuple[str, pl.DataFrame]]:
    """(month, its rows) of `months` rolled out one at a time (the source narrowed once)."""
    if not months:
        return
    source = build(data_root, months)
    for m in months:
        yield m, source(m).select(list(cols)).collect()


def _visitation_weeks(data_root, months: list[str]):
    courses = data_root.warehouse.scan("stg_visitationsforloeb", schema=COURSE_COLS)
    courses = reaching(courses, months, "startdato", "slutdato", end_inclusive=False)
    courses = courses.sort([*_SOURCE_ORDER, "forloeb_id"]).collect().lazy()
    return lambda m: course_weeks(courses, [m])


def _activity_weeks(data_root, months: list[str]):
    acts = reaching(
        scan_staging(data_root, "aktivitet"), months, "startdato", "slutdato", end_inclusive=True
    )
    acts = acts.sort([*_SOURCE_ORDER, "aktivitet_id"]).collect().lazy()
    return lambda m: activity_weeks(acts, [m])


def _conversation_weeks(data_root, months: list[str]):
    convs = reaching(
        scan_staging(data_root, "samtale"), months, "samtaledato", "samtaledato", end_inclusive=True
    )
    convs = convs.sort("kommunekode", "borger_key", "samtaledato", "samtale_id")
    convs = convs.collect().lazy()
    return lambda m: conversation_weeks(convs, [m])


fct_visitation_uge = _rollout_asset(
    "fct_visitation_uge",
    ["stg_visitationsforloeb"],
    _visitation_weeks,
    visitation_week_schema(),
    VISITATION_WEEK_COLS,
    "visitation",
)
fct_aktivitet_uge = _rollout_asset(
    "fct_aktivitet_uge",
    ["stg_aktivitet"],
    _activity_weeks,
    activity_week_schema(),
    ACTIVITY_WEEK_COLS,
    "aktivitet",
)
fct_samtale_uge = _rollout_asset(
    "fct_samtale_uge",
    ["stg_samtale"],
    _conversation_weeks,
    conversation_week_schema(),
    CONVERSATION_WEEK_COLS,
    "samtale",
)


@warehouse_asset(
    "bdg_samtale_deltager",
    "facts",
    deps=["fct_samtale_uge", "stg_samtale_deltager"],
    partitioned=True,
    check_specs=key_checks("bdg_samtale_deltager"),
)
def bdg_samtale_deltager(context: dg.AssetExecutionContext, data_root: DataRootResource):
    """Participants of the month's held conversations (0..n per conversation)."""
    wh = data_root.warehouse
    kept = kept_months(context, data_root, "bdg_samtale_deltager", "samtale")
    checks = KeyCheck("bdg_samtale_deltager", warehouse_reader(wh))
    keep_months(context, data_root, "bdg_samtale_deltager", kept, PARTICIPANT_COLS, checks)
    participants = (
        wh.scan("stg_samtale_deltager", schema=staging_schema("samtale_deltager"))
        .select("samtale_id", "deltagertype")
        .collect()
    )
    frames = {}
    for m in [month_of_key(k) for k in context.partition_keys if month_of_key(k) not in kept]:
        held = (
            wh.scan("fct_samtale_uge", [m], schema=CONVERSATION_WEEK_COLS)
            .select("samtale_id")
            .collect()
        )
        frames[m] = (
            participants.join(held, on="samtale_id", how="semi")
            .with_columns(pl.lit(m).alias("maaned"))
            .sort("samtale_id", "deltagertype")
        )
    yield publish_months(
        data_root,
        "bdg_samtale_deltager",
        checks.watch(frames.items()),
        participant_schema(),
        context,
    )
    yield from all_month_evaluations(context, "bdg_samtale_deltager", checks.verdicts())


def publish_checked(
    context,
    data_root: DataRootResource,
    name: str,
    schema,
    build,
    *,
    overlap: bool = True,
    kept: Sequence[str] = (),
    cols=None,
):
    """Build, publish and check the run's months one at a time (facts/keys.py); with `overlap`
    the next month is built and key-checked while the current one is written (`prefetched`: the
    build must not use the run's context). Months in `kept` stand as stored (`keep_months`,
    read with the columns `cols`): checked, not built or written again."""
    checks = KeyCheck(name, warehouse_reader(data_root.warehouse))
    keep_months(context, data_root, name, kept, cols, checks)
    months = [m for m in (month_of_key(k) for k in context.partition_keys) if m not in kept]
    frames = ((m, build(m)) for m in months)
    checked = checks.watch(frames)
    yield publish_months(
        data_root, name, prefetched(checked) if overlap else checked, schema, context
    )
    yield from all_month_evaluations(context, name, checks.verdicts())


@warehouse_asset(
    "fct_borger_maaned",
    "facts",
    deps=["fct_visitation_uge", "fct_aktivitet_uge"],
    partitioned=True,
    check_specs=key_checks("fct_borger_maaned"),
)
def fct_borger_maaned(context: dg.AssetExecutionContext, data_root: DataRootResource):
    """The DFDG population by municipality and month, from the month's course-weeks and
    activity-weeks (only the columns it needs)."""
    wh = data_root.warehouse

    def build(m: str) -> pl.DataFrame:
        return population_months(
            wh.scan("fct_visitation_uge", [m], schema=VISITATION_WEEK_COLS),
            wh.scan("fct_aktivitet_uge", [m], schema=ACTIVITY_WEEK_COLS),
        ).collect()

    yield from publish_checked(
        context, data_root, "fct_borger_maaned", POPULATION_MONTH_SCHEMA, build
    )


ROLLOUT_FACTS = [
    fct_visitation_uge,
    fct_aktivitet_uge,
    fct_samtale_uge,
    bdg_samtale_deltager,
    fct_borger_maaned,
]
