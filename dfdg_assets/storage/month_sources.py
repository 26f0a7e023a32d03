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

A table built from a part of a source that is rewritten on every roll-out records a digest of
that part as well (`content`): `fct_borger_ydelse_uge` of M reads, of the month's weekly facts,
only which citizens are in which week, and most months of a refresh keep exactly the same
citizen-weeks although their activity rows changed. Such a month is kept when the digest it was
built from equals the digest now (`recorded_content`).

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


def _state(
    wh: Warehouse, table: str, month: str, sources: Sources, content: str | None = None
) -> dict:
    state: dict = {
        "tabel": _version(wh, table, month),
        "kilder": {
            s: {p: _version(wh, s, p) for p in sorted(ps)} for s, ps in sorted(sources.items())
        },
    }
    if content is not None:
        state["indhold"] = content
    return state


def _recorded(wh: Warehouse, table: str, month: str, sources: Sources) -> dict | None:
    """The month's record when the stored partition and every source are the versions it names."""
    try:
        recorded = json.loads(_record_file(wh, table, month).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict):
        return None
    now = _state(wh, table, month, sources)
    if now["tabel"] is None or any(v is None for ps in now["kilder"].values() for v in ps.values()):
        return None
    same = recorded.get("tabel") == now["tabel"] and recorded.get("kilder") == now["kilder"]
    return recorded if same else None


def unchanged(
    wh: Warehouse, table: str, month: str, sources: Sources, content: str | None = None
) -> bool:
    """True when the stored partition of `month` was built from exactly these source versions
    (and, when given, from content with this digest)."""
    recorded = _recorded(wh, table, month, sources)
    return recorded is not None and recorded.get("indhold") == content


def recorded_content(wh: Warehouse, table: str, month: str, sources: Sources) -> str | None:
    """The content digest the stored partition of `month` was built from, when it and these
    sources are still the versions its record names (None: build)."""
    recorded = _recorded(wh, table, month, sources)
    content = recorded.get("indhold") if recorded else None
    return content if isinstance(content, str) else None


def record(
    wh: Warehouse, table: str, month: str, sources: Sources, content: str | None = None
) -> None:
    """Record that the current partition of `month` was built from the current `sources` (and
    from content with the digest `content`)."""
    f = _record_file(wh, table, month)
    f.parent.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(f, _state(wh, table, month, sources, content))


def kept(context, wh: Warehouse, table: str, months: Sequence[str]) -> None:
    """Months whose stored partition stands as built (not written again): their materialization
    in the run carries the stored row count and says so, and the run's log counts them."""
    from dfdg_assets.core.publishing import month_metadata

    for m in months:
        rows = pl.scan_parquet(wh.partition_file(table, m)).select(pl.len()).collect().item()
        month_metadata(context, m, {"dagster/row_count": rows, "uaendret": True})
    if months and context is not None:
        context.log.info(f"{len(months)} måneder uændrede siden sidst (ikke skrevet igen)")
