"""pandera schemas for every table, and an eager validator whose errors carry no personal data.

pandera's polars backend checks only the schema of a LazyFrame; the product always validates
collected DataFrames, so the checks run on the data. pandera's own error texts quote failing
values (CPR numbers among them), so `validate` re-raises with counts per column and check only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import pandera.polars as pa
import polars as pl

from dfdg_assets.core.keysets import has_duplicates
from dfdg_assets.core.privacy import PersonalDataSafeError
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.rows import REJECTED_SCHEMA, raw_schema


class SchemaViolation(PersonalDataSafeError):
    """A table failed its schema; the text names columns, checks and counts only."""


def validate(df: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Validate eagerly; on failure raise `SchemaViolation` without any value in its text.

    A schema's key (`unique`) is checked here rather than by pandera (`keysets.has_duplicates`:
    row hashes first, so a unique key costs a fraction of pandera's `is_duplicated`); the
    failure reads as pandera's would."""
    key = [schema.unique] if isinstance(schema.unique, str) else list(schema.unique or [])
    parts: list[tuple[str, str, int]] = []
    try:
        _variant(schema, bool(key), _no_nulls(schema, df)).validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        summary = e.failure_cases.group_by(pl.col("column").fill_null("<tabel>"), "check").len()
        parts = [(c, chk, n) for c, chk, n in summary.iter_rows()]
    except pa.errors.SchemaError as e:
        col = getattr(e, "column_name", None) or "<tabel>"
        raise SchemaViolation(
            f"{schema.name or 'tabel'} opfylder ikke sit skema: {col}: {type(e).__name__}"
        ) from None
    if key and set(key) <= set(df.columns) and has_duplicates(df, key):
        dups = int(df.select(key).is_duplicated().sum())
        parts.append((schema.name or "<tabel>", "multiple_fields_uniqueness", dups))
    if parts:
        shown = [f"{c}: {chk} ({n} rækker)" for c, chk, n in sorted(parts)]
        raise SchemaViolation(
            f"{schema.name or 'tabel'} opfylder ikke sit skema: " + "; ".join(shown)
        ) from None
    return df


# (schema, without its key, whether its null checks are left out) -> that variant of it
_VARIANTS: dict[tuple[int, bool, bool], tuple[pa.DataFrameSchema, pa.DataFrameSchema]] = {}


def _no_nulls(schema: pa.DataFrameSchema, df: pl.DataFrame) -> bool:
    """Whether one pass over `df` shows that no column that must not be null holds a null (or a
    NaN, which pandera counts as null). pandera asks each column in a query of its own, which took
    about half of the validation of a national month; a frame with a null where none may be gets
    pandera's own checks, so the failure reads as pandera's."""
    required = [n for n, c in schema.columns.items() if not c.nullable]
    if not required or not set(required) <= set(df.columns):
        return False
    counts = [pl.col(c).null_count() for c in required]
    counts += [pl.col(c).is_nan().sum() for c in required if df.schema[c].is_float()]
    return df.select(pl.sum_horizontal(counts)).item() == 0


def _variant(schema: pa.DataFrameSchema, keyless: bool, nulls_known: bool) -> pa.DataFrameSchema:
    """The schema pandera runs: without its key when `validate` checks the key itself, without
    its null checks when `_no_nulls` found none (each variant made once per schema)."""
    if not (keyless or nulls_known):
        return schema
    slot = (id(schema), keyless, nulls_known)
    held = _VARIANTS.get(slot)
    if held is None or held[0] is not schema:
        variant = copy.copy(schema)
        if nulls_known:
            variant = variant.update_columns(
                {n: {"nullable": True} for n, c in schema.columns.items() if not c.nullable}
            )
        if keyless:
            variant.unique = None
        held = _VARIANTS[slot] = (schema, variant)
    return held[1]


TABLE_SCHEMAS: dict[str, pa.DataFrameSchema] = {}  # every table_schema made, by table name


def _month_check(month: str | None) -> list[pa.Check]:
    return [pa.Check.eq(month)] if month else [pa.Check.str_matches(r"^\d{4}-\d{2}$")]


def raw_table_schema(spec: contract.DeliveryFile, month: str | None = None) -> pa.DataFrameSchema:
    """A raw delivery table: the contract's typed columns, their nullability and the month.

    The values themselves (CPR numbers, municipality codes, ranges, unique ids after the in-file
    R3) are what the row checks (`ingest/rows.py`) decide row by row before the frame gets here:
    repeating them element-wise in pandera doubled the cost of the raw layer, so the schema holds
    what the row checks do not: columns, types, nulls and the data month.
    """
    cols: dict[str, pa.Column] = {}
    for name, dtype in raw_schema(spec).items():
        col = spec.column(name) if name in spec.column_names else None
        checks = _month_check(month) if name == "data_maaned" else []
        cols[name] = pa.Column(
            dtype, checks=checks, nullable=bool(col and col.nullable), coerce=False
        )
    return pa.DataFrameSchema(cols, strict=True, name=f"raw_{spec.name}")


def rejected_schema(month: str | None = None) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "data_maaned": pa.Column(pl.String, _month_check(month)),
            "fil": pa.Column(pl.String, pa.Check.isin([f.name for f in contract.FILES])),
            "linje": pa.Column(pl.Int32, pa.Check.ge(2)),
            "aarsag": pa.Column(pl.String),
            "raekke": pa.Column(pl.String),
        },
        strict=True,
        name="raw_afviste_raekker",
    )


assert set(REJECTED_SCHEMA) == {"data_maaned", "fil", "linje", "aarsag", "raekke"}


def table_schema(
    name: str,
    columns: Mapping[
        str,
        tuple[pl.DataType | type[pl.DataType], bool]
        | tuple[pl.DataType | type[pl.DataType], bool, list[pa.Check]],
    ],
    unique: list[str] | None = None,
) -> pa.DataFrameSchema:
    """A schema from {column: (dtype, nullable[, checks])}; `unique` is the table's key."""
    cols = {}
    for c, spec in columns.items():
        dtype, nullable, *rest = spec
        cols[c] = pa.Column(dtype, checks=rest[0] if rest else [], nullable=nullable)
    schema = pa.DataFrameSchema(cols, strict=True, unique=unique, name=name)
    TABLE_SCHEMAS[name] = schema
    return schema
