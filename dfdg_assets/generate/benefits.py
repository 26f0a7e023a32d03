"""YR benefit payments (ydelse.csv): one row per citizen, ISO week and benefit, from 2020-01.

A week is delivered in the month of its Sunday. The weeks follow the spells (plus a few weeks
of payment after some spells end, and spells known only to YR); some weeks carry a
supplement as a second row, and about 1 % are re-sent in the next delivery with a new amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..ingest.contract import YR_FIRST_MONTH
from .common import (
    Period,
    Reference,
    compact,
    decimal_text,
    int_text,
    lookup,
    mix64,
    month_first_day,
    month_of,
    parse_month,
    rank_in_groups,
    weekday,
)
from .population import Population
from .spells import Spells, group_models
from .versions import ByDelivery, Chunk


@dataclass
class Weeks:
    monday: np.ndarray  # day of each week's Monday
    label: pl.Series  # YYYY-Www


@dataclass
class Benefits:
    weeks: Weeks
    names: list[str]
    rows: ByDelivery


def yr_weeks(period: Period) -> Weeks:
    """The weeks whose Sunday lies in a delivered month from 2020-01 on."""
    first_mi = max(period.first_mi, parse_month(YR_FIRST_MONTH))
    if first_mi > period.last_mi:
        return Weeks(np.zeros(0, dtype=np.int64), pl.Series([], dtype=pl.String))
    first = int(month_first_day(first_mi))
    first_sunday = first + (6 - int(weekday(first))) % 7
    last_sunday = period.end - (int(weekday(period.end)) + 1) % 7
    monday = np.arange(first_sunday - 6, last_sunday - 5, 7, dtype=np.int64)
    d = pl.Series(monday.astype(np.int32)).cast(pl.Date)
    label = pl.select(
        pl.format("{}-W{}", d.dt.iso_year(), d.dt.week().cast(pl.String).str.zfill(2))
    ).to_series()
    return Weeks(monday, label)


def yr_names(ref: Reference) -> list[str]:
    _, gm = group_models(ref)
    return list(dict.fromkeys([m.yr_name for m in gm] + [m.supplement for m in gm]))


def _refund(groups: Sequence[str], g: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The refund staircase by weeks `k` since the spell began (by group `g`)."""
    refusion = np.select([k < 4, k < 26, k < 52], [80.0, 40.0, 30.0], 20.0)
    gi = {name: i for i, name in enumerate(groups)}
    refusion = np.where(g == gi.get("Sygedagpenge", -1), np.where(k < 4, 100.0, 50.0), refusion)
    return np.where(
        np.isin(g, [gi.get("Fleksjob", -1), gi.get("Førtidspension", -1)]), 20.0, refusion
    )


def _weekly_rows(
    rng: np.random.Generator, ref: Reference, sp: Spells, weeks: Weeks
) -> dict[str, np.ndarray]:
    """One YR row per spell week (the spell's YR tail included): citizen, week, benefit, amount,
    refund percentage (nan: none)."""
    groups, gm = group_models(ref)
    names = yr_names(ref)
    w_count, w0 = len(weeks.monday), int(weeks.monday[0])
    s = np.flatnonzero(sp.yr)
    start, grp = sp.start[s], sp.group[s]
    stop = sp.end[s] + 7 * sp.yr_tail[s]  # exclusive
    i0 = np.clip((start - w0) // 7, 0, w_count)
    i1 = np.clip((stop - 1 - w0) // 7, -1, w_count - 1)
    count = np.maximum(i1 - i0 + 1, 0)
    r = np.repeat(np.arange(len(s)), count)
    week = i0[r] + rank_in_groups(count)
    mon = weeks.monday[week]
    g = grp[r]
    n = len(r)
    days = np.clip(np.minimum(mon + 7, stop[r]) - np.maximum(mon, start[r]), 1, 7)
    level = np.array([m.weekly for m in gm])[g] * (0.75 + 0.3 * rng.random(len(s)))[r]
    amount = np.round(level * days / 7 * (0.97 + 0.06 * rng.random(n)), 2)
    amount = np.where(rng.random(n) < 0.004, -np.round(100 + 1900 * rng.random(n), 2), amount)
    refusion = _refund(groups, g, (mon - (start[r] - weekday(start[r]))) // 7)
    refusion = np.where(rng.random(n) < 0.03, np.nan, refusion)
    name = np.array([names.index(m.yr_name) for m in gm])[g]
    rows = {"pid": sp.pid[s][r], "week": week, "name": name, "amount": amount}
    return {**rows, "refusion": refusion, "group": g}


def _with_supplements(
    rng: np.random.Generator, ref: Reference, rows: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Now and then a supplement with another benefit in the same week."""
    _, gm = group_models(ref)
    names = yr_names(ref)
    n = len(rows["pid"])
    sup = np.flatnonzero(rng.random(n) < 0.03)
    sup_name = np.array([names.index(m.supplement) for m in gm])[rows["group"][sup]]
    sup_amount = np.round(200 + 1300 * rng.random(len(sup)), 2)
    sup_ref = np.where(rng.random(len(sup)) < 0.5, 50.0, np.nan)
    return {
        "pid": np.concatenate([rows["pid"], rows["pid"][sup]]),
        "week": np.concatenate([rows["week"], rows["week"][sup]]),
        "name": np.concatenate([rows["name"], sup_name]),
        "amount": np.concatenate([rows["amount"], sup_amount]),
        "refusion": np.concatenate([rows["refusion"], sup_ref]),
    }


def build(
    rng: np.random.Generator,
    seed: int,
    ref: Reference,
    pop: Population,
    sp: Spells,
    period: Period,
    weeks: Weeks,
) -> Chunk:
    """The YR rows of a chunk of spells, drawn step by step (the order of the draws is part of
    the output: a seed gives the same deliveries)."""
    w_count = len(weeks.monday)
    if w_count == 0:
        empty = np.zeros(0, dtype=np.int64)
        cols = {k: empty for k in ("pid", "week", "name", "kom", "lev")}
        return Chunk({}, {**cols, "amount": empty, "refusion": empty})
    rows = _with_supplements(rng, ref, _weekly_rows(rng, ref, sp, weeks))
    pid, week, amount = rows["pid"], rows["week"], rows["amount"]
    kom = pop.kommune_at(pid, weeks.monday[week])
    lev = month_of(weeks.monday[week] + 6) - period.first_mi

    # re-sends: all rows of ~1 % of citizen-weeks again in the next delivery, amount changed
    h = mix64(
        pid.astype(np.uint64) * np.uint64(w_count + 1)
        + week.astype(np.uint64)
        + np.uint64(seed) * np.uint64(0x9E37)
    )
    again = np.flatnonzero(
        ((h >> np.uint64(11)).astype(np.float64) / 2.0**53 < 0.01) & (lev + 1 < period.n)
    )
    new_amount = np.round(amount[again] * (0.85 + 0.3 * rng.random(len(again))), 2)
    cols = {
        "pid": np.concatenate([pid, pid[again]]),
        "week": np.concatenate([week, week[again]]),
        "name": np.concatenate([rows["name"], rows["name"][again]]),
        "amount": np.concatenate([amount, new_amount]),
        "refusion": np.concatenate([rows["refusion"], rows["refusion"][again]]),
        "kom": np.concatenate([kom, kom[again]]),
    }
    cols["lev"] = np.concatenate([lev, lev[again] + 1])
    # kept as whole øre and percent (-1: null): a third of the memory of floats
    cols["amount"] = np.round(cols["amount"] * 100).astype(np.int64)
    cols["refusion"] = np.where(np.isnan(cols["refusion"]), -1, cols["refusion"]).astype(np.int64)
    return Chunk({}, {k: compact(v) for k, v in cols.items()})


def finish(merged: Chunk, ref: Reference, weeks: Weeks, n: int) -> Benefits:
    return Benefits(weeks, yr_names(ref), ByDelivery.of(merged, n))


def render(part: dict[str, np.ndarray], yr: Benefits, pop: Population) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "cpr": pop.cpr_text(part["pid"]),
            "kommunekode": int_text(part["kom"]),
            "uge": yr.weeks.label.gather(pl.Series(part["week"], dtype=pl.UInt32)),
            "beskaeftigelsesydelse": lookup(yr.names, part["name"]),
            "udbetalt_beloeb": decimal_text(part["amount"] / 100),
            "refusionsprocent": decimal_text(
                np.where(part["refusion"] < 0, np.nan, part["refusion"])
            ),
        }
    )
