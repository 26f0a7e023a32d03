"""What the cube query modules (`query`, `benchmark_query`) share: the arguments they check the
same way, opening the catalogue, and presenting a result as text or a file.

No Dagster import here: a query must not pay Dagster's start-up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import polars as pl

from dfdg_assets.core.privacy import safe_value
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.cubes.busmatrix import QueryError
from dfdg_assets.sql import files_view

__all__ = [
    "FORMATS",
    "Source",
    "catalogue_names",
    "check_format",
    "month_arg",
    "month_range",
    "narrow_to_months",
    "open_catalogue",
    "text_table",
    "write_frame",
]

#: Where a query reads: the catalogue file, a data root (folder or `DataRoot`) or an open
#: connection to the catalogue.
Source = str | Path | DataRoot | duckdb.DuckDBPyConnection
FORMATS = ("table", "csv", "json", "parquet")
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


# ------------------------------------------------------------------ arguments
def month_arg(name: str, value: str | None) -> str | None:
    """A `--fra`/`--til` month (YYYY-MM) as given, or None; anything else is refused."""
    if value is None:
        return None
    if not _MONTH.fullmatch(str(value)):
        raise QueryError(f"ugyldig {name} {safe_value(value)}: brug YYYY-MM")
    return str(value)


def month_range(fra: str | None, til: str | None) -> tuple[str | None, str | None]:
    """The checked period `fra`..`til` (both inclusive, either open)."""
    fra, til = month_arg("--fra", fra), month_arg("--til", til)
    if fra and til and fra > til:
        raise QueryError(f"--fra {fra} ligger efter --til {til}")
    return fra, til


def check_format(fmt: str) -> None:
    """Refuse an unknown text format, and parquet (binary) where text is asked for."""
    if fmt == "parquet":
        raise QueryError("parquet er binært: angiv en fil med --out")
    if fmt not in FORMATS:
        raise QueryError(f"ukendt format {safe_value(fmt)}; kendte: {', '.join(FORMATS)}")


# ------------------------------------------------------------------ the catalogue
def open_catalogue(source: Source) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """A read-only connection to the catalogue, and whether we opened it (and must close it)."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source, False
    if isinstance(source, DataRoot):
        path = source.catalogue
    else:
        p = Path(source)
        path = p if p.suffix == ".duckdb" or p.is_file() else DataRoot.of(p).catalogue
    if not path.is_file():
        raise QueryError(f"intet katalog i {path}: indlæs først data med `dfdg load`")
    return duckdb.connect(str(path), read_only=True), True


def narrow_to_months(
    con: duckdb.DuckDBPyConnection, tables: Sequence[str], fra: str | None, til: str | None
) -> None:
    """Shadow the views of monthly `tables` by temporary views over the files of the months
    `fra`..`til` only, on a connection the query opened itself: the catalogue's view lists every
    month's file, and DuckDB reads each file's footer to skip it by its `maaned` statistics
    (about 40 ms of a 150 ms query over one year of a national warehouse). The answer is the
    same: a monthly partition holds its own month's rows only, and every fact scan of a query
    keeps `maaned` between `fra` and `til`. A catalogue without the list (made by an earlier
    version), a table without files in the period and a period of all its months keep the view."""
    if not (fra or til) or "_maanedsfiler" not in catalogue_names(con):
        return
    rows = con.execute(
        "SELECT tabel, fil, maaned BETWEEN ? AND ? FROM _maanedsfiler ORDER BY tabel, maaned",
        [fra or "0000-00", til or "9999-99"],
    ).fetchall()
    files: dict[str, list[str]] = {}
    every: dict[str, bool] = {}
    for table, f, inside in rows:
        if inside:
            files.setdefault(table, []).append(f)
        every[table] = every.get(table, True) and inside
    for table in tables:
        if files.get(table) and not every[table]:  # a period of every month reads the view
            con.execute(files_view(table, files[table], temporary=True))


def catalogue_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The views and tables of the catalogue."""
    sql = "SELECT view_name FROM duckdb_views() UNION ALL SELECT table_name FROM duckdb_tables()"
    return {r[0] for r in con.execute(sql).fetchall()}


# ------------------------------------------------------------------ presenting a result
def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.2f}"
        return text[:-3] if text.endswith(".00") else text
    return str(value)


def text_table(df: pl.DataFrame, right: Sequence[str] = ()) -> str:
    """A plain aligned text table (numbers and the `right` columns right-aligned, the null
    group empty)."""
    numeric = [dt.is_numeric() or c in right for c, dt in df.schema.items()]
    rows = [[_cell(v) for v in row] for row in df.iter_rows()]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(df.columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    out = [line(df.columns), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    out.append(f"({df.height} rækker)" if df.height != 1 else "(1 række)")
    return "\n".join(out) + "\n"


def write_frame(
    df: pl.DataFrame, fmt: str, out: str | Path, formatter: Callable[[pl.DataFrame, str], str]
) -> Path:
    """Write a result to a file in any format: parquet as is, the text formats through
    `formatter`."""
    path = Path(out)
    if path.parent and not path.parent.is_dir():
        raise QueryError(f"mappen {path.parent} findes ikke")
    if fmt == "parquet":
        df.write_parquet(path)
    else:
        path.write_text(formatter(df, fmt), encoding="utf-8")
    return path
