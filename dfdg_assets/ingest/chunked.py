"""A large delivery file in chunks: the same file-level and row-level checks as the whole-file
path (`delivery.parse_csv` + `rows.check_rows`), with memory bounded by a chunk.

Used for a file larger than one chunk (`DFDG_INGEST_CHUNK_MB`, default 128 MB; a national
monthly delivery's files are all smaller, a delivery carrying all history is not). The outcome
is the whole-file path's, row for row: the same loaded rows in the same order, the same rejected
rows (file, line, reason, row), the same counts.

1. One pass over the bytes: SHA-256, UTF-8, whether any quote occurs; with quotes, the CSV
   reader's record check over the whole file (as the whole-file path) also finds the lines where
   a record ends, the only places a chunk may end.
2. Each chunk is parsed with its line numbers and spilled to a temp Parquet file with a hash of
   its row. Rows whose hash repeats anywhere in the file are compared exactly: later copies of
   a row collapse into the first (R3).
3. Each spilled chunk is row-checked; rows with their own fault are rejected, the rest spilled
   typed with a hash of their id. Ids whose hash repeats are compared exactly; every row of an
   id with more than one distinct content is rejected (R3).
4. The loaded rows are streamed from the spill into the staged partition file.
Memory: a chunk plus two hashes and a line number per row.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from dfdg_assets.core.schemas import raw_table_schema, validate
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.delivery import _BOM, _header, _ragged_line, numbered_fields, read_fields
from dfdg_assets.ingest.errors import DeliveryRejected
from dfdg_assets.ingest.rows import (
    CONFLICT,
    _reject,
    raw_schema,
    rejected_with_reasons,
    repeated_hashes,
    staged_columns,
    unknown_code_values_lazy,
    value_checked,
)
from dfdg_assets.storage.warehouse import PARQUET_OPTIONS

ENV_CHUNK_MB = "DFDG_INGEST_CHUNK_MB"
DEFAULT_CHUNK_MB = 128


def chunk_bytes() -> int:
    """Bytes per chunk; a file larger than this is read in chunks (at least 1 KiB)."""
    mb = float(os.environ.get(ENV_CHUNK_MB) or DEFAULT_CHUNK_MB)
    return max(1024, int(mb * 1024 * 1024))


@dataclass
class ChunkedFile:
    """The outcome of a file checked in chunks: the staged partition file instead of a frame."""

    name: str
    delivered: int
    staged: Path  # the loaded rows, written (raw_schema)
    height: int
    rejected: pl.DataFrame
    exact_duplicates: int
    rejected_by_reason: dict[str, int]
    unknown_values: dict[str, dict[str, int]]
    first_lines: dict[tuple[str, str], int]
    affected: pl.DataFrame | None  # what earliest_affected_date needs of the rows

    @property
    def over_threshold(self) -> bool:
        return self.rejected.height * 100 > self.delivered


def _first_pass(month: str, spec: contract.DeliveryFile, path: Path, sha256: str, size: int):
    """SHA-256, UTF-8 and quotes over the bytes in blocks; returns (has_quotes, header line)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8_line: int | None = None
    lines = 0
    quotes = False
    first_line = b""
    first_done = False
    with path.open("rb") as fh:
        start = True
        while block := fh.read(size):
            digest.update(block)
            data = block
            if start:
                data = data.removeprefix(_BOM)
                start = False
            if not first_done:
                cut = data.find(b"\n")
                first_line += data if cut < 0 else data[:cut]
                first_done = cut >= 0
            quotes = quotes or b'"' in data
            if utf8_line is None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(data)
                except UnicodeDecodeError as e:
                    utf8_line = lines + data[: max(e.start - pending, 0)].count(b"\n") + 1
            lines += data.count(b"\n")
        if utf8_line is None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8_line = lines + 1
    if digest.hexdigest() != sha256.lower():
        raise DeliveryRejected(month, spec.filename, "SHA-256 passer ikke med manifestet")
    if utf8_line is not None:
        raise DeliveryRejected(month, spec.filename, "ikke gyldig UTF-8", utf8_line)
    return quotes, first_line.decode("utf-8")


def _record_ends(
    month: str, spec: contract.DeliveryFile, path: Path, width: int, lines_per_chunk: int
) -> set[int]:
    """With quotes: the whole-file path's record check, streamed; returns line counts (lines
    read so far) at which a record ends, about every `lines_per_chunk` lines."""
    ends: set[int] = set()
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=contract.SEPARATOR, quotechar='"')
        start = 1
        mark = lines_per_chunk
        try:
            for rec in reader:
                if rec and rec[-1].endswith("\n"):
                    raise DeliveryRejected(
                        month, spec.filename, "et anførselstegn lukkes aldrig", start
                    )
                if len(rec) != width and rec:
                    fault = f"{len(rec)} felter, forventet {width}"
                    if reader.line_num > start:
                        fault += " (et anførselstegn lukkes ikke på linjen)"
                    raise DeliveryRejected(month, spec.filename, fault, start)
                if reader.line_num >= mark:
                    ends.add(reader.line_num)
                    mark = reader.line_num + lines_per_chunk
                start = reader.line_num + 1
        except csv.Error:
            raise DeliveryRejected(month, spec.filename, "ulæselig linje", start) from None
    return ends


def _chunks(path: Path, size: int, ends: set[int] | None) -> Iterator[tuple[bytes, int]]:
    """The file's bytes after the header line, in pieces ending at a line end (with quotes: a
    line end where a record ends); yields (bytes, line number of the piece's first line)."""
    with path.open("rb") as fh:
        head = fh.readline()
        line = 2
        seen = 1  # line ends read so far (the header's)
        rest = b""
        del head
        while True:
            block = fh.read(size)
            buf = rest + block
            if not block:
                if buf:
                    yield buf, line
                return
            nl = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
            if ends is None:
                cut_at = len(nl) - 1
            else:
                counts = seen + np.arange(1, len(nl) + 1)
                ok = np.flatnonzero(np.isin(counts, np.fromiter(ends, dtype=np.int64)))
                cut_at = int(ok[-1]) if len(ok) else -1
            if cut_at < 0:
                rest = buf
                continue
            cut = int(nl[cut_at]) + 1
            yield buf[:cut], line
            line += cut_at + 1
            seen += cut_at + 1
            rest = buf[cut:]


def _parse(
    month: str, spec: contract.DeliveryFile, data: bytes, header: list[str], first_line: int
) -> pl.DataFrame:
    try:
        df = read_fields(data, header, has_header=False)
    except Exception:  # the reader's own message may echo field values
        raise DeliveryRejected(month, spec.filename, "filen kan ikke læses som CSV") from None
    if df.width != len(header):  # a chunk of blank lines only
        df = pl.DataFrame(schema={c: pl.String for c in header})
    return numbered_fields(df, spec, first_line)


def _in(col: str, values: pl.Series) -> pl.Expr:
    return pl.col(col).is_in(values.implode())


def check_file_chunked(
    month: str,
    spec: contract.DeliveryFile,
    path: Path,
    expected_rows: int,
    sha256: str,
    staged: Path,
    size: int | None = None,
) -> ChunkedFile:
    """Check one delivery file in chunks and write its loaded rows to `staged`."""
    size = size or chunk_bytes()
    quotes, first = _first_pass(month, spec, path, sha256, size)
    header = _header(month, spec, first.rstrip("\r") + "\n")
    width = len(header)
    ends = None
    if quotes:
        total = max(1, path.stat().st_size)
        with path.open("rb") as fh:
            n_lines = sum(b.count(b"\n") for b in iter(lambda: fh.read(1 << 24), b""))
        ends = _record_ends(month, spec, path, width, max(1, n_lines * size // total))
    # a hidden temp folder next to the partition: removed below, or by the next load's
    # clean-up of temp files if the run is killed
    spill = Path(tempfile.mkdtemp(prefix=".indlaes-", suffix=".tmp", dir=staged.parent))
    try:
        return _check(month, spec, path, expected_rows, staged, size, header, ends, spill)
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _check(
    month: str,
    spec: contract.DeliveryFile,
    path: Path,
    expected_rows: int,
    staged: Path,
    size: int,
    header: list[str],
    ends: set[int] | None,
    spill: Path,
) -> ChunkedFile:
    cols = spec.column_names
    width = len(header)
    # 2. parse and spill each chunk with a hash of its row
    raw_parts: list[Path] = []
    hashes: list[pl.Series] = []
    delivered = 0
    for data, line in _chunks(path, size, ends):
        if ends is None:
            bad = _ragged_line(np.frombuffer(data, dtype=np.uint8), width)
            if bad is not None:
                raise DeliveryRejected(
                    month, spec.filename, f"{bad[1]} felter, forventet {width}", line + bad[0]
                )
        df = _parse(month, spec, data, header, delivered + 2)
        del data
        h = df.select(cols).hash_rows()
        hashes.append(h)
        part = spill / f"r{len(raw_parts)}.parquet"
        df.with_columns(h.alias("__h")).write_parquet(part, compression="lz4")
        raw_parts.append(part)
        delivered += df.height
    if delivered != expected_rows:
        raise DeliveryRejected(
            month,
            spec.filename,
            f"rækkeantal {delivered} passer ikke med manifestets {expected_rows}",
        )
    raw = pl.concat([pl.scan_parquet(p) for p in raw_parts]) if raw_parts else None
    # exact duplicates: rows whose hash repeats, compared exactly; later copies collapse
    dropped = pl.Series("linje", [], dtype=pl.Int32)
    if hashes:
        all_h = pl.concat(hashes)
        mask = repeated_hashes(all_h)
        repeated = all_h.filter(mask).unique() if mask is not None else all_h.clear()
        del all_h
        if repeated.len() and raw is not None:
            cand = raw.filter(_in("__h", repeated)).collect().sort("linje")
            first = cand.select(pl.struct(cols).is_first_distinct()).to_series()
            dropped = cand.filter(~first)["linje"]
    del hashes
    # 3. row checks per spilled chunk; own faults rejected, the rest spilled typed
    schema = raw_table_schema(spec, month)
    rejected_parts: list[pl.DataFrame] = []
    typed_parts: list[Path] = []
    key_hashes: list[pl.Series] = []
    for i, part in enumerate(raw_parts):
        df = pl.read_parquet(part)
        if dropped.len():
            df = df.filter(~_in("linje", dropped))
        typed, own_faults = value_checked(spec, month, df)
        if own_faults is not None:
            rejected_parts.append(own_faults)
        good = typed.select(staged_columns(spec, month))
        good = validate(good, schema)
        out = spill / f"t{i}.parquet"
        if spec.key:
            k = good.select(list(spec.key)).hash_rows()
            key_hashes.append(k)
            good = good.with_columns(k.alias("__k"))
        good.write_parquet(out, compression="lz4")
        typed_parts.append(out)
        del df, typed, good
    typed_all = pl.concat([pl.scan_parquet(p) for p in typed_parts]) if typed_parts else None
    # conflicting ids among the rows that pass: every row of such an id is rejected
    conflicted = pl.Series("linje", [], dtype=pl.Int32)
    if spec.key and key_hashes and typed_all is not None:
        all_k = pl.concat(key_hashes)
        mask = repeated_hashes(all_k)
        repeated = all_k.filter(mask).unique() if mask is not None else all_k.clear()
        del all_k
        if repeated.len():
            key = list(spec.key)
            cand = typed_all.filter(_in("__k", repeated)).select("linje", *key).collect()
            exact = cand.select(pl.struct(key).is_duplicated()).to_series()
            conflicted = cand.filter(exact)["linje"]
            if conflicted.len() and raw is not None:
                rows = raw.filter(_in("linje", conflicted)).collect()
                rejected_parts.append(_reject(rows, spec.name, month, pl.lit(CONFLICT), cols))
    out_cols = list(schema.columns)
    loaded = typed_all.select(out_cols) if typed_all is not None else None
    if loaded is not None and conflicted.len():
        loaded = loaded.filter(~_in("linje", conflicted))
    if loaded is None:
        pl.DataFrame(schema=raw_schema(spec)).write_parquet(staged, compression="zstd")
    else:
        loaded.sink_parquet(staged, **PARQUET_OPTIONS)
    written = pl.scan_parquet(staged)
    height = int(written.select(pl.len()).collect().item())
    rejected, by_reason = rejected_with_reasons(rejected_parts)
    unknown, first_lines = unknown_code_values_lazy(spec.name, written)
    return ChunkedFile(
        name=spec.name,
        delivered=delivered,
        staged=staged,
        height=height,
        rejected=rejected,
        exact_duplicates=dropped.len(),
        rejected_by_reason=by_reason,
        unknown_values=unknown,
        first_lines=first_lines,
        affected=_affected(spec.name, written),
    )


def _affected(name: str, out: pl.LazyFrame) -> pl.DataFrame | None:
    """The columns of the loaded rows that `earliest_affected_date` reads, no more."""
    match name:
        case "visitation":
            return out.select("visitation_id", "visitationstidspunkt").collect()
        case "aktivitet":
            return out.select("aktivitet_id", "startdato").collect()
        case "samtale":
            return out.select("samtale_id", "samtaledato").collect()
        case "samtale_deltager":
            return out.select("samtale_id").unique().collect()
        case "ydelse":
            return out.select(pl.col("uge").min()).collect()
    return None


def staged_path(table_dir: Path, partition: str) -> Path:
    """A hidden temp name next to the partition (removed by the next load if left behind)."""
    table_dir.mkdir(parents=True, exist_ok=True)
    return table_dir / f".{partition}.parquet.{uuid.uuid4().hex}.tmp"
