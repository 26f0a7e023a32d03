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


def inject(
    df: pl.DataFrame, file: str, rng: np.random.Generator, rate: float
) -> tuple[pl.DataFrame, int]:
    """The file with faults; also the number of faults injected."""
    kinds = KINDS.get(file)
    n = df.height
    if not kinds or rate <= 0 or n == 0:
        return df, 0
    k = min(int(rng.binomial(n, rate)), n // 250)
    if k == 0:
        return df, 0
    rows = rng.choice(n, size=k, replace=False)
    kind = rng.integers(0, len(kinds), k)
    variant = np.zeros(n, dtype=np.int64)
    variant[rows] = rng.integers(0, 3, k)
    v = pl.Series(variant)
    extra = []
    for i, name in enumerate(kinds):
        sel = np.zeros(n, dtype=bool)
        sel[rows[kind == i]] = True
        if not sel.any():
            continue
        m = pl.Series(sel)
        if name == "cpr":
            df = df.with_columns(
                pl.when(m).then(_bad_cpr(pl.col("cpr"), v)).otherwise(pl.col("cpr")).alias("cpr")
            )
        elif name == "date":
            c = DATE_COLUMN[file]
            df = df.with_columns(
                pl.when(m).then(_bad_date(pl.col(c), v)).otherwise(pl.col(c)).alias(c)
            )
        elif name == "timestamp":
            c = "visitationstidspunkt"
            df = df.with_columns(
                pl.when(m).then(_bad_timestamp(pl.col(c), v)).otherwise(pl.col(c)).alias(c)
            )
        elif name == "slut_foer_start":
            before = (pl.col("startdato").str.to_date(strict=False) - pl.duration(days=7)).cast(
                pl.String
            )
            df = df.with_columns(
                pl.when(m).then(before).otherwise(pl.col("slutdato")).alias("slutdato")
            )
        elif name == "kommune":
            df = df.with_columns(
                pl.when(m)
                .then(pl.lit(UNKNOWN_KOMMUNE))
                .otherwise(pl.col("kommunekode"))
                .alias("kommunekode")
            )
        elif name == "timer":
            df = df.with_columns(
                pl.when(m)
                .then(pl.lit("200"))
                .otherwise(pl.col("timer_pr_uge"))
                .alias("timer_pr_uge")
            )
        elif name == "refusion":
            df = df.with_columns(
                pl.when(m)
                .then(pl.lit("150"))
                .otherwise(pl.col("refusionsprocent"))
                .alias("refusionsprocent")
            )
        elif name == "conflict":
            extra.append(_conflict(file, df.filter(m)))
        elif name == "duplicate":
            extra.append(df.filter(m))
    return pl.concat([df, *extra]) if extra else df, k
