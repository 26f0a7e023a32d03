"""Reference implementation of R4 (visitation courses) + R5 (course weeks) in vectorized pandas.

For benchmarking and cross-checking the polars rules (`dfdg_assets.rules`): sort, compare
with the next row (shift), then repeat each course over its weeks (numpy repeat/arange).
Dates are handled as integer days since 1970-01-01 so 9999-12-31 needs no special type.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dfdg_assets.core.weeks import OPEN_END, week_frame
from dfdg_assets.rules.courses import COURSE_COLUMNS
from dfdg_assets.rules.weekindex import normalize_months

_OPEN_DAYS = (OPEN_END - pd.Timestamp(0).date()).days
OUT_COLUMNS = [
    "forloeb_id",
    "borger_key",
    "uge",
    "maaned",
    "kvartal",
    "aar",
    "kommunekode",
    "ydelsesgruppe",
    "visitationskategori",
    "visiterende_org_id",
]


def courses_pandas(visitations: pd.DataFrame) -> pd.DataFrame:
    """R4: one row per course; `startdato`/`slutdato` as int64 days since 1970-01-01."""
    v = visitations.copy()
    v["startdato"] = v["visitationstidspunkt"].to_numpy().astype("datetime64[D]").astype(np.int64)
    v = v.sort_values(["borger_key", "visitationstidspunkt", "visitation_id"], kind="stable")
    kept = v[~v.duplicated(["borger_key", "startdato"], keep="last")]
    borger = kept["borger_key"].to_numpy()
    start = kept["startdato"].to_numpy()
    same_next = np.zeros(len(kept), dtype=bool)
    same_next[:-1] = borger[:-1] == borger[1:]
    slut = np.full(len(kept), _OPEN_DAYS, dtype=np.int64)
    slut[:-1] = np.where(same_next[:-1], start[1:], _OPEN_DAYS)
    kept = kept.assign(slutdato=slut)
    kept = kept[kept["visitationskategori"].ne("Afmeldt") | kept["visitationskategori"].isna()]
    return kept.rename(columns={"visitation_id": "forloeb_id"})[COURSE_COLUMNS].reset_index(
        drop=True
    )


def course_weeks_pandas(visitations: pd.DataFrame, months: list[str]) -> pd.DataFrame:
    """R4 + R5 in pandas: one row per (course, ISO week of `months`), columns `OUT_COLUMNS`."""
    courses = courses_pandas(visitations)
    weeks = week_frame(normalize_months(months)).to_pandas()
    if weeks.empty:
        return pd.DataFrame({c: [] for c in OUT_COLUMNS})
    monday_days = weeks["uge_mandag"].to_numpy().astype("datetime64[D]").astype(np.int64)
    week_idx = (monday_days - 4) // 7
    lo, hi = int(week_idx.min()), int(week_idx.max())
    # position of a week index in `weeks` (-1: a gap between non-contiguous months)
    pos = np.full(hi - lo + 1, -1, dtype=np.int64)
    pos[week_idx - lo] = np.arange(len(weeks))

    first = np.maximum((courses["startdato"].to_numpy() - 4) // 7, lo)
    last = np.minimum((courses["slutdato"].to_numpy() - 1 - 4) // 7, hi)
    n = np.clip(last - first + 1, 0, None)
    rows = np.repeat(np.arange(len(courses)), n)
    # offset of each exploded row inside its course: 0, 1, ..., n-1
    starts = np.repeat(np.cumsum(n) - n, n)
    idx = np.repeat(first, n) + (np.arange(len(rows)) - starts)
    wpos = pos[idx - lo]
    keep = wpos >= 0
    rows, wpos = rows[keep], wpos[keep]

    out = courses.iloc[rows].reset_index(drop=True)
    wk = weeks.iloc[wpos].reset_index(drop=True)
    for col in ("uge", "maaned", "kvartal", "aar"):
        out[col] = wk[col].to_numpy()
    return out[OUT_COLUMNS]
