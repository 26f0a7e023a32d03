"""Row faults (R12) injected into rendered delivery files.

Faults stay well under the 1 % hold-back threshold of every file: at most rows // 250 faults,
and a conflicting duplicate (which rejects two rows) counts as one, so fewer than 0.8 % of a
file's rows are rejected.
"""

from __future__ import annotations

import numpy as np
import polars as pl

KINDS: dict[str, tuple[str, ...]] = {
    "visitation": ("cpr", "timestamp", "kommune", "conflict", "duplicate"),
    "aktivitet": ("cpr", "date", "slut_foer_start", "kommune", "timer", "conflict", "duplicate"),
    "samtale": ("cpr", "date", "kommune", "conflict", "duplicate"),
    "ydelse": ("cpr", "kommune", "refusion", "duplicate"),
}
DATE_COLUMN = {"aktivitet": "startdato", "samtale": "samtaledato"}
UNKNOWN_KOMMUNE = "999"


def _bad_cpr(col: pl.Expr, variant: pl.Series) -> pl.Expr:
    c = col.str
    return (
        pl.when(variant == 0)
        .then(pl.concat_str(c.slice(0, 2), pl.lit("13"), c.slice(4)))  # month 13
        .when(variant == 1)
        .then(pl.concat_str(pl.lit("00"), c.slice(2)))  # day 0
        .otherwise(c.slice(0, 9))  # nine digits
    )


def _bad_date(col: pl.Expr, variant: pl.Series) -> pl.Expr:
    c = col.str
    return (
        pl.when(variant == 0)
        .then(pl.concat_str(c.slice(0, 8), pl.lit("32")))  # day 32
        .otherwise(
            pl.concat_str(c.slice(8, 2), pl.lit("."), c.slice(5, 2), pl.lit("."), c.slice(0, 4))
        )
    )


def _bad_timestamp(col: pl.Expr, variant: pl.Series) -> pl.Expr:
    c = col.str
    return (
        pl.when(variant == 0)
        .then(pl.concat_str(c.slice(0, 5), pl.lit("13"), c.slice(7)))  # month 13
        .otherwise(
            pl.concat_str(
                c.slice(8, 2),
                pl.lit("."),
                c.slice(5, 2),
                pl.lit("."),
                c.slice(0, 4),
                pl.lit(" "),
                c.slice(11, 5),
            )
        )
    )


def _conflict(file: str, df: pl.DataFrame) -> pl.DataFrame:
    """The same id with different content."""
    if file == "visitation":
        c = pl.col("visitationstidspunkt")
        return df.with_columns(
            pl.concat_str(c.str.slice(0, 11), pl.lit("06:59:00")).alias(c.meta.output_name())
        )
    col, a, b = {
        "aktivitet": ("aktivitetsstatus", "Annulleret", "Gennemført"),
        "samtale": ("samtalestatus", "Aflyst", "Afholdt"),
    }[file]
    return df.with_columns(
        pl.when(pl.col(col) == a).then(pl.lit(b)).otherwise(pl.lit(a)).alias(col)
    )


def _damage(file: str, name: str, df: pl.DataFrame, variant: pl.Series) -> pl.DataFrame:
    """The rows with one kind of in-place fault."""
    if name == "cpr":
        return df.with_columns(_bad_cpr(pl.col("cpr"), variant).alias("cpr"))
    if name == "date":
        c = DATE_COLUMN[file]
        return df.with_columns(_bad_date(pl.col(c), variant).alias(c))
    if name == "timestamp":
        c = "visitationstidspunkt"
        return df.with_columns(_bad_timestamp(pl.col(c), variant).alias(c))
    if name == "slut_foer_start":
        before = pl.col("startdato").str.to_date(strict=False) - pl.duration(days=7)
        return df.with_columns(before.cast(pl.String).alias("slutdato"))
    column, value = {
        "kommune": ("kommunekode", UNKNOWN_KOMMUNE),
        "timer": ("timer_pr_uge", "200"),
        "refusion": ("refusionsprocent", "150"),
    }[name]
    return df.with_columns(pl.lit(value).alias(column))


def inject(
    df: pl.DataFrame, file: str, rng: np.random.Generator, rate: float
) -> tuple[pl.DataFrame, int]:
    """The file with faults (rows in no particular order); also the number of faults."""
    kinds = KINDS.get(file)
    n = df.height
    if not kinds or rate <= 0 or n == 0:
        return df, 0
    k = min(int(rng.binomial(n, rate)), n // 250)
    if k == 0:
        return df, 0
    rows = np.sort(rng.choice(n, size=k, replace=False))
    kind = rng.integers(0, len(kinds), k)
    variant = rng.integers(0, 3, k)
    hit = np.zeros(n, dtype=bool)
    out = []
    for i, name in enumerate(kinds):
        sel = kind == i
        if not sel.any():
            continue
        part = df[rows[sel]]
        if name == "conflict":
            out += [part, _conflict(file, part)]
        elif name == "duplicate":
            out += [part, part]
        else:
            out.append(_damage(file, name, part, pl.Series(variant[sel])))
        hit[rows[sel]] = True
    return pl.concat([df.filter(pl.Series(~hit)), *out]), k
