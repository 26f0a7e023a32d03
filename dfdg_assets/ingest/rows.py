"""Row-level checks of one delivery file (R12) and the in-file part of R3, as pure polars.

Input: the all-text frame from `parse_csv`. Output: the typed rows that load, the rejected rows
with their reasons, and counts. In order:
1. exact duplicate rows collapse to one (counted, not rejected);
2. every row of an id that occurs with different content is rejected (conflicting duplicate);
3. each remaining row is checked: CPR, dates, timestamps, numbers, ISO weeks, required values,
   known municipality code, `slutdato` not before `startdato`, value ranges.
Unknown code-list values load and are reported as warnings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache

import polars as pl

from dfdg_assets.core import refdata
from dfdg_assets.core.cpr import valid_cpr_expr
from dfdg_assets.core.weeks import month_last_day
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.contract import Kind

REJECTED_SCHEMA = {
    "data_maaned": pl.String,
    "fil": pl.String,
    "linje": pl.Int32,
    "aarsag": pl.String,
    "raekke": pl.String,
}
CONFLICT = "modstridende dublet af id"

POLARS_TYPES: dict[Kind, pl.DataType] = {
    Kind.TEXT: pl.String(),
    Kind.CPR: pl.String(),
    Kind.INT: pl.Int32(),
    Kind.DATE: pl.Date(),
    Kind.TIMESTAMP: pl.Datetime("us"),
    Kind.DECIMAL: pl.Float64(),
    Kind.WEEK: pl.String(),
}


def raw_schema(spec: contract.DeliveryFile) -> dict[str, pl.DataType]:
    """Columns of a raw table: data month, source line, then the contract's typed columns."""
    return {
        "data_maaned": pl.String(),
        "linje": pl.Int32(),
        **{c.name: POLARS_TYPES[c.kind] for c in spec.columns},
    }


@cache
def _iso_weeks_53() -> frozenset[int]:
    return frozenset(y for y in range(1900, 2101) if dt.date(y, 12, 28).isocalendar()[1] == 53)


def _typed(col: contract.Column) -> pl.Expr:
    s = pl.col(col.name)
    match col.kind:
        case Kind.INT:
            return pl.when(s.str.contains(r"^-?\d{1,9}$")).then(s.cast(pl.Int32, strict=False))
        case Kind.DECIMAL:
            return pl.when(s.str.contains(r"^-?\d+(\.\d+)?$")).then(
                s.cast(pl.Float64, strict=False)
            )
        case Kind.DATE:
            return pl.when(s.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
                s.str.to_date("%Y-%m-%d", strict=False)
            )
        case Kind.TIMESTAMP:
            return pl.when(s.str.contains(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")).then(
                s.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us")
            )
        case Kind.WEEK:
            year = s.str.slice(0, 4).cast(pl.Int32, strict=False)
            week = s.str.slice(6, 2).cast(pl.Int32, strict=False)
            ok = (
                s.str.contains(r"^\d{4}-W\d{2}$")
                & (week >= 1)
                & ((week <= 52) | ((week == 53) & year.is_in(list(_iso_weeks_53()))))
            )
            return pl.when(ok).then(s)
        case _:
            return s


_KIND_REASON = {
    Kind.INT: "ugyldigt heltal i {c}",
    Kind.DECIMAL: "ugyldigt tal i {c}",
    Kind.DATE: "ugyldig dato i {c}",
    Kind.TIMESTAMP: "ugyldigt tidspunkt i {c}",
    Kind.WEEK: "ugyldig ISO-uge i {c}",
}


def _reasons(spec: contract.DeliveryFile, month: str) -> list[pl.Expr]:
    """One expression per check, each yielding its reason text or null."""
    out: list[pl.Expr] = []
    not_after = month_last_day(month)
    for col in spec.columns:
        raw, typed = pl.col(col.name), pl.col(f"__t_{col.name}")
        if not col.nullable:
            out.append(pl.when(raw.is_null()).then(pl.lit(f"mangler værdi i {col.name}")))
        if col.kind == Kind.CPR:
            out.append(
                pl.when(raw.is_not_null() & ~valid_cpr_expr(raw, not_after)).then(
                    pl.lit("ugyldigt CPR-nummer")
                )
            )
        elif col.kind in _KIND_REASON:
            out.append(
                pl.when(raw.is_not_null() & typed.is_null()).then(
                    pl.lit(_KIND_REASON[col.kind].format(c=col.name))
                )
            )
        if col.name == "kommunekode":
            out.append(
                pl.when(typed.is_not_null() & ~typed.is_in(list(refdata.kommunekoder()))).then(
                    pl.lit("ukendt kommunekode")
                )
            )
        if col.name in contract.VALUE_RANGES:
            lo, hi = contract.VALUE_RANGES[col.name]
            out.append(
                pl.when(typed.is_not_null() & ((typed < lo) | (typed > hi))).then(
                    pl.lit(f"{col.name} uden for {lo:g}-{hi:g}")
                )
            )
    names = spec.column_names
    if "startdato" in names and "slutdato" in names:
        out.append(
            pl.when(pl.col("__t_slutdato") < pl.col("__t_startdato")).then(
                pl.lit("slutdato før startdato")
            )
        )
    return out


@dataclass
class CheckedFile:
    """The outcome of the row-level checks of one file."""

    name: str
    delivered: int
    rows: pl.DataFrame  # typed rows that load
    rejected: pl.DataFrame  # REJECTED_SCHEMA
    exact_duplicates: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    unknown_values: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def over_threshold(self) -> bool:
        """The 1 % rule: rejected × 100 > rows as delivered."""
        return self.rejected.height * 100 > self.delivered


def _reject(
    df: pl.DataFrame, name: str, month: str, reason: pl.Expr, cols: list[str]
) -> pl.DataFrame:
    return df.select(
        pl.lit(month).alias("data_maaned"),
        pl.lit(name).alias("fil"),
        pl.col("linje"),
        reason.alias("aarsag"),
        pl.struct(cols).struct.json_encode().alias("raekke"),
    )


def repeated_hashes(h: pl.Series) -> pl.Series | None:
    """A mask of the hashes that occur more than once (None: all distinct). Counting distinct
    values and sorting cost a fraction of `is_duplicated` on millions of rows."""
    if h.n_unique() == h.len():
        return None
    s = h.sort()
    twice = s.filter(s == s.shift(1)).unique()
    return h.is_in(twice.implode())


def first_occurrences(df: pl.DataFrame, cols: list[str]) -> pl.Series | None:
    """A mask keeping the first occurrence of each distinct row over `cols` (None: no
    duplicates). Rows are hashed first; only rows whose hash repeats are compared exactly."""
    if df.height < 2:
        return None
    repeated = repeated_hashes(df.select(cols).hash_rows())
    if repeated is None:
        return None
    idx = repeated.arg_true()
    first = df[idx].select(pl.struct(cols).is_first_distinct()).to_series()
    drop = idx.filter(~first)
    if not drop.len():
        return None
    return ~pl.int_range(df.height, eager=True, dtype=pl.UInt32).is_in(drop.implode())


def repeated_keys(df: pl.DataFrame, key: list[str]) -> pl.Series | None:
    """A mask of the rows whose key occurs more than once (None: every key is unique)."""
    if df.height < 2:
        return None
    repeated = repeated_hashes(df.select(key).hash_rows())
    if repeated is None:
        return None
    idx = repeated.arg_true()
    exact = df[idx].select(pl.struct(key).is_duplicated()).to_series()
    hit = idx.filter(exact)
    if not hit.len():
        return None
    return pl.int_range(df.height, eager=True, dtype=pl.UInt32).is_in(hit.implode())


def rejected_with_reasons(parts: list[pl.DataFrame]) -> tuple[pl.DataFrame, dict[str, int]]:
    """A file's rejected rows in line order, and how many rows each reason rejected."""
    rejected = pl.concat(parts).sort("linje") if parts else pl.DataFrame(schema=REJECTED_SCHEMA)
    by_reason: dict[str, int] = {}
    if rejected.height:
        for reason, n in (
            rejected.select(pl.col("aarsag").str.split("; ").alias("a"))
            .explode("a")
            .group_by("a")
            .len()
            .sort("a")
            .iter_rows()
        ):
            by_reason[reason] = n
    return rejected, by_reason


def value_checked(
    spec: contract.DeliveryFile, month: str, df: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The rows of `df` with their typed columns (`__t_<name>`) that pass the value checks, and the
    rejected-rows frame of those with their own faults (None when there are none). Lazy: the
    checks share their sub-expressions, e.g. a CPR number's digits."""
    reasons = _reasons(spec, month)
    typed = (
        df.lazy()
        .with_columns(_typed(c).alias(f"__t_{c.name}") for c in spec.columns)
        .with_columns(
            pl.concat_str(reasons, separator="; ", ignore_nulls=True).alias("__aarsag")
            if reasons
            else pl.lit(None, pl.String).alias("__aarsag")
        )
        .with_columns(pl.col("__aarsag").replace("", None))
        .collect()
    )
    faulty = typed["__aarsag"].is_not_null()
    if not faulty.any():
        return typed, None
    bad = _reject(typed.filter(faulty), spec.name, month, pl.col("__aarsag"), spec.column_names)
    return typed.filter(~faulty), bad


def staged_columns(spec: contract.DeliveryFile, month: str) -> list[pl.Expr]:
    """The staged raw table's columns from a value-checked frame: month, line, typed columns."""
    return [
        pl.lit(month).alias("data_maaned"),
        pl.col("linje"),
        *[pl.col(f"__t_{c.name}").cast(POLARS_TYPES[c.kind]).alias(c.name) for c in spec.columns],
    ]


def check_rows(spec: contract.DeliveryFile, month: str, df: pl.DataFrame) -> CheckedFile:
    """Apply the row-level checks to one parsed file of data month `month`."""
    cols = spec.column_names
    delivered = df.height
    # 1. exact duplicates collapse to the first occurrence
    keep = first_occurrences(df, cols)
    dedup = df.filter(keep) if keep is not None else df
    exact = delivered - dedup.height
    # 2. value checks: a row with its own fault is rejected for it and conflicts with nothing
    rejected_parts: list[pl.DataFrame] = []
    passing, bad = value_checked(spec, month, dedup)
    if bad is not None:
        rejected_parts.append(bad)
    # 3. among the rows that pass (R3): an id with more than one distinct content is rejected whole
    if spec.key and passing.height:
        conflicted = repeated_keys(passing, list(spec.key))
        if conflicted is not None:
            rejected_parts.append(
                _reject(passing.filter(conflicted), spec.name, month, pl.lit(CONFLICT), cols)
            )
            passing = passing.filter(~conflicted)
    good = passing.select(staged_columns(spec, month))
    rejected, by_reason = rejected_with_reasons(rejected_parts)
    return CheckedFile(
        spec.name,
        delivered,
        good,
        rejected,
        exact_duplicates=exact,
        rejected_by_reason=by_reason,
        unknown_values=unknown_code_values(spec.name, good),
    )


def unknown_code_values(name: str, df: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Per code-list column, the values not in the known lists and how many rows carry each."""
    lists = refdata.value_lists()
    out: dict[str, dict[str, int]] = {}
    for col in contract.CODE_LIST_COLUMNS.get(name, ()):
        known = lists.get(col)
        if col == "visitationskategori":
            known = frozenset(refdata.visitation_pairs()["visitationskategori"].to_list())
        if not known or col not in df.columns:
            continue
        unknown = (
            df.filter(pl.col(col).is_not_null() & ~pl.col(col).is_in(list(known)))
            .group_by(col)
            .len()
            .sort(col)
        )
        if unknown.height:
            out[col] = dict(unknown.iter_rows())
    if name == "visitation" and df.height:
        pairs = refdata.visitation_pairs()
        generic = pairs.filter(pl.col("ydelsesgruppe") == "Alle")["visitationskategori"].to_list()
        unknown_pairs = (
            df.filter(~pl.col("visitationskategori").is_in(generic))
            .join(pairs, on=["ydelsesgruppe", "visitationskategori"], how="anti")
            .group_by("ydelsesgruppe", "visitationskategori")
            .len()
            .sort("ydelsesgruppe", "visitationskategori")
        )
        if unknown_pairs.height:
            out["(ydelsesgruppe, visitationskategori)"] = {
                f"{g} / {k}": n for g, k, n in unknown_pairs.iter_rows()
            }
    return out


def unknown_code_values_lazy(
    name: str, rows: pl.LazyFrame
) -> tuple[dict[str, dict[str, int]], dict[tuple[str, str], int]]:
    """`unknown_code_values` over rows read from a file, with the first line of each value
    (pair columns: of the pair), keyed by (column, value as reported)."""
    lists = refdata.value_lists()
    out: dict[str, dict[str, int]] = {}
    first: dict[tuple[str, str], int] = {}
    names = rows.collect_schema().names()
    for col in contract.CODE_LIST_COLUMNS.get(name, ()):
        known = lists.get(col)
        if col == "visitationskategori":
            known = frozenset(refdata.visitation_pairs()["visitationskategori"].to_list())
        if not known or col not in names:
            continue
        unknown = (
            rows.filter(pl.col(col).is_not_null() & ~pl.col(col).is_in(list(known)))
            .group_by(col)
            .agg(pl.len(), pl.col("linje").min().alias("__first"))
            .sort(col)
            .collect()
        )
        if unknown.height:
            out[col] = {v: n for v, n, _ in unknown.iter_rows()}
            first.update({(col, v): f for v, _, f in unknown.iter_rows()})
    if name == "visitation":
        pairs = refdata.visitation_pairs()
        generic = pairs.filter(pl.col("ydelsesgruppe") == "Alle")["visitationskategori"].to_list()
        unknown_pairs = (
            rows.filter(~pl.col("visitationskategori").is_in(generic))
            .join(pairs.lazy(), on=["ydelsesgruppe", "visitationskategori"], how="anti")
            .group_by("ydelsesgruppe", "visitationskategori")
            .agg(pl.len(), pl.col("linje").min().alias("__first"))
            .sort("ydelsesgruppe", "visitationskategori")
            .collect()
        )
        if unknown_pairs.height:
            col = "(ydelsesgruppe, visitationskategori)"
            out[col] = {f"{g} / {k}": n for g, k, n, _ in unknown_pairs.iter_rows()}
            first.update({(col, f"{g} / {k}"): f for g, k, _, f in unknown_pairs.iter_rows()})
    return out, first
