"""Record versions and the deliveries that carry them.

A record (visitation, activity, conversation) may be sent several times: registered, then
corrected or progressed. Each version gets a delivery index; a later version is never
delivered before an earlier one, and a delivery carries at most one version of a record
(the latest it knows), so that ids are unique within a file.

The model is built in chunks of citizens (bounded memory); `Chunk` is one chunk's records
and versions, `merge` joins the chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .common import compact, last_of_runs

_BIG = np.int64(1) << 24


def latest_per_delivery(
    rec: np.ndarray, ver: np.ndarray, lev: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indexes of the versions to deliver and their (monotone) delivery indexes.

    `rec` identifies the record, `ver` orders its versions, `lev` is each version's
    registration delivery (values >= n: after the last delivery).
    """
    order = np.lexsort((ver, rec))
    r = rec[order].astype(np.int64)
    lv = np.minimum(lev[order], n).astype(np.int64)
    # a version is delivered no earlier than the versions before it
    lv = np.maximum.accumulate(r * _BIG + lv) - r * _BIG
    keep = last_of_runs(r, lv) & (lv < n)
    return order[keep], lv[keep]


@dataclass
class Chunk:
    """Records (one row each) and their delivered versions (column `rec` points at a record)."""

    records: dict[str, np.ndarray] = field(default_factory=dict)
    versions: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        records: dict[str, np.ndarray],
        versions: dict[str, np.ndarray],
        ver: np.ndarray,
        lev: np.ndarray,
        n: int,
    ) -> Chunk:
        """Keep the versions that are delivered (see latest_per_delivery), compactly typed."""
        idx, lv = latest_per_delivery(versions["rec"], ver, lev, n)
        kept = {k: compact(v[idx]) for k, v in versions.items()}
        kept["lev"] = compact(lv)
        return cls({k: compact(v) for k, v in records.items()}, kept)


def merge(chunks: list[Chunk]) -> Chunk:
    sizes = [len(next(iter(c.records.values()))) if c.records else 0 for c in chunks]
    offsets = np.cumsum([0, *sizes[:-1]])
    records = {
        k: compact(np.concatenate([c.records[k] for c in chunks])) for k in chunks[0].records
    }
    versions = {}
    for k in chunks[0].versions:
        parts = [
            c.versions[k].astype(np.int64) + o if k == "rec" else c.versions[k]
            for c, o in zip(chunks, offsets, strict=True)
        ]
        versions[k] = compact(np.concatenate(parts))
    return Chunk(records, versions)


class ByDelivery:
    """Column arrays grouped by delivery index."""

    def __init__(self, lev: np.ndarray, n: int, **cols: np.ndarray) -> None:
        order = np.argsort(lev, kind="stable")
        self.cols = {k: np.asarray(v)[order] for k, v in cols.items()}
        self.bounds = np.searchsorted(lev[order], np.arange(n + 1))
        self.total = len(lev)

    @classmethod
    def of(cls, chunk: Chunk, n: int) -> ByDelivery:
        cols = dict(chunk.versions)
        return cls(cols.pop("lev"), n, **cols)

    def part(self, i: int) -> dict[str, np.ndarray]:
        a, b = self.bounds[i], self.bounds[i + 1]
        return {k: v[a:b] for k, v in self.cols.items()}
