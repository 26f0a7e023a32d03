"""The current YR rows per week-month (R3, from 2020-01), CPR replaced by the surrogate key.
A monthly partition in the rollout job; months before 2020-01 hold empty partitions."""

from collections.abc import Iterator

import dagster as dg
import duckdb
import polars as pl

from dfdg_assets.core.assets import warehouse_asset
from dfdg_assets.core.cpr import surrogate_keys
from dfdg_assets.core.publishing import publish_months
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.core.schemas import table_schema
from dfdg_assets.core.weeks import month_of_key, week_frame
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.contract import YR_FIRST_MONTH
from dfdg_assets.ingest.rows import raw_schema
from dfdg_assets.raw.ingest import history_table, raw_table
from dfdg_assets.rules.benefits import current_yr_rows
from dfdg_assets.sql import statement
from dfdg_assets.staging.schemas import WEEK_COLS
from dfdg_assets.storage import month_sources
from dfdg_assets.storage.warehouse import UNPARTITIONED

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


_ORDER = ["kommunekode", "borger_key", "uge", "beskaeftigelsesydelse", "udbetalt_beloeb"]
MONTHS_PER_READ = 4
"""Months whose YR rows are found in one pass over the YR history (bounds memory)."""


class _KeyCache:
    """Surrogate keys of the CPR numbers met so far in a run: each number is hashed once."""

    def __init__(self, secret: bytes):
        self._secret = secret
        self._known = pl.DataFrame(schema={"cpr": pl.String(), "borger_key": pl.Int64()})

    def keys(self, cprs: pl.Series) -> pl.Series:
        new = cprs.unique().to_frame("cpr").join(self._known, on="cpr", how="anti")["cpr"]
        if new.len():
            added = pl.DataFrame({"cpr": new, "borger_key": surrogate_keys(new, self._secret)})
            self._known = pl.concat([self._known, added])
        return cprs.to_frame("cpr").join(self._known, on="cpr", how="left", maintain_order="left")[
            "borger_key"
        ]


def _yr_rows(wh, months: list[str], cache: _KeyCache, carriers: list[str]) -> pl.DataFrame:
    """The current YR rows of the weeks belonging to `months` (R3 per citizen-week), keyed,
    from the YR partitions in `carriers` (those carrying one of the weeks) and the versions
    carried over from pruned deliveries: no other delivery holds a row of these weeks."""
    weeks = week_frame(months)
    schema = raw_schema(contract.FILES_BY_NAME["ydelse"])
    parts = [wh.scan(raw_table("ydelse"), carriers, schema=schema)]
    if wh.has(history_table("ydelse")):
        parts.append(wh.scan(history_table("ydelse"), schema=schema))
    rows = current_yr_rows(pl.concat(parts), weeks["uge"].to_list()).collect()
    return (
        rows.with_columns(cache.keys(rows["cpr"]).alias("borger_key"))
        .join(weeks.select(list(WEEK_COLS)), on="uge", how="left")
        .select(list(YDELSE_COLS))
    )


def week_spans(wh, partitions: list[str]) -> dict[str, tuple[str, str]]:
    """Per YR partition: the first and last week it carries (absent: it carries no row). Read
    from the files' column statistics, the footers and not the rows (the YR history grows by a
    national month a delivery); a file without them is read."""
    files = {str(wh.partition_file(raw_table("ydelse"), p)): p for p in partitions}
    if not files:
        return {}
    with duckdb.connect() as con:
        stats = con.execute(statement("yr_week_spans"), [list(files)]).fetchall()
    out: dict[str, tuple[str, str]] = {}
    for f, lo, hi, complete in stats:
        p = files[f]
        if not complete:
            lo, hi = (
                wh.scan(raw_table("ydelse"), [p])
                .select(pl.col("uge").min(), pl.col("uge").max().alias("til"))
                .collect()
                .row(0)
            )
        if lo is not None:
            out[p] = (lo, hi)
    return out


def yr_sources(wh, months: list[str]) -> dict[str, month_sources.Sources]:
    """Per month: the YR partitions carrying one of its weeks, and the versions carried over
    from pruned deliveries: what its rows are built from (storage/month_sources.py)."""
    spans = week_spans(wh, wh.partitions(raw_table("ydelse")))
    carried = {history_table("ydelse"): [UNPARTITIONED]} if wh.has(history_table("ydelse")) else {}
    out: dict[str, month_sources.Sources] = {}
    for m in months:
        weeks = week_frame([m])["uge"]
        lo, hi = str(weeks.min()), str(weeks.max())
        carriers = [p for p, (fra, til) in spans.items() if not (til < lo or fra > hi)]
        out[m] = {raw_table("ydelse"): sorted(carriers), **carried}
    return out


def yr_rows_by_month(
    wh, months: list[str], sources: dict[str, month_sources.Sources] | None = None
) -> Iterator[tuple[str, pl.DataFrame]]:
    """(month, its current YR rows) for each of `months`, CPR replaced by the surrogate key;
    months before YR_FIRST_MONTH are empty. The YR partitions carrying the weeks of
    MONTHS_PER_READ months are read once for them (`sources`: `yr_sources` of the months),
    and each CPR number is hashed once per call."""
    cache = _KeyCache(wh.key_secret())
    sources = yr_sources(wh, months) if sources is None else sources
    for i in range(0, len(months), MONTHS_PER_READ):
        chunk = months[i : i + MONTHS_PER_READ]
        yr = [m for m in chunk if m >= YR_FIRST_MONTH]
        carriers = sorted({p for m in yr for p in sources[m].get(raw_table("ydelse"), [])})
        rows = _yr_rows(wh, yr, cache, carriers) if yr else pl.DataFrame(schema=YDELSE_COLS)
        for m in chunk:
            yield m, rows.filter(pl.col("maaned") == m).sort(_ORDER)


@warehouse_asset(
    "stg_ydelse",
    "staging",
    deps=[raw_table("ydelse")],
    partitioned=True,
)
def stg_ydelse(
    context: dg.AssetExecutionContext, data_root: DataRootResource
) -> dg.MaterializeResult:
    """YR rows per week-month: a later delivery carrying a citizen-week replaces all its earlier
    rows. A month whose YR sources did not change since it was built keeps its rows."""
    wh = data_root.warehouse
    months = [month_of_key(k) for k in context.partition_keys]
    sources = yr_sources(wh, months)
    stored = {m for m in months if month_sources.unchanged(wh, "stg_ydelse", m, sources[m])}
    rows = yr_rows_by_month(wh, [m for m in months if m not in stored], sources)
    result = publish_months(data_root, "stg_ydelse", rows, YDELSE_SCHEMA, context)
    month_sources.kept(context, wh, "stg_ydelse", sorted(stored))
    for m in months:
        month_sources.record(wh, "stg_ydelse", m, sources[m])
    return result
