"""Writing one delivery folder: the CSV files in the contract's format, then manifest.json."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from ..ingest.contract import FILES, MANIFEST, SEPARATOR

# Sort order of each file: the record's citizen, time and id. Ties (only injected duplicates)
# keep their (deterministic) order.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "visitation": ("cpr", "visitationstidspunkt", "visitation_id"),
    "aktivitet": ("cpr", "startdato", "aktivitet_id"),
    "samtale": ("cpr", "samtaledato", "samtale_id"),
    "samtale_deltager": ("samtale_id", "deltagertype"),
    "ydelse": ("cpr", "uge", "beskaeftigelsesydelse"),
    "borger": ("cpr",),
    "organisation": ("org_id",),
    "uddannelse": ("uddannelseskode", "uddannelseskodetype"),
}


def csv_bytes(df: pl.DataFrame, name: str, presorted: bool = False) -> bytes:
    spec = next(f for f in FILES if f.name == name)
    cols = spec.column_names
    df = df.select(pl.col(c).cast(pl.String) for c in cols)
    if not presorted and df.height:
        df = df.sort(list(SORT_KEYS[name]), nulls_last=True, maintain_order=True)
    buf = io.BytesIO()
    df.write_csv(
        buf,
        separator=SEPARATOR,
        null_value="",
        line_terminator="\n",
        quote_char='"',
        quote_style="necessary",
        include_header=True,
    )
    return buf.getvalue()


def write_delivery(
    folder: Path,
    month: str,
    frames: Mapping[str, pl.DataFrame],
    presorted: frozenset[str] = frozenset(),
) -> tuple[dict[str, int], int]:
    """Write the month's files and manifest; returns rows per file and bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST
    # without a manifest the folder is incomplete, so a re-run never leaves a stale one valid
    manifest_path.unlink(missing_ok=True)
    listed: dict[str, dict[str, object]] = {}
    rows: dict[str, int] = {}
    total = 0
    for spec in FILES:
        if not spec.required_in(month):
            continue
        df = frames[spec.name]
        data = csv_bytes(df, spec.name, presorted=spec.name in presorted)
        (folder / spec.filename).write_bytes(data)
        listed[spec.filename] = {"rows": df.height, "sha256": hashlib.sha256(data).hexdigest()}
        rows[spec.name] = df.height
        total += len(data)
    text = json.dumps(
        {"data_month": month, "files": listed}, separators=(",", ":"), ensure_ascii=False
    )
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, manifest_path)
    return rows, total + len(text.encode("utf-8"))
