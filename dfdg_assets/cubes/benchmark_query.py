"""`dfdg query benchmark`: the published benchmark table (YdelsesAktivitetBenchmark) as it is in
the catalogue view `cube_benchmark`, filtered and sorted, and its text formats.

    query_benchmark(data_root, kommune=101, fra="2020-01", til="2020-06",
                    breakdown="beskaeftigelsesydelse")

The table is published already disclosure-controlled (SPEC section 4): this module only selects
rows and presents them; it never computes or un-hides a number. No Dagster import here.

Formats (`format_benchmark`):

- `csv`: comma-separated UTF-8 with a header of the published columns; a suppressed (or absent)
  value is empty, key figures are fractions (0.125), the empty `breakdown` of a total row is an
  empty field, `publiceret` is ISO 8601 with its UTC offset;
- `json`: an array of row objects, nulls as null, fractions, `publiceret` as in csv;
- `table`: an aligned text table for reading: a suppressed cell shows `..`, an absent value
  (e.g. the 16-66 count of a breakdown row) is empty, the two shares (`andel_ydelsesmodtagere`,
  `aktiveringsgrad`) show as percentages with one decimal (`12.5 %`), the ratio
  `forloeb_pr_aktiveret` (courses per activated citizen) as a number with two decimals (`1.59`). The seven `_undertrykt` flag columns are left out of this format
  only, as `..` shows them;
- `parquet` (`write_benchmark` only): the frame as is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import polars as pl

from dfdg_assets.core.privacy import safe_value
from dfdg_assets.cubes import shared
from dfdg_assets.cubes.busmatrix import QueryError
from dfdg_assets.cubes.shared import FORMATS, Source
from dfdg_assets.rules.benefits import BREAKDOWNS, COUNTS, HELE_LANDET
from dfdg_assets.sql import ident, statement

__all__ = [
    "BREAKDOWNS",
    "COLUMNS",
    "FORMATS",
    "format_benchmark",
    "query_benchmark",
    "write_benchmark",
]

TABLE = "cube_benchmark"
FIGURES = ("andel_ydelsesmodtagere", "aktiveringsgrad", "forloeb_pr_aktiveret")
FLAG = "_undertrykt"
#: The published table's columns and types (the same as the cube asset's, checked by the tests).
COLUMNS: dict[str, pl.DataType] = {
    "maaned": pl.String(),
    "kommune": pl.String(),
    "kommunenavn": pl.String(),
    "breakdown": pl.String(),
    "breakdown_vaerdi": pl.String(),
    **{c: pl.Int64() for c in COUNTS},
    **{c: pl.Float64() for c in FIGURES},
    **{f"{c}{FLAG}": pl.Boolean() for c in (*COUNTS, *FIGURES)},
    "publiceret": pl.Datetime("us", "UTC"),
    "revision": pl.Int32(),
}
SUPPRESSED = ".."
_TIMESTAMP = "%Y-%m-%dT%H:%M:%S%.6f%:z"


def _kommune_code(con: duckdb.DuckDBPyConnection, kommune: int | str) -> str:
    """`kommune` (an int, a 3-digit code or `Hele landet`) as the table's `kommune` value."""
    text = str(kommune).strip()
    if text.casefold() == HELE_LANDET.casefold():
        return HELE_LANDET
    if isinstance(kommune, bool) or not re.fullmatch(r"\d{1,4}", text):
        raise QueryError(
            f"--kommune skal være en kommunekode (101 eller 0101) eller {HELE_LANDET!r}, "
            f"ikke {safe_value(kommune)}"
        )
    code = int(text)
    known = con.execute(
        "SELECT count(*) FROM dim_kommune WHERE kommunekode = ?", [code]
    ).fetchall()[0][0]
    if not known:
        raise QueryError(f"ukendt kommunekode {safe_value(kommune)}")
    return f"{code:03d}"


def _breakdown(value: str) -> str:
    if value not in BREAKDOWNS:
        import difflib

        close = difflib.get_close_matches(value, BREAKDOWNS, n=1)
        hint = f" (mente du {close[0]}?)" if close else ""
        raise QueryError(
            f"ukendt breakdown {safe_value(value)}{hint}; kendte: {', '.join(BREAKDOWNS)}"
        )
    return value


def benchmark_sql(
    kommune: str | None = None,
    fra: str | None = None,
    til: str | None = None,
    breakdown: str | None = None,
) -> tuple[str, dict[str, str | None]]:
    """The SQL selecting the published rows and its parameters (arguments already checked and
    normalised; a breakdown selects B's rows and the total rows)."""
    sql = statement("benchmark").format(columns=", ".join(ident(c) for c in COLUMNS))
    params = {
        "kommune": kommune,
        "fra": fra or None,
        "til": til or None,
        "breakdown": breakdown,
        "hele_landet": HELE_LANDET,
    }
    return sql, params


def query_benchmark(
    catalogue_or_data_root: Source,
    kommune: int | str | None = None,
    fra: str | None = None,
    til: str | None = None,
    breakdown: str | None = None,
) -> pl.DataFrame:
    """The published benchmark table, as a polars DataFrame with its published columns.

    `catalogue_or_data_root` as for `query_dfdg`. `kommune`: one municipality's rows (an int
    or a 3-digit code; `Hele landet` gives the national rows); `fra`/`til` (YYYY-MM, inclusive):
    the published months; `breakdown`: that breakdown's rows and the total rows. Rows sorted by
    maaned, kommune (`Hele landet` last), breakdown (total rows first), breakdown_vaerdi.
    Suppressed values are null with their `_undertrykt` flag set; key figures are fractions.
    Raises `QueryError` for a bad argument or a catalogue without the table.
    """
    fra, til = shared.month_range(fra, til)
    if breakdown is not None:
        breakdown = _breakdown(str(breakdown))
    con, owned = shared.open_catalogue(catalogue_or_data_root)
    try:
        if TABLE not in shared.catalogue_names(con):
            raise QueryError(
                f"kataloget mangler {TABLE}: er data fra 2020-01 indlæst og udrullet (`dfdg load`)?"
            )
        code = _kommune_code(con, kommune) if kommune is not None else None
        sql, params = benchmark_sql(code, fra, til, breakdown)
        df = pl.DataFrame(con.sql(sql, params=params))
    finally:
        if owned:
            con.close()
    if df.height == 0:
        return pl.DataFrame(schema=COLUMNS)
    return df.select(pl.col(c).cast(t) for c, t in COLUMNS.items())


# ------------------------------------------------------------------ presenting the table
RATIOS = ("forloeb_pr_aktiveret",)  # courses per activated citizen: a ratio, not a share


def _percent(value: float | None) -> str | None:
    return None if value is None else f"{value * 100:.1f} %"


def _ratio(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _figure(column: str, value: float | None) -> str | None:
    return _ratio(value) if column in RATIOS else _percent(value)


def _for_reading(df: pl.DataFrame) -> pl.DataFrame:
    """The table format's frame: `..` for suppressed cells, shares as percentages, ratios with two
    decimals, counts
    as text (so `..` can stand in a count column), no flag columns."""
    shown: dict[str, pl.Series] = {}
    for c in (*COUNTS, *FIGURES):
        values = [_figure(c, v) if c in FIGURES else (None if v is None else str(v)) for v in df[c]]
        flags = df[f"{c}{FLAG}"].to_list()
        shown[c] = pl.Series(
            c, [SUPPRESSED if f else v for v, f in zip(values, flags, strict=True)], pl.String
        )
    return df.select(
        "maaned",
        "kommune",
        "kommunenavn",
        "breakdown",
        "breakdown_vaerdi",
        *shown.values(),
        pl.col("publiceret").dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "revision",
    )


def _published_text(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col("publiceret").dt.to_string(_TIMESTAMP))


def format_benchmark(df: pl.DataFrame, fmt: str = "table") -> str:
    """The benchmark rows as text: `table`, `csv` or `json` (see the module docstring)."""
    if fmt == "table":
        return shared.text_table(_for_reading(df), right=(*COUNTS, *FIGURES))
    if fmt == "csv":
        out = _published_text(df).with_columns(
            pl.col("breakdown", "breakdown_vaerdi").replace("", None)  # total rows: empty
        )
        return out.write_csv(null_value="")
    if fmt == "json":
        return json.dumps(_published_text(df).to_dicts(), ensure_ascii=False) + "\n"
    shared.check_format(fmt)
    raise AssertionError(fmt)


def write_benchmark(df: pl.DataFrame, fmt: str, out: str | Path) -> Path:
    """Write the benchmark rows to a file in any format (parquet included)."""
    return shared.write_frame(df, fmt, out, format_benchmark)
