"""Visitations (visitation.csv): the category records of each spell."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .common import (
    Reference,
    int_text,
    lookup,
    number_by,
    prefixed,
    rank_in_groups,
    segment_cumsum,
    timestamp_text,
    workday_back,
    workday_forward,
)
from .spells import Spells, group_models
from .versions import ByDelivery, Chunk
from .world import World

IKKE_VISITERET = "Ikke visiteret"
AFMELDT = "Afmeldt"
FIRST, IV_FOLLOW, CHANGE, AFMELD = 0, 1, 2, 3


def categories(ref: Reference) -> tuple[list[str], np.ndarray, np.ndarray]:
    """All category names, a (group x slot) table of category indexes, and slots per group."""
    groups = ref.lists["ydelsesgruppe"]
    names: list[str] = []
    for g in groups:
        for c in ref.kategorier.get(g, ()):
            if c not in names:
                names.append(c)
    for c in (*ref.generelle, IKKE_VISITERET, AFMELDT):
        if c not in names:
            names.append(c)
    width = max([len(ref.kategorier.get(g, ())) for g in groups] + [1])
    table = np.zeros((len(groups), width), dtype=np.int64)
    n_g = np.zeros(len(groups), dtype=np.int64)
    for i, g in enumerate(groups):
        own = ref.kategorier.get(g, ())
        n_g[i] = len(own)
        for j, c in enumerate(own):
            table[i, j] = names.index(c)
    return names, table, n_g


@dataclass(frozen=True)
class _Spells:
    """The DFDG spells of a chunk (`s`: their positions) and what the visitations need of them."""

    s: np.ndarray
    start: np.ndarray
    end: np.ndarray
    grp: np.ndarray
    n_g: np.ndarray  # the categories of the spell's group
    has_iv: np.ndarray  # starts with Ikke visiteret
    dur: np.ndarray
    dur_eff: np.ndarray  # the duration within the period (and 90 days after)


def _events(
    rng: np.random.Generator, sp: Spells, world: World, n_per_group: np.ndarray
) -> tuple[_Spells, np.ndarray, np.ndarray, np.ndarray]:
    """The spells and one event per visitation: (spells, spell of each event, kind, day), in
    the order of spell, day and kind."""
    _, models = group_models(world.ref)
    s = np.flatnonzero(sp.dfdg)
    start, end, grp = sp.start[s], sp.end[s], sp.group[s]
    dur = end - start
    dur_eff = np.maximum(np.minimum(end, world.period.end + 90) - start, 1)
    n_g = n_per_group[grp]
    revisit = np.array([m.revisit_days for m in models])[grp]
    n_chg = np.minimum(rng.poisson(dur_eff / revisit), 8)
    has_iv = (rng.random(len(s)) < 0.04) & (n_g > 0) & (dur > 5)
    has_af = sp.afmeldt[s]
    count = 1 + has_iv + n_chg + has_af
    e = np.repeat(np.arange(len(s)), count)
    r = rank_in_groups(count)
    kind = np.full(len(e), CHANGE)
    kind[r == 0] = FIRST
    kind[has_iv[e] & (r == 1)] = IV_FOLLOW
    kind[has_af[e] & (r == count[e] - 1)] = AFMELD
    u = rng.random(len(e))
    offset = np.select(
        [kind == FIRST, kind == IV_FOLLOW, kind == AFMELD],
        [0, np.minimum(3 + (u * 18).astype(np.int64), dur[e] - 1), dur[e]],
        1 + (u * np.maximum(np.minimum(dur_eff[e], dur[e]) - 1, 1)).astype(np.int64),
    )
    day = start[e] + offset
    day = np.where(
        (kind == CHANGE) | (kind == IV_FOLLOW), np.maximum(workday_back(day), start[e]), day
    )
    order = np.lexsort((kind, day, e))
    spells = _Spells(s, start, end, grp, n_g, has_iv, dur, dur_eff)
    return spells, e[order], kind[order], day[order]


def _walk(
    rng: np.random.Generator,
    v: _Spells,
    e: np.ndarray,
    kind: np.ndarray,
    table: np.ndarray,
    iv: int,
    af: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Categories: a walk through the group's categories, each change to another one; the
    (category, place in the group's list, second of the day) of each event."""
    ng = v.n_g[e]
    c0 = (rng.random(len(e)) * np.maximum(ng, 1)).astype(np.int64)
    step = 1 + (rng.random(len(e)) * np.maximum(ng - 1, 0)).astype(np.int64)
    inc = np.where(kind == FIRST, c0, np.where(ng > 1, step, 0))
    local = segment_cumsum(inc, e) % np.maximum(ng, 1)
    cat = table[v.grp[e], local]
    cat = np.where(ng == 0, iv, cat)
    cat = np.where((kind == FIRST) & v.has_iv[e], iv, cat)
    cat = np.where(kind == AFMELD, af, cat)
    sec = 8 * 3600 + rng.integers(0, 465, len(e)) * 60
    sec = sec + np.where(rng.random(len(e)) < 0.1, rng.integers(0, 60, len(e)), 0)
    return cat, local, sec


def _same_day(
    rng: np.random.Generator,
    v: _Spells,
    e: np.ndarray,
    kind: np.ndarray,
    walk: tuple[np.ndarray, np.ndarray, np.ndarray],
    table: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same-day duplicates: a second visitation on the same date, usually at another time; the
    (event, second, category) of each."""
    cat, local, sec = walk
    ng = v.n_g[e]
    t = np.flatnonzero((kind != AFMELD) & (rng.random(len(e)) < 0.015))
    same_time = rng.random(len(t)) < 0.25
    shift = rng.integers(15, 181, len(t)) * 60 * np.where(rng.random(len(t)) < 0.5, -1, 1)
    t_sec = np.where(same_time, sec[t], np.clip(sec[t] + shift, 7 * 3600 + 1800, 16 * 3600 + 1800))
    t_sec = np.where(~same_time & (t_sec == sec[t]), t_sec + 60, t_sec)
    t_local = (
        local[t] + 1 + (rng.random(len(t)) * np.maximum(ng[t] - 1, 0)).astype(np.int64)
    ) % np.maximum(ng[t], 1)
    t_cat = np.where(ng[t] > 0, table[v.grp[e[t]], t_local], cat[t])
    return t, t_sec, t_cat


def _movers(
    rng: np.random.Generator, world: World, sp: Spells, v: _Spells, table: np.ndarray, iv: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Movers: the new municipality's jobcenter visits the citizen shortly after the move; the
    (spell, day, category, second) of each."""
    md = world.pop.move_day[sp.pid[v.s]]
    m_day = workday_forward(md + rng.integers(0, 15, len(v.s)))
    mv = np.flatnonzero((md > v.start) & (m_day < np.minimum(v.end, world.period.end + 90)))
    m_cat = np.where(
        v.n_g[mv] > 0,
        table[v.grp[mv], (rng.random(len(mv)) * np.maximum(v.n_g[mv], 1)).astype(np.int64)],
        iv,
    )
    m_sec = 8 * 3600 + rng.integers(0, 465, len(mv)) * 60
    return mv, m_day[mv], m_cat, m_sec


def _visiting_org(
    rng: np.random.Generator, world: World, group: np.ndarray, pid: np.ndarray, kom: np.ndarray
) -> np.ndarray:
    """The visiting organisation: the jobcenter; for A-dagpenge mostly the citizen's A-kasse."""
    orgs, n = world.orgs, len(pid)
    groups = world.ref.lists["ydelsesgruppe"]
    org = orgs.jc_of(kom)
    if "A-dagpenge" in groups:
        ak = (group == groups.index("A-dagpenge")) & (rng.random(n) < 0.7)
        org = np.where(ak, orgs.akasser[world.pop.akasse[pid]], org)
    return np.where(rng.random(n) < 0.04, -1, org)


def build(rng: np.random.Generator, world: World, sp: Spells) -> Chunk:
    """The visitations of a chunk of spells, drawn step by step (the order of the draws is part
    of the output: a seed gives the same deliveries)."""
    pop, period = world.pop, world.period
    names, table, n_per_group = categories(world.ref)
    iv, af = names.index(IKKE_VISITERET), names.index(AFMELDT)
    v, e, kind, day = _events(rng, sp, world, n_per_group)
    walk = _walk(rng, v, e, kind, table, iv, af)
    t, t_sec, t_cat = _same_day(rng, v, e, kind, walk, table)
    mv, m_day, m_cat, m_sec = _movers(rng, world, sp, v, table, iv)
    cat, _, sec = walk
    ev = np.concatenate([e, e[t], mv])
    day = np.concatenate([day, day[t], m_day])
    sec = np.concatenate([sec, t_sec, m_sec])
    cat = np.concatenate([cat, t_cat, m_cat])
    kind = np.concatenate([kind, kind[t], np.full(len(mv), CHANGE)])
    twin = np.zeros(len(e), dtype=bool)
    twin = np.concatenate([twin, np.ones(len(t), dtype=bool), np.zeros(len(mv), dtype=bool)])
    spell = v.s[ev]
    pid = sp.pid[spell]
    group = sp.group[spell]
    ts = day * 86400 + sec
    kom = pop.kommune_at(pid, day)
    n = len(ev)
    org = _visiting_org(rng, world, group, pid, kom)

    # delivery: the registration month; a few are registered 1-3 months late
    lag = np.where(rng.random(n) < 0.03, rng.integers(1, 4, n), 0)
    lev = period.lev(day, lag)

    # corrections: the same id re-sent 1-4 months later with another category or date
    c = np.flatnonzero((kind != AFMELD) & ~twin & (rng.random(n) < 0.01))
    ngc = n_per_group[group[c]]
    new_local = rng.integers(0, 1 << 30, len(c)) % np.maximum(ngc, 1)
    new_cat = table[group[c], new_local]
    by_cat = (ngc > 1) & (new_cat != cat[c]) & (rng.random(len(c)) < 0.6)
    c_day = workday_back(day[c] + rng.choice(np.array([-2, -1, 1, 2]), len(c)))
    c_ts = np.where(by_cat, ts[c], c_day * 86400 + sec[c])
    c_cat = np.where(by_cat, new_cat, cat[c])
    c_kom = np.where(by_cat, kom[c], pop.kommune_at(pid[c], c_day))

    records = {"pid": pid, "group": group, "org": org, "twin": twin, "ts0": ts}
    versions = {
        "rec": np.concatenate([np.arange(n), c]),
        "kom": np.concatenate([kom, c_kom]),
        "ts": np.concatenate([ts, c_ts]),
        "cat": np.concatenate([cat, c_cat]),
    }
    ver = np.concatenate([np.zeros(n, dtype=np.int64), np.ones(len(c), dtype=np.int64)])
    levs = np.concatenate([lev, lev[c] + rng.integers(1, 5, len(c))])
    return Chunk.of(records, versions, ver, levs, period.n)


def finish(merged: Chunk, n: int) -> tuple[dict[str, np.ndarray], ByDelivery]:
    """Number the visitations by time (ids grow with the registrations) and group by delivery."""
    r = merged.records
    num = number_by(r["twin"], r["pid"], r["ts0"])
    records = {"num": num, "pid": r["pid"], "group": r["group"], "org": r["org"]}
    return records, ByDelivery.of(merged, n)


def render(
    part: dict[str, np.ndarray], records: dict[str, np.ndarray], world: World
) -> pl.DataFrame:
    ref, pop, orgs = world.ref, world.pop, world.orgs
    names, _, _ = categories(ref)
    r = part["rec"]
    return pl.DataFrame(
        {
            "visitation_id": prefixed("V", records["num"][r]),
            "cpr": pop.cpr_text(records["pid"][r]),
            "kommunekode": int_text(part["kom"]),
            "visitationstidspunkt": timestamp_text(part["ts"]),
            "ydelsesgruppe": lookup(ref.lists["ydelsesgruppe"], records["group"][r]),
            "visitationskategori": lookup(names, part["cat"]),
            "visiterende_org_id": lookup(orgs.org_id, records["org"][r]),
        }
    )
