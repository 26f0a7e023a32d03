"""Data packages (datapakker, SPEC section 6): one municipality's own data, as files.

`export_package(root, kommune, niveau, fra, til)` reads the warehouse and writes the folder
`<out or exports>/<kommune>_<niveau>_<fra>_<til>/`: per table `<table>.parquet` and
`<table>.csv`, `manifest.json` and `README.md`. No Dagster here (the CLI must not pay for it).

- `datamart`: the municipality's facts in the weeks of the months fra..til, the dimension
  members those facts reference (nothing else), and its benchmark rows plus the Hele landet rows.
- `dsa`: its raw delivery rows as received (typed, with data month and line), delivery months
  fra..til.

A package never holds a CPR number of a citizen without a record of the municipality. It is
written into a hidden temp folder beside its final name and renamed into place, so nobody sees a
half-written package. The same warehouse gives byte-identical files (every table is sorted on all
of its columns; polars writes Parquet deterministically); only `generated_at` in the manifest
differs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import polars as pl

from dfdg_assets.core import refdata
from dfdg_assets.core.grain import GRAIN
from dfdg_assets.core.privacy import PersonalDataSafeError
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.core.weeks import months_between
from dfdg_assets.exports import docs
from dfdg_assets.rules.benefits import HELE_LANDET
from dfdg_assets.storage import Warehouse
from dfdg_assets.storage.warehouse import fsync_path

Niveau = Literal["datamart", "dsa"]
NIVEAUER: tuple[str, ...] = ("datamart", "dsa")
MANIFEST = "manifest.json"
README = "README.md"
FORMAT_VERSION = 1

DATAMART_TABLES = (
    "fct_visitation_uge",
    "fct_aktivitet_uge",
    "fct_samtale_uge",
    "bdg_samtale_deltager",
    "stg_ydelse",
    "fct_borger_ydelse_uge",
    "fct_befolkning_16_66",
    "dim_borger",
    "dim_organisation",
    "dim_uddannelse",
    "dim_tid_uge",
    "dim_kommune",
    "cube_benchmark",
)
DSA_TABLES = (
    "raw_visitation",
    "raw_aktivitet",
    "raw_samtale",
    "raw_samtale_deltager",
    "raw_ydelse",
    "raw_borger",
    "raw_organisation",
    "raw_uddannelse",
)

# Leading sort columns per table (the rest of the columns follow, so the order is total).
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "fct_visitation_uge": ("uge", "forloeb_id"),
    "fct_aktivitet_uge": ("uge", "aktivitet_id"),
    "fct_samtale_uge": ("uge", "samtale_id"),
    "bdg_samtale_deltager": ("maaned", "samtale_id", "deltagertype"),
    "stg_ydelse": ("uge", "borger_key", "beskaeftigelsesydelse"),
    "fct_borger_ydelse_uge": ("uge", "borger_key", "beskaeftigelsesydelse"),
    "fct_befolkning_16_66": ("maaned", "kommunekode"),
    "dim_borger": ("borger_key",),
    "dim_organisation": ("org_id",),
    "dim_uddannelse": ("uddannelseskode", "uddannelseskodetype"),
    "dim_tid_uge": ("uge",),
    "dim_kommune": ("kommunekode",),
    "cube_benchmark": ("maaned", "kommune", "breakdown", "breakdown_vaerdi"),
    **{t: ("data_maaned", "linje") for t in DSA_TABLES},
}

_ORG_ROLES = {
    "fct_visitation_uge": ("visiterende_org_id",),
    "fct_aktivitet_uge": ("ansvarlig_org_id", "aktiverende_org_id"),
    "fct_samtale_uge": ("indkaldende_org_id",),
    "raw_visitation": ("visiterende_org_id",),
    "raw_aktivitet": ("ansvarlig_org_id", "aktiverende_org_id"),
    "raw_samtale": ("indkaldende_org_id",),
}
_EDU_KEY = ["uddannelseskode", "uddannelseskodetype"]
# When and how often a benchmark month was published describes the load, not the data: with them
# a package would differ between loading month by month and all at once (R11).
BENCHMARK_PUBLICATION_COLUMNS = ["publiceret", "revision"]


# ---------------------------------------------------------------- errors
class ExportError(PersonalDataSafeError):
    """A data package cannot be made; the text is one line without personal data."""


class UnknownMunicipality(ExportError):
    pass


class InvalidRequest(ExportError):
    pass


class NoData(ExportError):
    pass


# ---------------------------------------------------------------- arguments
def package_name(kommune: int, niveau: str, fra: str, til: str) -> str:
    return f"{kommune}_{niveau}_{fra}_{til}"


def municipality_name(kommune: int) -> str:
    """The municipality's name; UnknownMunicipality if the code is not one of the 98."""
    try:
        code = int(kommune)
    except (TypeError, ValueError):
        raise UnknownMunicipality(
            "ukendt kommunekode: angiv en af de 98 kommuners 3-cifrede koder"
        ) from None
    row = refdata.kommuner().filter(pl.col("kommunekode") == code)
    if row.is_empty():
        raise UnknownMunicipality(
            f"ukendt kommunekode {code}: angiv en af de 98 kommuners 3-cifrede koder"
        )
    return str(row["kommunenavn"][0])


def check_request(kommune: int, niveau: str, fra: str, til: str) -> str:
    """Validate the arguments; returns the municipality's name."""
    if niveau not in NIVEAUER:
        raise InvalidRequest(f"ukendt niveau {niveau!s:.20}: brug datamart eller dsa")
    for name, month in (("fra", fra), ("til", til)):
        if not isinstance(month, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            raise InvalidRequest(f"ugyldig {name}-måned: brug YYYY-MM")
    if fra > til:
        raise InvalidRequest(f"perioden er tom: fra {fra} ligger efter til {til}")
    return municipality_name(kommune)


# ---------------------------------------------------------------- reading the warehouse
def _scan(wh: Warehouse, table: str, months: list[str] | None = None) -> pl.LazyFrame | None:
    """A table's stored partitions among `months` (all when None); None if the table is not stored.

    A table stored but without any of the months gives an empty frame of its schema.
    """
    stored = wh.partitions(table)
    if not stored:
        return None
    wanted = stored if months is None else [m for m in months if m in set(stored)]
    if not wanted:
        schema = pl.read_parquet_schema(wh.partition_file(table, stored[-1]))
        return pl.LazyFrame(schema=schema)
    return wh.scan(table, wanted)


def _referenced_orgs(frames: dict[str, pl.DataFrame]) -> pl.Series:
    ids = [
        frames[t].get_column(c).alias("org_id")
        for t, cols in _ORG_ROLES.items()
        if t in frames
        for c in cols
    ]
    if not ids:
        return pl.Series("org_id", [], dtype=pl.String)
    return pl.concat(ids).drop_nulls().unique()


def _referenced_education(activities: pl.DataFrame | None) -> pl.DataFrame:
    if activities is None:
        return pl.DataFrame(schema={"uddannelseskode": pl.String, "uddannelseskodetype": pl.String})
    return activities.select(_EDU_KEY).drop_nulls("uddannelseskode").unique()


def _take(
    wh: Warehouse,
    out: dict[str, pl.DataFrame],
    table: str,
    build: Callable[[pl.LazyFrame], pl.LazyFrame],
    scope: list[str] | None,
) -> None:
    """Read `table` (the months in `scope`; None: unpartitioned), narrow it with `build` and
    put it in `out`; a table that does not exist is left out."""
    lf = _scan(wh, table, scope)
    if lf is not None:
        out[table] = build(lf).collect()


def _datamart_facts(
    wh: Warehouse, kommune: int, months: list[str], rolled_out: list[str]
) -> dict[str, pl.DataFrame]:
    """The municipality's facts, the bridge and citizen benefits of its conversations and
    citizen-weeks, its population and its benchmark cube rows; NoData when it has no facts."""
    mine = pl.col("kommunekode") == kommune
    out: dict[str, pl.DataFrame] = {}
    for t in ("fct_visitation_uge", "fct_aktivitet_uge", "fct_samtale_uge", "stg_ydelse"):
        _take(wh, out, t, lambda lf: lf.filter(mine), rolled_out)
    if not any(df.height for df in out.values()):
        raise NoData(
            f"ingen data for kommune {kommune} i {months[0]}..{months[-1]} (ingen forløb, aktiviteter, samtaler eller ydelser)"
        )
    if "fct_samtale_uge" in out:
        conversations = out["fct_samtale_uge"].select("samtale_id", "maaned").unique()
        _take(
            wh,
            out,
            "bdg_samtale_deltager",
            lambda lf: lf.join(conversations.lazy(), on=["samtale_id", "maaned"], how="semi"),
            rolled_out,
        )
    weeks = [
        out[t].select("borger_key", "uge")
        for t in ("fct_visitation_uge", "fct_aktivitet_uge")
        if t in out
    ]
    if weeks:
        citizen_weeks = pl.concat(weeks).unique()
        _take(
            wh,
            out,
            "fct_borger_ydelse_uge",
            lambda lf: lf.join(citizen_weeks.lazy(), on=["borger_key", "uge"], how="semi"),
            rolled_out,
        )
    _take(wh, out, "fct_befolkning_16_66", lambda lf: lf.filter(mine), rolled_out)
    cube_rows = pl.col("kommune").is_in([f"{kommune:03d}", HELE_LANDET])
    _take(
        wh,
        out,
        "cube_benchmark",
        lambda lf: lf.filter(cube_rows).drop(BENCHMARK_PUBLICATION_COLUMNS, strict=False),
        rolled_out,
    )
    return out


def _datamart_dimensions(
    wh: Warehouse, out: dict[str, pl.DataFrame], kommune: int, rolled_out: list[str]
) -> None:
    """Add the dimensions to `out`: only the members the facts in it reference."""
    keys = pl.concat(
        [df.get_column("borger_key") for df in out.values() if "borger_key" in df.columns]
    ).unique()
    _take(
        wh,
        out,
        "dim_borger",
        lambda lf: lf.filter(pl.col("borger_key").is_in(keys.implode())),
        None,
    )
    orgs = _referenced_orgs(out)
    _take(
        wh,
        out,
        "dim_organisation",
        lambda lf: lf.filter(pl.col("org_id").is_in(orgs.implode())),
        None,
    )
    edu = _referenced_education(out.get("fct_aktivitet_uge"))
    _take(
        wh,
        out,
        "dim_uddannelse",
        lambda lf: lf.join(edu.lazy(), on=_EDU_KEY, how="semi", nulls_equal=True),
        None,
    )
    _take(wh, out, "dim_tid_uge", lambda lf: lf, rolled_out)
    _take(wh, out, "dim_kommune", lambda lf: lf.filter(pl.col("kommunekode") == kommune), None)


def datamart_tables(wh: Warehouse, kommune: int, months: list[str]) -> dict[str, pl.DataFrame]:
    """The datamart tables of one municipality (facts first, then the dimensions they reference).

    Facts are read before the dimensions: a load writes dimension members before the facts that
    reference them, so a load running meanwhile cannot leave a fact's key out of its dimension.
    """
    rolled_out = [m for m in months if wh.has("fct_visitation_uge", m)]
    if not rolled_out:
        raise NoData(f"ingen udrullede måneder i {months[0]}..{months[-1]}")
    out = _datamart_facts(wh, kommune, months, rolled_out)
    _datamart_dimensions(wh, out, kommune, rolled_out)
    return {t: out[t] for t in DATAMART_TABLES if t in out}


def dsa_tables(wh: Warehouse, kommune: int, months: list[str]) -> dict[str, pl.DataFrame]:
    """The municipality's raw delivery rows of the delivery months among `months`."""
    delivered = [m for m in months if wh.has("raw_visitation", m)]
    if not delivered:
        raise NoData(f"ingen leveringer indlæst for {months[0]}..{months[-1]}")
    mine = pl.col("kommunekode") == kommune
    out: dict[str, pl.DataFrame] = {}
    for t in ("raw_visitation", "raw_aktivitet", "raw_samtale", "raw_ydelse", "raw_borger"):
        lf = _scan(wh, t, delivered)
        if lf is not None:
            out[t] = lf.filter(mine).collect()
    if not any(df.height for df in out.values()):
        raise NoData(f"ingen data for kommune {kommune} i leveringerne {months[0]}..{months[-1]}")
    if "raw_samtale" in out and (lf := _scan(wh, "raw_samtale_deltager", delivered)) is not None:
        conversations = out["raw_samtale"].select("data_maaned", "samtale_id").unique()
        out["raw_samtale_deltager"] = lf.join(
            conversations.lazy(), on=["data_maaned", "samtale_id"], how="semi"
        ).collect()
    if (lf := _scan(wh, "raw_organisation", delivered)) is not None:
        orgs = _referenced_orgs(out)
        out["raw_organisation"] = lf.filter(mine | pl.col("org_id").is_in(orgs.implode())).collect()
    if (lf := _scan(wh, "raw_uddannelse", delivered)) is not None:
        edu = _referenced_education(out.get("raw_aktivitet"))
        out["raw_uddannelse"] = lf.join(
            edu.lazy(), on=_EDU_KEY, how="semi", nulls_equal=True
        ).collect()
    return {t: out[t] for t in DSA_TABLES if t in out}


# ---------------------------------------------------------------- writing
def sort_table(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """A total, deterministic row order: the table's key columns, then every other column."""
    lead = [c for c in SORT_KEYS.get(table, ()) if c in df.columns]
    by = lead + [c for c in df.columns if c not in lead]
    return df.sort(by, nulls_last=True, maintain_order=True).rechunk() if by else df


def csv_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Zone-aware timestamps as ISO text in UTC (the CSV writer's format is for naive ones)."""
    tz_cols = [
        c for c, t in df.schema.items() if isinstance(t, pl.Datetime) and t.time_zone is not None
    ]
    if not tz_cols:
        return df
    return df.with_columns(
        pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ") for c in tz_cols
    )


def write_csv(df: pl.DataFrame, path: Path) -> None:
    """Comma-separated UTF-8 (no BOM), header row, LF, `"` quoting where needed, null = empty."""
    csv_frame(df).write_csv(
        path,
        separator=",",
        line_terminator="\n",
        include_header=True,
        null_value="",
        date_format="%Y-%m-%d",
        datetime_format="%Y-%m-%dT%H:%M:%S",
    )


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    df.write_parquet(path, compression="zstd", statistics=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_entry(path: Path) -> dict:
    fsync_path(path)
    return {"bytes": path.stat().st_size, "sha256": _sha256(path)}


_TYPES = {
    pl.String: "text",
    pl.Int8: "integer",
    pl.Int16: "integer",
    pl.Int32: "integer",
    pl.Int64: "integer",
    pl.Float64: "decimal",
    pl.Boolean: "boolean (true/false)",
    pl.Date: "date (YYYY-MM-DD)",
}


def _type_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return (
            "timestamp (UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ in csv)"
            if dtype.time_zone
            else "timestamp (YYYY-MM-DDTHH:MM:SS)"
        )
    return _TYPES.get(dtype.base_type(), str(dtype))


_INTRO = {
    "datamart": (
        "The municipality's own data from the DFDG warehouse: its weekly facts in the weeks "
        "of the months {fra}..{til} (a week belongs to the month of its Sunday), the dimension "
        "members those facts reference and nothing else, and its rows of the published benchmark "
        "together with the Hele landet rows. Hele landet rows are national aggregates under the "
        "benchmark's disclosure control (counts of 1-4 suppressed), published to every municipality "
        "for comparison; the rows of other municipalities are not included, nor the benchmark's "
        "publication time and revision (they describe the load, not the data). Facts join dimensions on "
        "`borger_key`, `org_id` (the `*_org_id` columns), `uddannelseskode`+`uddannelseskodetype`, "
        "`uge` and `kommunekode`."
    ),
    "dsa": (
        "The municipality's raw delivery rows as received from DFDG in the delivery months "
        "{fra}..{til}: the rows of every delivery file that carry its municipality code (residents "
        "for borger.csv), the participants of its conversations, and the organisations and "
        "education codes its records reference. Values are typed as in the warehouse; `data_maaned` "
        "and `linje` tell which delivery and which line a row came from. Rows rejected at loading "
        "(row-level faults) are not included. A record re-sent in a later delivery appears once per "
        "delivery (the warehouse uses the latest version)."
    ),
}


def readme_text(
    kommune: int, navn: str, niveau: str, fra: str, til: str, tables: dict[str, pl.DataFrame]
) -> str:
    """The package README: what it holds and, for every table, its grain and columns."""
    lines = [
        f"# Data package: {navn} ({kommune}), {niveau}, {fra}..{til}",
        "",
        _INTRO[niveau].format(fra=fra, til=til),
        "",
        "**Personal data.** The package holds CPR numbers and names of the municipality's own "
        "citizens (only citizens with a record of the municipality). Store and share it as personal data.",
        "",
        "## Files",
        "",
        "- `<table>.parquet` and `<table>.csv` for every table below, with the same rows in the same order.",
        '- CSV: comma-separated, UTF-8 without BOM, a header row, LF line ends, `"` quoting where '
        'needed; an empty field is null (an empty text is `""`); dates `YYYY-MM-DD`, decimal point `.`.',
        f"- `{MANIFEST}`: municipality, level, period, generation time, and per table its row count "
        "and the size and SHA-256 of each file.",
        "- Rows are sorted by the table's key columns, then by every other column.",
        "",
        "## Tables",
    ]
    for table, df in tables.items():
        grain, holds = GRAIN[table], docs.HOLDS[table]
        lines += [
            "",
            f"### {table}",
            "",
            f"Grain: {grain}.",
            "",
            f"In this package: {holds}.",
            "",
            "| column | type | description |",
            "|---|---|---|",
        ]
        for col, dtype in df.schema.items():
            try:
                text = docs.column_doc(table, col)
            except KeyError:
                raise ExportError(
                    f"kolonnen {table}.{col} er ikke beskrevet i exports/docs.py"
                ) from None
            lines.append(f"| `{col}` | {_type_name(dtype)} | {text} |")
    return "\n".join(lines) + "\n"


def manifest_dict(
    kommune: int,
    navn: str,
    niveau: str,
    fra: str,
    til: str,
    months_without_data: list[str],
    tables: dict[str, dict],
    files: dict[str, dict],
    generated_at: str,
) -> dict:
    return {
        "files": files,
        "format_version": FORMAT_VERSION,
        "generated_at": generated_at,
        "municipality": {"code": kommune, "name": navn},
        "niveau": niveau,
        "period": {
            "fra": fra,
            "til": til,
            "selects": "weeks belonging to the months"
            if niveau == "datamart"
            else "delivery (data) months",
            "months_without_data": months_without_data,
        },
        "tables": tables,
    }


def _timestamp(now: dt.datetime | None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.isoformat(timespec="seconds")


STALE_SECONDS = 6 * 3600  # a temp folder this old belongs to an export that was killed


def _remove_stale(dest: Path) -> None:
    """Remove temp folders of this package left by killed exports (never a running one's)."""
    import time

    for p in dest.parent.glob(f".{dest.name}.*"):
        with contextlib.suppress(OSError):
            if p.suffix in (".tmp", ".old") and time.time() - p.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(p, ignore_errors=True)


def _move_into_place(tmp: Path, dest: Path) -> None:
    """Rename the finished folder to its final name; an older package of that name goes away."""
    for _ in range(10):
        try:
            os.replace(tmp, dest)
            return
        except OSError:
            if not dest.exists():
                raise
            old = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.old"
            with contextlib.suppress(FileNotFoundError):  # another export may have moved it
                os.replace(dest, old)
                shutil.rmtree(old, ignore_errors=True)
    raise ExportError(f"kunne ikke lægge pakken {dest.name} på plads (samtidige eksporter?)")


def write_package(
    dest: Path,
    tables: dict[str, pl.DataFrame],
    *,
    kommune: int,
    navn: str,
    niveau: str,
    fra: str,
    til: str,
    months_without_data: list[str],
    now: dt.datetime | None = None,
) -> Path:
    """Write the package folder atomically (temp folder beside it, then one rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(dest)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        entries: dict[str, dict] = {}
        for table, df in tables.items():
            df = sort_table(table, df)
            tables[table] = df
            pq, csv = tmp / f"{table}.parquet", tmp / f"{table}.csv"
            write_parquet(df, pq)
            write_csv(df, csv)
            entries[table] = {
                "files": {csv.name: _file_entry(csv), pq.name: _file_entry(pq)},
                "rows": df.height,
            }
        readme = tmp / README
        readme.write_text(readme_text(kommune, navn, niveau, fra, til, tables), encoding="utf-8")
        manifest = manifest_dict(
            kommune,
            navn,
            niveau,
            fra,
            til,
            months_without_data,
            entries,
            {README: _file_entry(readme)},
            _timestamp(now),
        )
        (tmp / MANIFEST).write_text(
            json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        fsync_path(tmp / MANIFEST)
        fsync_path(tmp)
        _move_into_place(tmp, dest)
        fsync_path(dest.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# ---------------------------------------------------------------- the entry point
def export_package(
    root: DataRoot | str | Path,
    kommune: int,
    niveau: Niveau | str,
    fra: str,
    til: str,
    out: Path | str | None = None,
    now: dt.datetime | None = None,
) -> Path:
    """Write one municipality's data package and return its folder.

    Raises an ExportError (one line, no personal data) for an unknown municipality or level, a
    malformed or reversed period, or a period without data for the municipality.
    """
    root = root if isinstance(root, DataRoot) else DataRoot.of(root)
    navn = check_request(kommune, niveau, fra, til)
    kommune = int(kommune)
    months = months_between(fra, til)
    wh = Warehouse(root.warehouse)
    if niveau == "datamart":
        tables = datamart_tables(wh, kommune, months)
        present = "fct_visitation_uge"
    else:
        tables = dsa_tables(wh, kommune, months)
        present = "raw_visitation"
    missing = [m for m in months if not wh.has(present, m)]
    base = Path(out) if out is not None else root.exports
    dest = base / package_name(kommune, niveau, fra, til)
    return write_package(
        dest,
        tables,
        kommune=kommune,
        navn=navn,
        niveau=niveau,
        fra=fra,
        til=til,
        months_without_data=missing,
        now=now,
    )


def read_manifest(package: Path) -> dict:
    return json.loads((Path(package) / MANIFEST).read_text(encoding="utf-8"))
