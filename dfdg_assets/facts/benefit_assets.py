"""YR benefit facts (from 2020-01): the citizen-week benefits of the DFDG population (R8) and the
16-66 population per municipality (R9). Monthly partitions
in the rollout job; months before 2020-01 hold empty partitions."""

import dagster as dg
import polars as pl

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.publishing import starting_with
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import table_schema
from dfdg_assets.core.weeks import month_of_key
from dfdg_assets.facts.assets import publish_checked
from dfdg_assets.facts.keys import KEYS, key_checks
from dfdg_assets.facts.schemas import ACTIVITY_WEEK_COLS, VISITATION_WEEK_COLS
from dfdg_assets.ingest.contract import YR_FIRST_MONTH
from dfdg_assets.raw.ingest import raw_table
from dfdg_assets.rules.benefits import (
    citizen_month_benefits,
    citizen_week_benefits_of,
    population_16_66,
    population_by_week,
    population_fingerprint,
)
from dfdg_assets.staging.benefits import YDELSE_COLS
from dfdg_assets.storage import month_sources

BENEFIT_WEEK_COLS = {
    "borger_key": pl.Int64(),
    "uge": pl.String(),
    "maaned": pl.String(),
    "beskaeftigelsesydelse": pl.String(),
}
BENEFIT_MONTH_COLS = {c: t for c, t in BENEFIT_WEEK_COLS.items() if c != "uge"}
POP_COLS = {"kommunekode": pl.Int32(), "antal_borgere_16_66": pl.Int64(), "maaned": pl.String()}
_BEFORE_YR = "foer-yr"  # the recorded content of a month before YR: an empty partition
_HELD_POPULATIONS = 12  # changed months' populations held for their build (~10 MB each, national)

BENEFIT_WEEK_SCHEMA = table_schema(
    "fct_borger_ydelse_uge",
    {c: (t, False) for c, t in BENEFIT_WEEK_COLS.items()},
    unique=["borger_key", "uge", "beskaeftigelsesydelse"],
)
BENEFIT_MONTH_SCHEMA = table_schema(
    "fct_borger_ydelse_maaned",
    {c: (t, False) for c, t in BENEFIT_MONTH_COLS.items()},
    unique=KEYS["fct_borger_ydelse_maaned"][0],
)
POP_SCHEMA = table_schema(
    "fct_befolkning_16_66", {c: (t, False) for c, t in POP_COLS.items()}, unique=["kommunekode"]
)


def _asset(name: str, deps: list[str]):
    return warehouse_asset(
        name,
        "facts",
        deps=[*deps, *_references(name)],
        partitioned=True,
        check_specs=key_checks(name),
    )


def _references(name: str) -> list[str]:
    return list(dict.fromkeys(t for _, t, _ in KEYS[name][1]))


@_asset("fct_borger_ydelse_uge", ["stg_ydelse", "fct_visitation_uge", "fct_aktivitet_uge"])
def fct_borger_ydelse_uge(context: dg.AssetExecutionContext, data_root: DataRootResource):
    """The ydelsesaktivitet cube's link: each DFDG citizen-week with its YR benefit(s). A month
    whose YR partition is the one it was built from and whose citizen-weeks are the same (the
    digest of who is in which week) keeps its rows: a refresh that adds an activity to a citizen
    already in the population that week changes nothing here."""
    wh = data_root.warehouse
    name = "fct_borger_ydelse_uge"
    months = [month_of_key(k) for k in context.partition_keys]
    sources = {m: {"stg_ydelse": [m]} if m >= YR_FIRST_MONTH else {} for m in months}
    digests: dict[str, str] = {m: _BEFORE_YR for m in months if m < YR_FIRST_MONTH}

    def population(m: str) -> pl.DataFrame:
        return population_by_week(
            wh.scan("fct_visitation_uge", [m], schema=VISITATION_WEEK_COLS),
            wh.scan("fct_aktivitet_uge", [m], schema=ACTIVITY_WEEK_COLS),
        )

    changed: dict[str, pl.DataFrame] = {}  # populations found changed, kept for their build

    def unchanged(m: str) -> bool:
        recorded = month_sources.recorded_content(wh, name, m, sources[m])
        if recorded is None:
            return False
        if m < YR_FIRST_MONTH:
            return recorded == _BEFORE_YR
        by_week = population(m)
        if recorded == population_fingerprint(by_week):
            return True
        if len(changed) < _HELD_POPULATIONS:
            changed[m] = by_week
        return False

    def build(m: str) -> pl.DataFrame:
        by_week = changed.pop(m, None)
        if by_week is None:
            by_week = population(m)
        digests[m] = population_fingerprint(by_week)
        return (
            citizen_week_benefits_of(by_week, wh.scan("stg_ydelse", [m], schema=YDELSE_COLS))
            .with_columns(pl.lit(m).alias("maaned"))
            .select(list(BENEFIT_WEEK_COLS))
        )

    kept = [m for m in months if unchanged(m)]
    build_from = starting_with(YR_FIRST_MONTH, BENEFIT_WEEK_COLS, build)
    yield from publish_checked(
        context,
        data_root,
        name,
        BENEFIT_WEEK_SCHEMA,
        build_from,
        kept=kept,
        cols=BENEFIT_WEEK_COLS,
    )
    for m in months:
        if m not in kept:
            month_sources.record(wh, name, m, sources[m], digests[m])


@_asset("fct_borger_ydelse_maaned", ["fct_borger_ydelse_uge"])
def fct_borger_ydelse_maaned(context: dg.AssetExecutionContext, data_root: DataRootResource):
    """The citizens of each benefit by month: the month's citizen-weeks made distinct per
    citizen and benefit (a few hundred thousand rows a national month against 1.3 million), so
    `antal_borgere` by month and benefit is a count of rows, not a distinct count of weeks. A
    month whose weekly partition is the one it was built from keeps its rows."""
    wh = data_root.warehouse
    name = "fct_borger_ydelse_maaned"
    months = [month_of_key(k) for k in context.partition_keys]
    sources = {m: {"fct_borger_ydelse_uge": [m]} for m in months}

    def build(m: str) -> pl.DataFrame:
        weeks = wh.scan("fct_borger_ydelse_uge", [m], schema=BENEFIT_WEEK_COLS)
        return citizen_month_benefits(weeks).collect()

    kept = [m for m in months if month_sources.unchanged(wh, name, m, sources[m])]
    yield from publish_checked(
        context,
        data_root,
        name,
        BENEFIT_MONTH_SCHEMA,
        build,
        kept=kept,
        cols=BENEFIT_MONTH_COLS,
    )
    for m in months:
        if m not in kept and wh.has("fct_borger_ydelse_uge", m):
            month_sources.record(wh, name, m, sources[m])


@_asset("fct_befolkning_16_66", [raw_table("borger")])
def fct_befolkning_16_66(context: dg.AssetExecutionContext, data_root: DataRootResource):
    """Residents aged 16-66 per municipality, from the month's resident snapshot. A month whose
    snapshot did not change since it was built keeps its rows."""
    wh = data_root.warehouse
    name = "fct_befolkning_16_66"
    months = [month_of_key(k) for k in context.partition_keys]
    sources = {m: {raw_table("borger"): [m]} for m in months}
    kept = 0

    def build(m: str) -> pl.DataFrame:
        nonlocal kept
        if not wh.has(raw_table("borger"), m):
            context.log.warning(f"{m}: ingen borger-snapshot; 16-66-årige er ukendte (null)")
            return pl.DataFrame(schema=POP_COLS)
        if month_sources.unchanged(wh, name, m, sources[m]):
            kept += 1
            return wh.read(name, [m], schema=POP_COLS)
        return (
            population_16_66(wh.scan(raw_table("borger"), [m]), m)
            .with_columns(pl.lit(m).alias("maaned"))
            .sort("kommunekode")
            .collect()
        )

    # its build logs through the run's context: not in a second thread
    yield from publish_checked(context, data_root, name, POP_SCHEMA, build, overlap=False)
    for m in months:
        if wh.has(raw_table("borger"), m):
            month_sources.record(wh, name, m, sources[m])
    if kept:
        context.log.info(f"{kept} af {len(months)} måneder uændrede siden sidst")


BENEFIT_FACTS = [fct_borger_ydelse_uge, fct_borger_ydelse_maaned, fct_befolkning_16_66]
