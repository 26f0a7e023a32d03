"""Ingesting one delivery: file checks, row checks, the 1 % rule, validation (no Dagster here).

Returns the frames to publish and the facts an operator wants to see; raises on any reason to
publish nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import polars as pl

from dfdg_assets.core.privacy import masked
from dfdg_assets.core.schemas import raw_table_schema, rejected_schema, validate
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.chunked import ChunkedFile, check_file_chunked, chunk_bytes
from dfdg_assets.ingest.delivery import DeliveryFiles, read_delivery
from dfdg_assets.ingest.errors import DeliveryHeld
from dfdg_assets.ingest.rows import REJECTED_SCHEMA, CheckedFile, check_rows, raw_schema
from dfdg_assets.staging.versions import (
    affected_by_group,
    affected_from_month,
    earliest_affected_dates,
)
from dfdg_assets.storage import Warehouse

REJECTED_TABLE = "raw_afviste_raekker"


def raw_table(name: str) -> str:
    return f"raw_{name}"


def history_table(name: str) -> str:
    """Record versions from deliveries pruned by retention that are still in force (R10)."""
    return f"hist_{name}"


CARRIED = ("visitation", "aktivitet", "samtale", "samtale_deltager", "ydelse")


def versions(warehouse: Warehouse, name: str) -> pl.LazyFrame:
    """Every stored version of a delivery file's records: the raw partitions of the deliveries
    in the retention window, plus the versions carried over from pruned deliveries."""
    schema = raw_schema(contract.FILES_BY_NAME[name])
    raw = warehouse.scan(raw_table(name), schema=schema)
    if name in CARRIED and warehouse.has(history_table(name)):
        return pl.concat([raw, warehouse.scan(history_table(name), schema=schema)])
    return raw


RAW_TABLES = [raw_table(f.name) for f in contract.FILES] + [REJECTED_TABLE]


@dataclass
class IngestedDelivery:
    month: str
    content_hash: str
    # the partitions to publish: a frame, or a file already written (`Warehouse.staging_file`)
    frames: dict[tuple[str, str], pl.DataFrame | Path]
    affected_from: str
    # per record group (staging.versions.RECORD_GROUPS): the first month its weekly facts change
    affected_by_group: dict[str, str] = field(default_factory=dict)
    stats: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rejected_total: int = 0
    accepted_over_threshold: bool = False
    heights: dict[str, int] = field(default_factory=dict)  # rows per table of the month

    def discard(self) -> None:
        """Remove the files written for a delivery that is not published."""
        for f in self.frames.values():
            if isinstance(f, Path):
                f.unlink(missing_ok=True)
        self.frames.clear()


def ingest_delivery(
    folder: Path, warehouse: Warehouse, accept_over_threshold: bool
) -> IngestedDelivery:
    """Check and type one delivery; raise DeliveryRejected/DeliveryHeld/SchemaViolation to publish nothing.

    A file larger than one chunk (`DFDG_INGEST_CHUNK_MB`) is checked in chunks and written to
    a staged partition file as it goes (`ingest/chunked.py`); the others are read whole."""
    month = folder.name
    big: dict[str, ChunkedFile] = {}

    def large(spec: contract.DeliveryFile, path: Path, entry: dict) -> None:
        staged = warehouse.staging_file(raw_table(spec.name), month)
        try:
            big[spec.name] = check_file_chunked(
                month, spec, path, entry["rows"], entry["sha256"], staged
            )
        except BaseException:
            staged.unlink(missing_ok=True)
            raise

    try:
        files = read_delivery(folder, large=large, limit=chunk_bytes())
        return _ingest(files, big, warehouse, accept_over_threshold)
    except BaseException:
        for c in big.values():
            c.staged.unlink(missing_ok=True)
        raise


def _ingest(
    files: DeliveryFiles,
    big: dict[str, ChunkedFile],
    warehouse: Warehouse,
    accept_over_threshold: bool,
) -> IngestedDelivery:
    month = files.month
    checked: dict[str, CheckedFile | ChunkedFile] = {}
    for spec in contract.FILES:
        if spec.name in files.frames:
            checked[spec.name] = check_rows(spec, month, files.frames.pop(spec.name))
        elif spec.name in big:
            checked[spec.name] = big[spec.name]
    over = {n: (c.rejected.height, c.delivered) for n, c in checked.items() if c.over_threshold}
    if over and not accept_over_threshold:
        raise DeliveryHeld(month, over)

    frames: dict[tuple[str, str], pl.DataFrame | Path] = {}
    heights: dict[str, int] = {}
    stats: dict[str, dict] = {}
    warnings = list(files.warnings)
    for spec in contract.FILES:
        c = checked.get(spec.name)
        table = raw_table(spec.name)
        if isinstance(c, ChunkedFile):  # validated chunk by chunk as it was written
            frames[(table, month)] = c.staged
            heights[table] = c.height
        else:
            rows = c.rows if c else pl.DataFrame(schema=raw_schema(spec))
            frames[(table, month)] = validate(rows, raw_table_schema(spec, month))
            heights[table] = rows.height
        if c is None:
            continue
        stats[spec.name] = {
            "leveret": c.delivered,
            "indlaest": heights[table],
            "afvist": c.rejected.height,
            "dubletter_sammenfaldet": c.exact_duplicates,
            "afvist_pr_aarsag": c.rejected_by_reason,
        }
        for col, values in c.unknown_values.items():
            shown = ", ".join(
                f"{masked(v, spec.filename, _line_of(c, col, v))} ({n} rækker)"
                for v, n in list(values.items())[:10]
            )
            more = f" og {len(values) - 10} flere" if len(values) > 10 else ""
            warnings.append(
                f"{spec.filename}: {len(values)} ukendte værdier i {col}: {shown}{more}"
            )
    rejected = [c.rejected for c in checked.values() if c.rejected.height]
    rejected_df = pl.concat(rejected) if rejected else pl.DataFrame(schema=REJECTED_SCHEMA)
    frames[(REJECTED_TABLE, month)] = validate(rejected_df, rejected_schema(month))
    heights[REJECTED_TABLE] = rejected_df.height

    history = {name: versions(warehouse, name) for name in ("visitation", "aktivitet", "samtale")}
    delivery_rows: dict[str, pl.DataFrame] = {}
    for spec in contract.FILES:
        c = checked.get(spec.name)
        if isinstance(c, ChunkedFile):
            if c.affected is not None:
                delivery_rows[spec.name] = c.affected
        elif c is not None:
            delivery_rows[spec.name] = c.rows
    dates = earliest_affected_dates(delivery_rows, history)
    return IngestedDelivery(
        month=month,
        content_hash=files.content_hash,
        frames=frames,
        affected_from=affected_from_month(min(dates.values(), default=None), month),
        affected_by_group=affected_by_group(dates, month),
        stats=stats,
        warnings=warnings,
        rejected_total=rejected_df.height,
        accepted_over_threshold=bool(over),
        heights=heights,
    )


def _line_of(c: CheckedFile | ChunkedFile, col: str, value: str) -> int | None:
    if isinstance(c, ChunkedFile):
        return c.first_lines.get((col, value))
    return _first_line(c.rows, col, value)


def _first_line(rows: pl.DataFrame, col: str, value: object) -> int | None:
    """The first line carrying an unknown value (pair columns: the line of the pair)."""
    if col in rows.columns:
        hit = rows.filter(pl.col(col) == value)["linje"]
    elif col.startswith("(") and " / " in str(value):
        g, k = str(value).split(" / ", 1)
        hit = rows.filter((pl.col("ydelsesgruppe") == g) & (pl.col("visitationskategori") == k))[
            "linje"
        ]
    else:
        return None
    return int(cast(int, hit.min())) if hit.len() else None
