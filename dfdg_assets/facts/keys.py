"""Key and foreign-key checks of the fact tables, as pure polars (counts only, never values)."""

from __future__ import annotations

import polars as pl

# fact -> (key columns, [(columns, dimension table, dimension columns)])
KEYS: dict[str, tuple[list[str], list[tuple[list[str], str, list[str]]]]] = {
    "fct_visitation_uge": (
        ["forloeb_id", "uge"],
        [
            (["borger_key"], "dim_borger", ["borger_key"]),
            (["kommunekode"], "dim_kommune", ["kommunekode"]),
            (["uge"], "dim_tid_uge", ["uge"]),
            (["forloeb_id"], "stg_visitationsforloeb", ["forloeb_id"]),
            (["visiterende_org_id"], "dim_organisation", ["org_id"]),
        ],
    ),
    "fct_aktivitet_uge": (
        ["aktivitet_id", "uge"],
        [
            (["borger_key"], "dim_borger", ["borger_key"]),
            (["kommunekode"], "dim_kommune", ["kommunekode"]),
            (["uge"], "dim_tid_uge", ["uge"]),
            (["ansvarlig_org_id"], "dim_organisation", ["org_id"]),
            (["aktiverende_org_id"], "dim_organisation", ["org_id"]),
            (
                ["uddannelseskode", "uddannelseskodetype"],
                "dim_uddannelse",
                ["uddannelseskode", "uddannelseskodetype"],
            ),
        ],
    ),
    "fct_samtale_uge": (
        ["samtale_id"],
        [
            (["borger_key"], "dim_borger", ["borger_key"]),
            (["kommunekode"], "dim_kommune", ["kommunekode"]),
            (["uge"], "dim_tid_uge", ["uge"]),
            (["indkaldende_org_id"], "dim_organisation", ["org_id"]),
        ],
    ),
}


def duplicate_keys(df: pl.DataFrame, key: list[str]) -> int:
    return df.height - df.select(key).unique().height


def orphans(df: pl.DataFrame, cols: list[str], dim: pl.DataFrame, dim_cols: list[str]) -> int:
    """Rows whose (non-null) foreign key has no member in the dimension."""
    present = df.select(cols).drop_nulls(cols[:1])
    if not present.height:
        return 0
    members = dim.select([pl.col(d).alias(c) for c, d in zip(cols, dim_cols, strict=True)]).unique()
    return present.join(members, on=cols, how="anti", nulls_equal=True).height
