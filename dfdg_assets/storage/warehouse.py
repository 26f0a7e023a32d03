"""The warehouse on disk: one Parquet file per (table, partition), replaced atomically.

Layout under `<data root>/warehouse/`:

    <table>/<YYYY-MM>.parquet            the current version of a monthly partition
    <table>/alle.parquet                 the current version of an unpartitioned table
    <table>/start-<YYYY-MM>.parquet      a segment of a staging table: its records starting then
    <table>/_v/<partition>~<id>.parquet  immutable versions (the current one is a hard link)
    dfdg.duckdb                          the catalogue: one view per table over exact versions

Why this design: a partition is written to a hidden temp name, flushed to disk, renamed to an
immutable version and linked over the current name. A rename is atomic, so our own readers see
the old month or the new month, never none, never both, and a killed run leaves the old file in
place. No lock is held while data is written, so many months can be written by one run.

The catalogue's views name the exact version files, not a glob: a SQL reader never mixes two
versions of a month inside one query (a glob can be expanded before a rename and the file read
after it). The catalogue is rebuilt into a temp file and renamed into place, so a reader holding
the old catalogue open keeps reading the old versions and a load never waits for a reader.
Superseded versions are deleted after a grace period; deleting a partition deletes every version
of it at once: the bytes are gone, not hidden.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import polars as pl

from dfdg_assets.core.grain import GRAIN
from dfdg_assets.sql import files_view, ident, literal, statement

#: Tables that summarise others, and the tables whose months they must all hold to be shown.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "fct_borger_maaned": ("fct_visitation_uge", "fct_aktivitet_uge"),
    "fct_borger_ydelse_maaned": ("fct_borger_ydelse_uge",),
}

UNPARTITIONED = "alle"
#: Segments of a table kept in parts that are not data months (the staging tables of records,
#: by the month each record starts): `start-YYYY-MM`. Retention never prunes them by name.
SEGMENT_PREFIX = "start-"
_SUFFIX = ".parquet"
_MONTH_NAME = re.compile(r"\d{4}-\d{2}")  # a monthly partition (not `alle`, not a segment)
_VERSIONS = "_v"
GRACE_SECONDS = 15 * 60  # superseded versions stay this long for readers of an older catalogue
#: How every partition is written: zstd at level 1 writes a national month of the activity facts
#: in three quarters of the time of the default level, for files about a tenth larger; column
#: statistics let DuckDB and polars skip row groups.
PARQUET_OPTIONS: dict = {"compression": "zstd", "compression_level": 1, "statistics": True}


LEDGER_DIR = "_leveringer"
PENDING_DIR = "_afventer"  # staged ledger entries, committed by the run's last step
ROLLOUT_DEBT = "_udrulning.json"  # months still to roll out (the warehouse's own record)
BENCHMARK_DEBT = "_udrulning_benchmark.json"  # months rolled out whose benchmark is not published


def _write_json_atomic(target: Path, obj: dict) -> None:
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(obj, sort_keys=True))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    fsync_path(target.parent)


def fsync_path(path: Path) -> None:
    """Flush a file or a folder's entries to disk (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _group_debt(entries: Mapping[str, dict], debt: dict) -> dict[str, str]:
    """Per record group, the first month the committed deliveries and the debt before them
    change in that group's weekly facts. A delivery or a debt that does not say (written before
    groups were recorded, or unreadable) counts with its overall first month."""
    groups = {g for e in entries.values() for g in e.get("berort_fra_pr_gruppe", {})}
    groups |= set(debt.get("fra_pr_gruppe", {}))
    out = {}
    for g in sorted(groups):
        firsts = [
            e.get("berort_fra_pr_gruppe", {}).get(g) or e.get("berort_fra") or m
            for m, e in entries.items()
        ]
        if debt:
            firsts.append(debt.get("fra_pr_gruppe", {}).get(g) or debt.get("fra", "0000-00"))
        out[g] = min(firsts)
    return out


def _linked(versions: Iterable[Path], ino: int) -> Path | None:
    """The first of `versions` that is the file with inode `ino` (a partition's current name)."""
    return next((v for v in versions if v.stat().st_ino == ino), None)


class Warehouse:
    """Reads and writes the Parquet partitions of the warehouse under one folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ---------------------------------------------------------------- paths
    def table_dir(self, table: str) -> Path:
        return self.path / table

    def partition_file(self, table: str, partition: str = UNPARTITIONED) -> Path:
        return self.table_dir(table) / f"{partition}{_SUFFIX}"

    def partitions(self, table: str) -> list[str]:
        """The stored partitions of a table, sorted ('YYYY-MM' or 'alle')."""
        d = self.table_dir(table)
        if not d.is_dir():
            return []
        return sorted(p.name[: -len(_SUFFIX)] for p in d.glob(f"*{_SUFFIX}"))

    def tables(self, include_empty: bool = False) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(
            p.name
            for p in self.path.iterdir()
            if p.is_dir()
            and not p.name.startswith(".")
            and (include_empty or self.partitions(p.name))
        )

    def has(self, table: str, partition: str = UNPARTITIONED) -> bool:
        return self.partition_file(table, partition).is_file()

    # ---------------------------------------------------------------- writes
    def staging_file(self, table: str, partition: str = UNPARTITIONED) -> Path:
        """A hidden temp name in the table's folder to write a partition to before `write_many`
        publishes it (a file left behind by a killed run is removed like any temp file)."""
        final = self.partition_file(table, partition)
        final.parent.mkdir(parents=True, exist_ok=True)
        return final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"

    def _stage(self, table: str, partition: str, df: pl.DataFrame | Path) -> tuple[Path, Path]:
        final = self.partition_file(table, partition)
        final.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(df, Path):  # written already (`staging_file`): flushed here
            if df.parent != final.parent:
                raise ValueError("a staged partition file must be in its table's folder")
            fsync_path(df)
            return df, final
        tmp = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as fh:
                df.write_parquet(fh, **PARQUET_OPTIONS)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, final

    def write(self, table: str, df: pl.DataFrame, partition: str = UNPARTITIONED) -> Path:
        """Atomically replace one partition of a table with `df`."""
        return self.write_many({(table, partition): df})[0]

    def write_many(self, frames: Mapping[tuple[str, str], pl.DataFrame | Path]) -> list[Path]:
        """Replace several partitions as one step: every file is staged first, then all renamed.

        A value is a frame to write, or a file already written to `staging_file(table, part)`.

        A failure while staging leaves every old partition untouched; the renames that follow
        take microseconds and cannot fail for lack of space.
        """
        staged: list[tuple[Path, Path]] = []
        try:
            for (table, partition), df in frames.items():
                staged.append(self._stage(table, partition, df))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, final in staged:
            version = self._version_path(final)
            version.parent.mkdir(exist_ok=True)
            os.replace(tmp, version)
            link = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
            os.link(version, link)
            os.replace(link, final)
        for d in {final.parent for _, final in staged}:
            fsync_path(d)
            fsync_path(d / _VERSIONS)
        return [final for _, final in staged]

    def write_segments(
        self, table: str, staged: Mapping[str, Path], drop: Iterable[str] = ()
    ) -> None:
        """Publish a segmented table's changed segments (files written to `staging_file`), then
        delete the segments in `drop` (emptied, or left from an earlier layout). A kill in
        between leaves the table with rows twice; the table's build record (storage/increments)
        then no longer matches, so the next build starts from all history."""
        self.write_many({(table, p): f for p, f in staged.items()})
        for p in drop:
            if p not in staged:
                self.delete(table, p)

    @staticmethod
    def _version_path(final: Path) -> Path:
        stem = final.name[: -len(_SUFFIX)]
        return final.parent / _VERSIONS / f"{stem}~{uuid.uuid4().hex[:16]}{_SUFFIX}"

    def _versions(self, table: str, partition: str) -> list[Path]:
        return sorted((self.table_dir(table) / _VERSIONS).glob(f"{partition}~*{_SUFFIX}"))

    def current_version(self, table: str, partition: str = UNPARTITIONED) -> Path | None:
        """The immutable version file that the partition's current name links to."""
        f = self.partition_file(table, partition)
        try:
            ino = f.stat().st_ino
        except FileNotFoundError:
            return None
        return _linked(self._versions(table, partition), ino)

    def current_versions(self, table: str) -> dict[str, Path | None]:
        """`current_version` of every stored partition of `table`, from one listing of its
        versions (a glob per partition grew with the square of the partitions)."""
        parts = self.partitions(table)
        if not parts:
            return {}
        by_stem: dict[str, list[Path]] = {}
        vdir = self.table_dir(table) / _VERSIONS
        if vdir.is_dir():
            for v in vdir.iterdir():
                if v.name.endswith(_SUFFIX) and "~" in v.name:
                    by_stem.setdefault(v.name.split("~", 1)[0], []).append(v)
        out: dict[str, Path | None] = {}
        for part in parts:
            try:
                ino = self.partition_file(table, part).stat().st_ino
            except FileNotFoundError:
                continue
            out[part] = _linked(sorted(by_stem.get(part, [])), ino)
        return out

    def collect_old_versions(self, grace_seconds: float = GRACE_SECONDS) -> int:
        """Delete superseded versions older than the grace period; returns how many."""
        import time

        n = 0
        now = time.time()
        for table in self.tables(include_empty=True):
            vdir = self.table_dir(table) / _VERSIONS
            if not vdir.is_dir():
                continue
            current = {f.stat().st_ino for f in self.table_dir(table).glob(f"*{_SUFFIX}")}
            for v in vdir.glob(f"*{_SUFFIX}"):
                st = v.stat()
                if st.st_ino not in current and now - st.st_mtime >= grace_seconds:
                    v.unlink(missing_ok=True)
                    n += 1
        return n

    def delete(self, table: str, partition: str = UNPARTITIONED) -> bool:
        """Delete a partition and every version of it (the bytes are gone, not hidden)."""
        f = self.partition_file(table, partition)
        existed = f.exists()
        f.unlink(missing_ok=True)
        for v in self._versions(table, partition):
            v.unlink(missing_ok=True)
        fsync_path(f.parent)
        return existed

    def clean_temp_files(self) -> int:
        """Remove temp files left by killed runs (they are never visible to readers)."""
        n = 0
        if self.path.is_dir():
            for tmp in [*self.path.glob("*/.*.tmp"), *self.path.glob(".*.tmp")]:
                if tmp.is_dir() and not tmp.is_symlink():  # an ingest's spill of chunks
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    tmp.unlink(missing_ok=True)
                n += 1
        return n

    # ---------------------------------------------------------------- reads
    def scan(
        self,
        table: str,
        partitions: Iterable[str] | None = None,
        schema: Mapping[str, pl.DataType] | None = None,
    ) -> pl.LazyFrame:
        """A lazy frame over the chosen (default: all) stored partitions of a table.

        With no stored partition, an empty frame of `schema` (required then).
        """
        wanted = self.partitions(table) if partitions is None else list(partitions)
        files = [str(self.partition_file(table, p)) for p in wanted if self.has(table, p)]
        if not files:
            if schema is None:
                raise FileNotFoundError(f"table {table} has no stored partition")
            return pl.LazyFrame(schema=dict(schema))
        return pl.scan_parquet(files)

    def read(
        self, table: str, partitions: Iterable[str] | None = None, schema=None
    ) -> pl.DataFrame:
        return self.scan(table, partitions, schema).collect()

    # ---------------------------------------------------------------- delivery ledger
    def record_delivery(self, month: str, entry: dict) -> None:
        """Stage what the run's ingest put into the warehouse for a month (content hash, affected
        months, run id). Staged entries count for nothing until `commit_deliveries` by the run's
        last step: a run killed in between leaves the delivery pending, never "done"."""
        d = self.path / LEDGER_DIR / PENDING_DIR
        d.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(d / f"{month}.json", entry)

    def staged_deliveries(self) -> dict[str, dict]:
        d = self.path / LEDGER_DIR / PENDING_DIR
        out = {}
        for f in sorted(d.glob("*.json")) if d.is_dir() else []:
            try:
                out[f.stem] = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
        return out

    def discard_staged_deliveries(self, keep_run_id: str | None = None) -> int:
        """Drop staged entries of other (dead) runs: their delivery is simply loaded again."""
        n = 0
        for month, entry in self.staged_deliveries().items():
            if keep_run_id is None or entry.get("run_id") != keep_run_id:
                (self.path / LEDGER_DIR / PENDING_DIR / f"{month}.json").unlink(missing_ok=True)
                n += 1
        return n

    def commit_deliveries(self, run_id: str) -> list[str]:
        """Commit the run's staged ledger entries: the roll-out debt grows first (so a kill in
        between re-ingests and still rolls out), then each entry moves into the ledger."""
        mine = {m: e for m, e in self.staged_deliveries().items() if e.get("run_id") == run_id}
        if not mine:
            return []
        newest = self.partitions("raw_visitation")
        debt = self.rollout_debt() or {}
        first = min(
            [e.get("berort_fra") or m for m, e in mine.items()] + [debt.get("fra", "9999-99")]
        )
        last = max([*mine, debt.get("til", "0000-00"), *(newest[-1:] or [])])
        _write_json_atomic(
            self.path / ROLLOUT_DEBT,
            {
                "fra": first,
                "til": last,
                "id": uuid.uuid4().hex[:16],
                "fra_pr_gruppe": _group_debt(mine, debt),
            },
        )
        d = self.path / LEDGER_DIR
        for month in sorted(mine):
            os.replace(d / PENDING_DIR / f"{month}.json", d / f"{month}.json")
        fsync_path(d)
        return sorted(mine)

    def rollout_debt(self) -> dict | None:
        """The months still to roll out (`fra`..`til`, and an id that changes when it grows), or
        None: written when an ingest commits, cleared when a roll-out covering it commits.
        `fra_pr_gruppe` narrows `fra` per record group (`unchanged_before`)."""
        return self._debt(ROLLOUT_DEBT)

    def unchanged_before(self, group: str, debt_id: str | None) -> str | None:
        """The first month whose weekly facts of record `group` the roll-out debt `debt_id` may
        change: every month before it is as the last committed roll-out left it. None (build
        every month) unless `debt_id` is the current debt and it names the group."""
        debt = self.rollout_debt()
        if not debt or not debt_id or debt.get("id") != debt_id:
            return None
        return debt.get("fra_pr_gruppe", {}).get(group)

    def benchmark_debt(self) -> dict | None:
        """The months rolled out whose benchmark is still to be published (its own job), or None:
        grown when a roll-out commits, cleared when a benchmark run covering it commits."""
        return self._debt(BENCHMARK_DEBT)

    def _debt(self, name: str) -> dict | None:
        f = self.path / name
        try:
            return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None
        except ValueError:  # a torn write cannot happen (atomic replace); treat as everything
            return {"fra": "0000-00", "til": "9999-99", "id": "ulaeselig"}

    def settle_rollout(self, first: str, last: str, debt_id: str | None = None) -> bool:
        """Clear the roll-out debt if the committed roll-out `first`..`last` covers it (the
        caller records the benchmark's debt first: `owe_benchmark`)."""
        debt = self.rollout_debt()
        if debt is None:
            return True
        if debt.get("id") == debt_id or (
            first <= debt.get("fra", "") and last >= debt.get("til", "")
        ):
            (self.path / ROLLOUT_DEBT).unlink(missing_ok=True)
            fsync_path(self.path)
            return True
        return False

    def owe_benchmark(self, first: str, last: str) -> None:
        """Grow the benchmark's debt by the months `first`..`last` (a roll-out is committing)."""
        if first > last:
            return
        debt = self.benchmark_debt() or {}
        _write_json_atomic(
            self.path / BENCHMARK_DEBT,
            {
                "fra": min(first, debt.get("fra", "9999-99")),
                "til": max(last, debt.get("til", "0000-00")),
                "id": uuid.uuid4().hex[:16],
            },
        )

    def settle_benchmark(self, first: str, last: str, debt_id: str | None = None) -> bool:
        """Clear the benchmark's debt if the committed benchmark run `first`..`last` covers it."""
        debt = self.benchmark_debt()
        if debt is None:
            return True
        if debt.get("id") == debt_id or (
            first <= debt.get("fra", "") and last >= debt.get("til", "")
        ):
            (self.path / BENCHMARK_DEBT).unlink(missing_ok=True)
            fsync_path(self.path)
            return True
        return False

    def delivery_record(self, month: str) -> dict | None:
        f = self.path / LEDGER_DIR / f"{month}.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None

    # ---------------------------------------------------------------- keys
    def key_secret(self) -> bytes:
        """The secret behind the citizen surrogate keys, created once per warehouse.

        Surrogate keys are a keyed hash of the CPR number: stable across reloads and load paths,
        and not reversible without this file (which lives with the personal data it protects).
        """
        f = self.path / ".noegle"
        if not f.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            tmp = self.path / f".noegle.{uuid.uuid4().hex}.tmp"
            tmp.write_bytes(secrets.token_bytes(32))
            try:
                os.link(tmp, f)  # fails if another run created it first: keep theirs
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return f.read_bytes()

    # ---------------------------------------------------------------- catalogue
    def _complete(self, name: str) -> bool:
        """Whether a table derived from others (`DERIVED_FROM`) holds every month they hold: a
        query may read it instead of them only then (a warehouse rolled out before the table
        existed has no view of it until a roll-out of every month builds it)."""
        sources = DERIVED_FROM.get(name, ())
        have = set(self.partitions(name))
        return all(set(self.partitions(s)) <= have for s in sources)

    def refresh_catalogue(self, catalogue: Path) -> list[str]:
        """Rebuild the DuckDB catalogue (one view per stored table) and swap it in atomically."""
        catalogue.parent.mkdir(parents=True, exist_ok=True)
        tmp = catalogue.parent / f".{catalogue.name}.{uuid.uuid4().hex}.tmp"
        names = [n for n in self.tables() if self._complete(n)]
        con = duckdb.connect(str(tmp))
        monthly: list[str] = []  # (table, month, file) of every monthly partition, as SQL
        try:
            for name in names:
                linked = self.current_versions(name)
                parts = list(linked)
                files = [linked[p] or self.partition_file(name, p) for p in parts]
                monthly += [
                    f"({literal(name)}, {literal(p)}, {literal(str(f))})"
                    for p, f in zip(parts, files, strict=True)
                    if _MONTH_NAME.fullmatch(p)
                ]
                con.execute(files_view(name, files))
                doc = GRAIN.get(name)
                if doc:
                    con.execute(
                        statement("catalogue_comment").format(
                            view=ident(name), comment=literal(doc)
                        )
                    )
            con.execute(statement("catalogue_month_files"))
            if monthly:  # one statement: a row at a time took 0.3 s at national scale
                con.execute(f"INSERT INTO _maanedsfiler VALUES {', '.join(monthly)}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
        os.replace(tmp, catalogue)
        self.collect_old_versions()
        return names
