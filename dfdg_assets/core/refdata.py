"""Reference data shipped with the product: municipalities, regions, value lists, the CPR table.

Copied from the project's reference folder into the package; read once per process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

REFERENCE_DIR = Path(__file__).parent.parent / "reference"


def _read(name: str) -> pl.DataFrame:
    return pl.read_csv(REFERENCE_DIR / name, infer_schema=False)


@cache
def kommuner() -> pl.DataFrame:
    """One row per municipality (98): kommunekode, kommunenavn, regionskode, regionsnavn."""
    return _read("kommuner.csv").with_columns(
        pl.col("kommunekode").cast(pl.Int32), pl.col("regionskode").cast(pl.Int32)
    )


@cache
def regioner() -> pl.DataFrame:
    """One row per region (5): regionskode, regionsnavn, nuts2."""
    return _read("regioner.csv").select(
        pl.col("regionskode").cast(pl.Int32), "regionsnavn", "nuts2"
    )


@cache
def kommunekoder() -> frozenset[int]:
    return frozenset(kommuner()["kommunekode"].to_list())


@cache
def value_lists() -> dict[str, frozenset[str]]:
    """Known values per attribute (reference/vaerdilister.csv)."""
    df = _read("vaerdilister.csv")
    out: dict[str, set[str]] = {}
    for attr, value in df.select("attribut", "vaerdi").iter_rows():
        out.setdefault(attr, set()).add(value)
    return {k: frozenset(v) for k, v in out.items()}


@cache
def visitation_pairs() -> pl.DataFrame:
    """Known (ydelsesgruppe, visitationskategori) pairs; ydelsesgruppe 'Alle' matches any group."""
    return _read("visitationskategorier.csv")
