"""Incremental builds: what an unpartitioned derived table was built from.

A derived table that spans every delivery (the staging tables, `dim_borger`) records, beside
itself, the exact version of every source partition it was built from
(`warehouse/_grundlag/<table>.json`). The next build merges only the new months when nothing it
was built from changed and every new month is newer than all of them: the monthly case, whose
cost then grows with the month and not with the history. Anything else (a corrected or late
month, a re-ingest, retention deleting months or carrying versions to `hist_*`) rebuilds from all
history, exactly as a first build would.

The record names the table version it describes (every stored part of it: `alle`, or the
segments of a staging table). It is written after the table: a kill in between leaves a record
that no longer matches the table, which means "rebuild".
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from dfdg_assets.storage.warehouse import Warehouse, _write_json_atomic

STATE_DIR = "_grundlag"


def source_versions(wh: Warehouse, sources: Sequence[str]) -> dict[str, dict[str, str]]:
    """Per source table: partition -> the name of its current immutable version."""
    return {s: table_versions(wh, s) for s in sources if wh.table_dir(s).is_dir()}


def table_versions(wh: Warehouse, table: str) -> dict[str, str]:
    """Every stored part of `table` -> the name of its current immutable version."""
    # an unversioned part never matches
    return {p: v.name if v else f"?{p}" for p, v in wh.current_versions(table).items()}


def new_months(wh: Warehouse, table: str, sources: Sequence[str]) -> list[str] | None:
    """The source months to merge into `table`, or None when it must be rebuilt from all
    history (no record, the table changed since, a source partition changed or disappeared,
    or a new month is not newer than every month it was built from)."""
    f = wh.path / STATE_DIR / f"{table}.json"
    try:
        state = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if state.get("tabel") != table_versions(wh, table):
        return None
    before: dict[str, dict[str, str]] = state.get("kilder", {})
    now = source_versions(wh, sources)
    months: set[str] = set()
    for s in sources:
        old, cur = before.get(s, {}), now.get(s, {})
        if any(cur.get(p) != v for p, v in old.items()):
            return None
        added = [p for p in cur if p not in old]
        if any(not p[:1].isdigit() for p in added):
            return None  # an unpartitioned source appeared (versions carried by retention)
        if added and old and min(added) <= max(old):
            return None
        months.update(added)
    return sorted(months)


def record_sources(wh: Warehouse, table: str, sources: dict[str, dict[str, str]]) -> None:
    """Record that the current version of `table` was built from `sources`."""
    d = wh.path / STATE_DIR
    d.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(d / f"{table}.json", {"tabel": table_versions(wh, table), "kilder": sources})
