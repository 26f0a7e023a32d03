"""Monthly partitions built again only when what they are built from changed.

A roll-out rebuilds every month a delivery affects, but some monthly tables depend on sources that
the new delivery does not touch for most of those months: `fct_befolkning_16_66` of month M reads
only the resident snapshot of M, `stg_ydelse` of M only the YR partitions carrying M's weeks. Such
a partition records, beside itself, the exact version of every source partition it was built from
(`warehouse/_grundlag/<table>/<month>.json`, with the partition version it describes). When the
record still matches both, the stored rows are the rows a build would give: `stg_ydelse` leaves
such a month's partition as it is (`kept`: the run's materialization carries its stored row
count), `fct_befolkning_16_66` (98 rows a month, checked per month) reads them instead of
computing them again; anything else (no record, a changed, new or deleted source, a table
partition written since) builds.

The record is written after the partition: a kill in between leaves a record naming the former
partition version, which means "build".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import polars as pl

from dfdg_assets.storage.warehouse import Warehouse, _write_json_atomic

STATE_DIR = "_grundlag"

Sources = Mapping[str, Sequence[str]]
"""Source table -> the partitions of it that a month is built from."""


def _version(wh: Warehouse, table: str, partition: str) -> str | None:
    v = wh.current_version(table, partition)
    return v.name if v is not None else None


def _record_file(wh: Warehouse, table: str, month: str):
    return wh.path / STATE_DIR / table / f"{month}.json"


def _state(wh: Warehouse, table: str, month: str, sources: Sources) -> dict:
    return {
        "tabel": _version(wh, table, month),
        "kilder": {
            s: {p: _version(wh, s, p) for p in sorted(ps)} for s, ps in sorted(sources.items())
        },
    }


def unchanged(wh: Warehouse, table: str, month: str, sources: Sources) -> bool:
    """True when the stored partition of `month` was built from exactly these source versions."""
    try:
        recorded = json.loads(_record_file(wh, table, month).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    now = _state(wh, table, month, sources)
    if now["tabel"] is None or any(v is None for ps in now["kilder"].values() for v in ps.values()):
        return False
    return recorded == now


def record(wh: Warehouse, table: str, month: str, sources: Sources) -> None:
    """Record that the current partition of `month` was built from the current `sources`."""
    f = _record_file(wh, table, month)
    f.parent.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(f, _state(wh, table, month, sources))


def kept(context, wh: Warehouse, table: str, months: Sequence[str]) -> None:
    """Months whose stored partition stands as built (not written again): their materialization
    in the run carries the stored row count and says so, and the run's log counts them."""
    from dfdg_assets.core.publishing import month_metadata

    for m in months:
        rows = pl.scan_parquet(wh.partition_file(table, m)).select(pl.len()).collect().item()
        month_metadata(context, m, {"dagster/row_count": rows, "uaendret": True})
    if months and context is not None:
        context.log.info(f"{len(months)} måneder uændrede siden sidst (ikke skrevet igen)")
