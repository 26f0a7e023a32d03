"""The warehouse on disk: one Parquet file per (table, partition), replaced atomically.

Layout under `<data root>/warehouse/`:

    <table>/<YYYY-MM>.parquet     a monthly partition of a partitioned table
    <table>/alle.parquet          an unpartitioned table
    dfdg.duckdb                   the catalogue: one view per table over its Parquet files

Why this design: a partition is written to a hidden temp name in the same folder, flushed to
disk and renamed over the old file. A rename is atomic, so a reader sees the old month or the new
month, never none, never both, and a killed run leaves the old file in place. No lock is held
while data is written, so queries never block a load and many months can be written by one run.
The catalogue holds only views; it is rebuilt into a temp file and renamed into place, so a
reader holding the old catalogue open keeps working and a load never waits for a reader.
Deleting a partition deletes its file: the bytes are gone, not hidden.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import polars as pl

UNPARTITIONED = "alle"
_SUFFIX = ".parquet"
_CATALOGUE_DOCS: dict[str, str] = {}


def document_table(name: str, grain: str) -> None:
    """Register the one-line grain of a table; it becomes the view's comment in the catalogue."""
    _CATALOGUE_DOCS[name] = grain


def table_docs() -> dict[str, str]:
    return dict(_CATALOGUE_DOCS)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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

    def tables(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir() if p.is_dir() and self.partitions(p.name))

    def has(self, table: str, partition: str = UNPARTITIONED) -> bool:
        return self.partition_file(table, partition).is_file()

    # ---------------------------------------------------------------- writes
    def _stage(self, table: str, partition: str, df: pl.DataFrame) -> tuple[Path, Path]:
        final = self.partition_file(table, partition)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as fh:
            df.write_parquet(fh, compression="zstd", statistics=True)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp, final

    def write(self, table: str, df: pl.DataFrame, partition: str = UNPARTITIONED) -> Path:
        """Atomically replace one partition of a table with `df`."""
        return self.write_many({(table, partition): df})[0]

    def write_many(self, frames: Mapping[tuple[str, str], pl.DataFrame]) -> list[Path]:
        """Replace several partitions as one step: every file is staged first, then all renamed.

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
            os.replace(tmp, final)
        for d in {final.parent for _, final in staged}:
            _fsync_dir(d)
        return [final for _, final in staged]

    def delete(self, table: str, partition: str = UNPARTITIONED) -> bool:
        f = self.partition_file(table, partition)
        if f.exists():
            f.unlink()
            _fsync_dir(f.parent)
            return True
        return False

    def clean_temp_files(self) -> int:
        """Remove temp files left by killed runs (they are never visible to readers)."""
        n = 0
        if self.path.is_dir():
            for tmp in self.path.glob("*/.*.tmp"):
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

    def read(self, table: str, partitions: Iterable[str] | None = None, schema=None) -> pl.DataFrame:
        return self.scan(table, partitions, schema).collect()

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
    def refresh_catalogue(self, catalogue: Path) -> list[str]:
        """Rebuild the DuckDB catalogue (one view per stored table) and swap it in atomically."""
        catalogue.parent.mkdir(parents=True, exist_ok=True)
        tmp = catalogue.parent / f".{catalogue.name}.{uuid.uuid4().hex}.tmp"
        names = self.tables()
        con = duckdb.connect(str(tmp))
        try:
            for name in names:
                glob = str(self.table_dir(name) / f"*{_SUFFIX}").replace("'", "''")
                con.execute(
                    f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet(\'{glob}\', union_by_name = true)'
                )
                doc = _CATALOGUE_DOCS.get(name)
                if doc:
                    con.execute(f"COMMENT ON VIEW \"{name}\" IS '{doc.replace(chr(39), chr(39) * 2)}'")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
        os.replace(tmp, catalogue)
        return names
