"""Record versions and the deliveries that carry them.

A record (visitation, activity, conversation) may be sent several times: registered, then
corrected or progressed. Each version gets a delivery index; a later version is never
delivered before an earlier one, and a delivery carries at most one version of a record
(the latest it knows), so that ids are unique within a file.
"""

from __future__ import annotations

import numpy as np

from .common import last_of_runs

_BIG = np.int64(1) << 24


def latest_per_delivery(rec: np.ndarray, ver: np.ndarray, lev: np.ndarray,
                        n: int) -> tuple[np.ndarray, np.ndarray]:
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


class ByDelivery:
    """Column arrays grouped by delivery index."""

    def __init__(self, lev: np.ndarray, n: int, **cols: np.ndarray) -> None:
        order = np.argsort(lev, kind="stable")
        self.cols = {k: np.asarray(v)[order] for k, v in cols.items()}
        self.bounds = np.searchsorted(lev[order], np.arange(n + 1))
        self.total = len(lev)

    def part(self, i: int) -> dict[str, np.ndarray]:
        a, b = self.bounds[i], self.bounds[i + 1]
        return {k: v[a:b] for k, v in self.cols.items()}
