"""Pure builders of the dimension tables (polars in, polars out)."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from dfdg_assets.core import refdata
from dfdg_assets.core.cpr import birth_date_expr, stable_key
from dfdg_assets.core.frames import compacted
from dfdg_assets.core.sorted_runs import merge_disjoint

UNKNOWN_ORG_NAME = "Ukendt organisation"
UNKNOWN_EDUCATION_TITLE = "Ukendt uddannelse"


DIM_BORGER_COLUMNS = [
    "borger_key",
    "cpr",
    "fuldenavn",
    "kommunekode",
    "foedselsdato",
    "i_folkeregister",
    "seneste_snapshot",
]
"""dim_borger's columns, in order."""


def dim_kommune() -> pl.DataFrame:
    """One row per municipality (98): code, name, region."""
    return refdata.kommuner().sort("kommunekode")


def dim_region() -> pl.DataFrame:
    """One row per region (5)."""
    return refdata.regioner().sort("regionskode")


def latest_snapshot(snapshots: pl.LazyFrame, key: list[str]) -> pl.LazyFrame:
    """Each member's attributes from the latest monthly snapshot that carries it."""
    return snapshots.sort("data_maaned", "linje").group_by(key, maintain_order=True).last()


def latest_of_months(
    newest_first: list[pl.LazyFrame], key: list[str], months_per_pass: int = 4
) -> pl.DataFrame:
    """`latest_snapshot` over monthly snapshots given newest month first, a few months at a
    time (memory grows with the months read in one pass, not with the history): a member takes
    its row from the newest month carrying it, the last line of that month."""
    order = pl.col("data_maaned").str.replace("-", "").cast(pl.Int64) * 1_000_000_000 + pl.col(
        "linje"
    )
    parts: list[pl.DataFrame] = []
    seen: pl.DataFrame | None = None
    for i in range(0, len(newest_first), months_per_pass):
        rows = pl.concat(newest_first[i : i + months_per_pass]).with_columns(order.alias("_ord"))
        if seen is not None:
            rows = rows.join(seen.lazy(), on=key, how="anti")
        newest = rows.group_by(key).agg(pl.col("_ord").max())
        part = rows.join(newest, on=[*key, "_ord"], how="semi").drop("_ord")
        parts.append(part.collect(engine="streaming"))
        seen = pl.concat([p.select(key) for p in parts])
    return pl.concat(parts, rechunk=False) if parts else pl.DataFrame()


def latest_resident_rows(newest_first: list[pl.LazyFrame]) -> pl.DataFrame:
    """`latest_of_months(newest_first, ["cpr"])` for resident snapshots (raw_borger), with less
    memory and time: a CPR number is at most once in a month's snapshot (its key, R3 in the
    file), so each month, newest first, adds the rows of the numbers no newer month holds. The
    months are read one at a time and the numbers compared as integers (10 digits, R12)."""
    parts: list[pl.DataFrame] = []
    seen: pl.DataFrame | None = None
    for month in newest_first:
        rows = month.with_columns(pl.col("cpr").cast(pl.Int64).alias("_n"))
        if seen is not None:
            rows = rows.join(seen.lazy(), on="_n", how="anti")
        part = rows.collect()
        numbers, residents = part.select("_n"), part.drop("_n")
        # an older month adds a few rows: copied, so the month's names are not all kept
        parts.append(residents if seen is None else compacted(residents))
        seen = numbers if seen is None else pl.concat([seen, numbers])
    return pl.concat(parts, rechunk=False) if parts else pl.DataFrame()


def dim_organisation(snapshots: pl.LazyFrame, referenced_ids: pl.Series) -> pl.DataFrame:
    """One row per org_id: latest snapshot attributes; ids referenced by records but missing
    from every snapshot become 'unknown' members (flagged `ukendt`)."""
    known = (
        latest_snapshot(snapshots, ["org_id"])
        .select(
            "org_id",
            "org_navn",
            "org_type",
            "kommunekode",
            pl.col("data_maaned").alias("seneste_snapshot"),
        )
        .collect()
    )
    missing = (
        pl.DataFrame({"org_id": referenced_ids.drop_nulls().unique()})
        .join(known, on="org_id", how="anti")
        .with_columns(
            pl.lit(UNKNOWN_ORG_NAME).alias("org_navn"),
            pl.lit(None, pl.String).alias("org_type"),
            pl.lit(None, pl.Int32).alias("kommunekode"),
            pl.lit(None, pl.String).alias("seneste_snapshot"),
        )
    )
    out = pl.concat(
        [
            known.with_columns(pl.lit(False).alias("ukendt")),
            missing.with_columns(pl.lit(True).alias("ukendt")),
        ]
    ).sort("org_id")
    return out.with_columns(stable_key(out["org_id"]).alias("org_key")).select(
        "org_key", "org_id", "org_navn", "org_type", "kommunekode", "ukendt", "seneste_snapshot"
    )


def dim_uddannelse(snapshots: pl.LazyFrame, referenced: pl.DataFrame) -> pl.DataFrame:
    """One row per (uddannelseskode, uddannelseskodetype), AMU and DUN merged (seed 5.1.4);
    codes referenced by activities but missing from every snapshot are 'unknown' members."""
    key = ["uddannelseskode", "uddannelseskodetype"]
    known = latest_snapshot(snapshots, key).select(*key, "titel").collect()
    missing = (
        referenced.select(key)
        .drop_nulls("uddannelseskode")
        .unique()
        .join(known, on=key, how="anti", nulls_equal=True)
        .with_columns(pl.lit(UNKNOWN_EDUCATION_TITLE).alias("titel"))
    )
    out = pl.concat(
        [
            known.with_columns(pl.lit(False).alias("ukendt")),
            missing.with_columns(pl.lit(True).alias("ukendt")),
        ]
    ).sort(key, nulls_last=True)
    natural = out.select(
        pl.concat_str(
            [pl.col("uddannelseskodetype").fill_null(""), pl.col("uddannelseskode")], separator=":"
        )
    ).to_series()
    return out.with_columns(stable_key(natural).alias("uddannelse_key")).select(
        "uddannelse_key", *key, "titel", "ukendt"
    )


def dim_borger(
    snapshots: pl.LazyFrame,
    referenced_cprs: pl.Series,
    keys: pl.DataFrame,
    current: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per citizen: surrogate key, CPR, name, municipality and birth date.

    The only table holding CPR numbers and names. Citizens referenced by records but absent from
    every resident snapshot are kept with a null name (`i_folkeregister` false).

    With `current` (the table as built from earlier months), `snapshots` and `referenced_cprs`
    hold only newer months: a citizen in a new snapshot takes its row from there, every other
    citizen keeps the current row, and newly referenced citizens are added.
    """
    known = (
        latest_snapshot(snapshots, ["cpr"])
        .select("cpr", "fuldenavn", "kommunekode", pl.col("data_maaned").alias("seneste_snapshot"))
        .collect()
        .with_columns(pl.lit(True).alias("i_folkeregister"))
    )
    kept = (
        current.drop("borger_key", "foedselsdato").join(known, on="cpr", how="anti")
        if current is not None
        else known.clear()
    )
    missing = (
        pl.DataFrame({"cpr": referenced_cprs.drop_nulls().unique()})
        .join(pl.concat([known.select("cpr"), kept.select("cpr")]), on="cpr", how="anti")
        .with_columns(
            pl.lit(None, pl.String).alias("fuldenavn"),
            pl.lit(None, pl.Int32).alias("kommunekode"),
            pl.lit(None, pl.String).alias("seneste_snapshot"),
            pl.lit(False).alias("i_folkeregister"),
        )
    )
    cols = ["cpr", "fuldenavn", "kommunekode", "seneste_snapshot", "i_folkeregister"]
    out = pl.concat([known.select(cols), kept.select(cols), missing.select(cols)])
    return (
        out.join(keys, on="cpr", how="left")
        .with_columns(birth_date_expr(pl.col("cpr")).alias("foedselsdato"))
        .select(DIM_BORGER_COLUMNS)
        .sort("borger_key")
    )


def merge_dim_borger(
    current: pl.LazyFrame,
    snapshot: pl.LazyFrame,
    referenced_cprs: pl.Series,
    keys_of: Callable[[pl.Series], pl.Series],
) -> pl.DataFrame:
    """`dim_borger(snapshot, referenced_cprs, keys, current)` for `current` (the table, sorted by
    `borger_key`) and newer months: `snapshot` holds at most one row per CPR number (the newest
    of the new months), `referenced_cprs` the citizens their records name, and `keys_of` gives
    the surrogate keys of new citizens. Same rows and order; the joins run on the CPR number as
    an integer (10 digits), the existing keys and birth dates are reused, and the kept rows stay
    in the order they have."""
    num = pl.col("cpr").cast(pl.Int64).alias("_n")
    cur = current.select("borger_key", "foedselsdato", num)
    snap = (
        snapshot.select(
            "cpr",
            "fuldenavn",
            "kommunekode",
            pl.col("data_maaned").alias("seneste_snapshot"),
            pl.lit(True).alias("i_folkeregister"),
            num,
        )
        .join(cur, on="_n", how="left")
        .collect()
    )
    refs = pl.DataFrame({"cpr": referenced_cprs.drop_nulls().unique()}).with_columns(num)
    missing = (
        refs.join(snap.select("_n"), on="_n", how="anti")
        .join(cur.select("_n").collect(), on="_n", how="anti")
        .with_columns(
            pl.lit(None, pl.String).alias("fuldenavn"),
            pl.lit(None, pl.Int32).alias("kommunekode"),
            pl.lit(None, pl.String).alias("seneste_snapshot"),
            pl.lit(False).alias("i_folkeregister"),
        )
    )
    known, fresh = (
        snap.filter(pl.col("borger_key").is_not_null()),
        snap.filter(pl.col("borger_key").is_null()),
    )
    cols = DIM_BORGER_COLUMNS
    added = pl.concat([fresh.drop("borger_key", "foedselsdato"), missing], how="diagonal")
    added = added.with_columns(
        (keys_of(added["cpr"]) if added.height else pl.Series([], dtype=pl.Int64)).alias(
            "borger_key"
        ),
        birth_date_expr(pl.col("cpr")).alias("foedselsdato"),
    )
    changed = pl.concat([known.select(cols), added.select(cols)])
    kept = current.filter(~pl.col("borger_key").is_in(known["borger_key"].implode()))
    return merge_disjoint(kept.select(cols), changed.lazy(), ["borger_key"])
