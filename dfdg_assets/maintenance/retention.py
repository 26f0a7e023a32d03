"""Retention (R10): delete everything older than January of Y-3, keep what is still in force.

Y is the year of the newest loaded data month. Deleted: every monthly partition before the
cutoff in every table (with all its stored versions), the ledger entries and inbox folders of
those months, data packages reaching before the cutoff, and the rejected rows of pruned
deliveries. Kept: record versions from pruned deliveries that still matter inside the window
(courses in force at or after its first day, activities ending on or after it, conversations and
YR weeks dated in it) are carried to the `hist_<file>` tables, so no number inside the window
changes. Unpartitioned tables are rebuilt from what remains by the assets downstream.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dfdg_assets.core.weeks import monday_of_label, rollout_start
from dfdg_assets.ingest.contract import RECORD_KEYS
from dfdg_assets.ingest.rows import raw_schema
from dfdg_assets.raw.ingest import CARRIED, history_table, versions
from dfdg_assets.rules.courses import AFMELDT, kept_visitations
from dfdg_assets.staging.versions import latest_version
from dfdg_assets.storage import Warehouse

_MONTH = re.compile(r"^\d{4}-\d{2}$")
_KEYS = {name: list(key) for name, key in RECORD_KEYS.items()}


@dataclass
class PruneReport:
    cutoff: str
    files: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    inbox_folders: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    carried: dict[str, int] = field(default_factory=dict)

    @property
    def pruned_anything(self) -> bool:
        return bool(self.files or self.inbox_folders or self.exports)


def carried_versions(wh: Warehouse, cutoff: str) -> dict[str, pl.DataFrame]:
    """The current versions from deliveries before `cutoff` that still matter inside the window."""
    start = rollout_start(cutoff)  # the Monday of the first week belonging to the cutoff month
    out: dict[str, pl.DataFrame] = {}

    # visitations: a kept visitation whose course reaches into the window, or any dated in it
    vis = latest_version(versions(wh, "visitation"), _KEYS["visitation"])
    # the course chain needs a citizen key; the CPR number itself serves inside this function
    chain = (
        kept_visitations(vis.rename({"cpr": "borger_key"}))
        # an Afmeldt opens no course: before the window it has nothing left to end there
        .filter(pl.col("visitationskategori").ne_missing(AFMELDT))
        .select("visitation_id", "slutdato")
    )
    vis_all = vis.collect()
    chain_df = chain.collect()
    reaching = chain_df.filter(pl.col("slutdato") > pl.lit(start))["visitation_id"]
    out["visitation"] = vis_all.filter(
        (pl.col("data_maaned") < cutoff)
        & (
            pl.col("visitation_id").is_in(reaching.implode())
            | (pl.col("visitationstidspunkt").dt.date() >= start)
        )
    )

    act = latest_version(versions(wh, "aktivitet"), _KEYS["aktivitet"]).collect()
    out["aktivitet"] = act.filter(
        (pl.col("data_maaned") < cutoff)
        & (
            pl.col("slutdato").is_null()
            | (pl.col("slutdato") >= start)
            | (pl.col("startdato") >= start)
        )
    )

    sam = latest_version(versions(wh, "samtale"), _KEYS["samtale"]).collect()
    out["samtale"] = sam.filter((pl.col("data_maaned") < cutoff) & (pl.col("samtaledato") >= start))
    carriers = out["samtale"].select("samtale_id", "data_maaned")
    out["samtale_deltager"] = (
        versions(wh, "samtale_deltager")
        .collect()
        .join(carriers, on=["samtale_id", "data_maaned"], how="semi")
    )

    yr = versions(wh, "ydelse").collect()
    if yr.height:
        mondays = {u: monday_of_label(u) for u in yr["uge"].unique().to_list()}
        in_window = [u for u, d in mondays.items() if d >= start]
        out["ydelse"] = yr.filter((pl.col("data_maaned") < cutoff) & pl.col("uge").is_in(in_window))
    else:
        out["ydelse"] = yr
    return {
        n: df.sort("data_maaned", "linje").select(list(raw_schema_of(n))) for n, df in out.items()
    }


def raw_schema_of(name: str) -> dict:
    from dfdg_assets.ingest import contract

    return raw_schema(contract.FILES_BY_NAME[name])


PRUNING = ".beskaering_igang"  # written first, removed last: a pruning under way (or interrupted)
COLLECT_VERSIONS = ".beskaering_ryd_versioner"  # pruned: the catalogue step deletes old versions


def _remove(path: Path) -> None:
    """Delete a folder or file under the data root without following a symlink out of it: a
    symlink is removed itself, never what it points to."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)  # rmtree unlinks symlinks inside, never follows them


def _old_inbox(inbox: Path, cutoff: str) -> list[str]:
    """The inbox's month folders (or links) before `cutoff`, sorted."""
    if not inbox.is_dir():
        return []
    return sorted(
        p.name
        for p in inbox.iterdir()
        if (p.is_dir() or p.is_symlink()) and _MONTH.match(p.name) and p.name < cutoff
    )


def _prune_tables(
    wh: Warehouse, old: dict[str, list[str]], cutoff: str, report: PruneReport
) -> None:
    """Carry the versions still in force forward into the history tables, then delete the old
    partitions of every table, counting files and rows in `report`."""
    carried = carried_versions(wh, cutoff)
    wh.write_many({(history_table(n), "alle"): df for n, df in carried.items() if n in CARRIED})
    report.carried = {n: df.height for n, df in carried.items()}
    for table, parts in sorted(old.items()):
        rows = wh.scan(table, parts).select(pl.len()).collect().item()
        for p in parts:
            wh.delete(table, p)
            report.files += 1
        report.rows[table] = rows


def _package_start(pkg: Path) -> str | None:
    """The first month a data package covers: from its manifest, else from its folder name."""
    manifest = pkg / "manifest.json"
    fra = None
    if manifest.is_file():
        try:
            fra = json.loads(manifest.read_text(encoding="utf-8")).get("period", {}).get("fra")
        except (OSError, ValueError, AttributeError):
            fra = None
    if fra is None:
        m = re.search(r"_(\d{4}-\d{2})_\d{4}-\d{2}$", pkg.name)
        fra = m.group(1) if m else None
    return fra


def _prune_exports(exports: Path, cutoff: str, report: PruneReport) -> None:
    """Remove the data packages (and links to them) starting before `cutoff`, and the temp
    folders of exports that never finished."""
    if not exports.is_dir():
        return
    for pkg in sorted(exports.iterdir()):
        fra = _package_start(pkg)
        if pkg.is_symlink():
            if fra and fra < cutoff:
                pkg.unlink()
                report.exports.append(pkg.name)
            continue
        if pkg.is_dir() and pkg.name.startswith("."):
            shutil.rmtree(pkg)  # a temp folder of an export that never finished
            continue
        if pkg.is_dir() and fra and fra < cutoff:
            shutil.rmtree(pkg)
            report.exports.append(pkg.name)


def prune(wh: Warehouse, inbox: Path, exports: Path, newest: str, cutoff: str) -> PruneReport:
    """Delete everything before `cutoff` (R10), all or nothing: the marker `PRUNING` is written
    first, then the data (tables, inbox folders, data packages), the bookkeeping (ledger entries)
    last, and the marker removed. A failure or kill half-way leaves the marker and the ledger
    entries; the next run prunes again and completes. Idempotent."""
    report = PruneReport(cutoff)
    marker = wh.path / PRUNING
    old = {t: [p for p in wh.partitions(t) if _MONTH.match(p) and p < cutoff] for t in wh.tables()}
    old = {t: ps for t, ps in old.items() if ps}
    old_inbox = _old_inbox(inbox, cutoff)
    old_ledger = sorted(
        f
        for f in (wh.path / "_leveringer").glob("*.json")
        if _MONTH.match(f.stem) and f.stem < cutoff
    )
    if old or old_inbox or old_ledger:
        wh.path.mkdir(parents=True, exist_ok=True)
        marker.write_text(cutoff, encoding="utf-8")
    if old:
        _prune_tables(wh, old, cutoff, report)
    for month in old_inbox:
        _remove(inbox / month)
        report.inbox_folders.append(month)
    _prune_exports(exports, cutoff, report)
    # bookkeeping last: with the data gone, the ledger entries of the pruned months go too
    for f in old_ledger:
        f.unlink(missing_ok=True)
    if report.pruned_anything or old_ledger:
        (wh.path / COLLECT_VERSIONS).write_text(cutoff, encoding="utf-8")
    marker.unlink(missing_ok=True)
    return report
