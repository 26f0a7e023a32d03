"""The current YR rows per week-month (R3, from 2020-01), CPR replaced by the surrogate key.
A monthly partition in the rollout job; months before 2020-01 hold empty partitions."""

import dagster as dg
import polars as pl

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.cpr import surrogate_keys
from dfdg_assets.core.publishing import publish_each_month, starting_with
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import table_schema
from dfdg_assets.core.weeks import week_frame
from dfdg_assets.ingest.contract import YR_FIRST_MONTH
from dfdg_assets.raw.ingest import raw_table, versions
from dfdg_assets.rules.benefits import current_yr_rows
from dfdg_assets.staging.schemas import WEEK_COLS

YDELSE_COLS = {
    "borger_key": pl.Int64(),
    "kommunekode": pl.Int32(),
    "beskaeftigelsesydelse": pl.String(),
    "udbetalt_beloeb": pl.Float64(),
    "refusionsprocent": pl.Float64(),
    **WEEK_COLS,
    "data_maaned": pl.String(),
}
YDELSE_SCHEMA = table_schema(
    "stg_ydelse", {c: (t, c == "refusionsprocent") for c, t in YDELSE_COLS.items()}
)


def yr_rows_for_month(wh, month: str) -> pl.DataFrame:
    """The current YR rows of the weeks belonging to `month`, CPR replaced by the surrogate key."""
    weeks = week_frame([month])
    rows = current_yr_rows(versions(wh, "ydelse"), weeks["uge"].to_list()).collect()
    keys = (
        surrogate_keys(rows["cpr"], wh.key_secret())
        if rows.height
        else pl.Series([], dtype=pl.Int64)
    )
    return (
        rows.with_columns(keys.alias("borger_key"))
        .join(weeks.select(list(WEEK_COLS)), on="uge", how="left")
        .select(list(YDELSE_COLS))
        .sort("kommunekode", "borger_key", "uge", "beskaeftigelsesydelse", "udbetalt_beloeb")
    )


@warehouse_asset(
    "stg_ydelse",
    "staging",
    deps=[raw_table("ydelse")],
    partitioned=True,
)
def stg_ydelse(
    context: dg.AssetExecutionContext, data_root: DataRootResource
) -> dg.MaterializeResult:
    """YR rows per week-month: a later delivery carrying a citizen-week replaces all its earlier rows."""
    wh = data_root.warehouse
    build = starting_with(YR_FIRST_MONTH, YDELSE_COLS, lambda m: yr_rows_for_month(wh, m))
    return publish_each_month(context, data_root, "stg_ydelse", YDELSE_SCHEMA, build)
