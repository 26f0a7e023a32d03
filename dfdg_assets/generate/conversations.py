"""Conversations (samtale.csv) and their participants (samtale_deltager.csv).

Many conversations are booked ahead (sent as Planlagt) and sent again once held or cancelled;
every version carries its full participant list.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from .common import (
    choice_rows,
    date_text,
    force_coverage,
    int_text,
    lookup,
    number_by,
    prefixed,
    rank_in_groups,
    workday_back,
)
from .spells import Spells, group_models
from .versions import ByDelivery, Chunk
from .world import World

# conversation types by benefit group (relative weights; unlisted types get a small weight)
TYPE_WEIGHTS = {
    "A-dagpenge": {
        "Jobsamtale": 35,
        "Jobsamtale med a-kasse": 25,
        "Rådighedssamtale": 10,
        "CV samtale": 10,
        "Informationsmøde": 5,
        "Informationsmøde uden mødepligt": 4,
        "Opfølgningssamtale": 6,
    },
    "Sygedagpenge": {
        "Opfølgningssamtale": 60,
        "Samtale i rehabiliteringsteam": 5,
        "Jobsamtale": 10,
        "Henvisning": 5,
        "Informationsmøde": 8,
    },
    "Jobafklaringsforløb": {
        "Opfølgningssamtale": 40,
        "Samtale i rehabiliteringsteam": 25,
        "Jobsamtale": 20,
    },
    "Ressourceforløb": {
        "Opfølgningssamtale": 40,
        "Samtale i rehabiliteringsteam": 25,
        "Jobsamtale": 20,
    },
    "Revalidering": {
        "Opfølgningssamtale": 40,
        "Samtale i rehabiliteringsteam": 10,
        "Jobsamtale": 30,
    },
    "Ledighedsydelse": {
        "Fleksjobopfølgningssamtale": 50,
        "Jobsamtale": 30,
        "Opfølgningssamtale": 10,
    },
    "Fleksjob": {"Fleksjobopfølgningssamtale": 70, "Opfølgningssamtale": 10},
    "Førtidspension": {"Opfølgningssamtale": 50},
    "Selvforsørgelses- og hjemrejseydelse/overgangsydelse": {
        "Integrationssamtale": 35,
        "Jobsamtale": 30,
        "Opfølgningssamtale": 10,
        "Henvisning": 5,
    },
}
DEFAULT_TYPES = {
    "Jobsamtale": 50,
    "Opfølgningssamtale": 10,
    "Informationsmøde": 8,
    "Henvisning": 7,
    "CV samtale": 5,
    "Rådighedssamtale": 5,
    "Samtale i rehabiliteringsteam": 3,
}
AKASSE_TYPES = ("Jobsamtale med a-kasse", "Rådighedssamtale")
# contact forms before and after the 2020 lockdown (phone and video took over)
KONTAKT_FOER = {
    "Personlig kontakt": 62,
    "Telefon": 20,
    "Brev": 4,
    "Digitalt": 6,
    "Møde direkte på arbejde": 3,
    "Videokonference": 2,
    "Andet": 3,
}
KONTAKT_EFTER = {
    "Personlig kontakt": 30,
    "Telefon": 40,
    "Brev": 3,
    "Digitalt": 10,
    "Møde direkte på arbejde": 2,
    "Videokonference": 12,
    "Andet": 3,
}
LOCKDOWN = int(np.datetime64("2020-03-11", "D").astype(np.int64))
STATUS = {"Afholdt": 0.80, "Aflyst": 0.13, "Planlagt": 0.07}


def _weights(values: tuple[str, ...], table: Mapping[str, float], floor: float) -> np.ndarray:
    return np.array([table.get(v, floor) for v in values], dtype=float)


def _dates(
    rng: np.random.Generator, world: World, sp: Spells
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How many conversations each spell gets and when: (citizen, group, date) of each."""
    _, gm = group_models(world.ref)
    period = world.period
    s = np.flatnonzero(sp.dfdg)
    dur_eff = np.maximum(np.minimum(sp.end[s], period.end + 90) - sp.start[s], 1)
    every = np.array([m.conversation_days for m in gm])[sp.group[s]]
    count = 1 + np.minimum(rng.poisson(dur_eff / every), 30)
    c_sp = s[np.repeat(np.arange(len(s)), count)]
    r = rank_in_groups(count)
    n = len(c_sp)
    pid, group, start = sp.pid[c_sp], sp.group[c_sp], sp.start[c_sp]
    off = np.where(
        r == 0, rng.integers(0, 15, n), (rng.random(n) * np.repeat(dur_eff, count)).astype(np.int64)
    )
    return pid, group, np.maximum(workday_back(start + off), start)


def _kinds(
    rng: np.random.Generator, world: World, group: np.ndarray, date: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The type (by the group), the contact form (before or after the lockdown) and the final
    status of each conversation, every value present in the period."""
    lists, period = world.ref.lists, world.period
    groups, _ = group_models(world.ref)
    types, forms, statuses = lists["samtaletype"], lists["kontaktform"], lists["samtalestatus"]
    n = len(date)
    tw = np.stack([_weights(types, TYPE_WEIGHTS.get(g, DEFAULT_TYPES), 1.0) for g in groups])
    typ = choice_rows(rng, tw, group)
    kw = np.stack([_weights(forms, KONTAKT_FOER, 1.0), _weights(forms, KONTAKT_EFTER, 1.0)])
    kontakt = choice_rows(rng, kw, (date >= LOCKDOWN).astype(np.int64))
    sw = _weights(statuses, STATUS, 0.05)
    final = rng.choice(len(statuses), size=n, p=sw / sw.sum())
    ok = (date < period.end - 30) & (date >= period.hist_start)
    force_coverage(rng, typ, len(types), eligible=ok)
    force_coverage(rng, kontakt, len(forms), eligible=ok)
    force_coverage(rng, final, len(statuses), eligible=ok)
    return typ, kontakt, final


def _calling_org(
    rng: np.random.Generator, world: World, pid: np.ndarray, kom: np.ndarray, typ: np.ndarray
) -> np.ndarray:
    """The calling organisation: the jobcenter, the A-kasse for its own types, now and then
    another actor or none."""
    orgs, pop, n = world.orgs, world.pop, len(pid)
    types = world.ref.lists["samtaletype"]
    org = orgs.jc_of(kom)
    ak_types = np.array([types.index(t) for t in AKASSE_TYPES if t in types])
    by_akasse = np.isin(typ, ak_types)
    org = np.where(by_akasse, orgs.akasser[pop.akasse[pid]], org)
    u = rng.random(n)
    return np.where(
        u < 0.05, -1, np.where(u < 0.07, orgs.aktoerer[rng.integers(0, len(orgs.aktoerer), n)], org)
    )


def _participants(rng: np.random.Generator, d: int, n: int) -> dict[str, np.ndarray]:
    """Participants: 0-3 distinct types (of `d`), fewer when booked now and then."""
    k = np.minimum(rng.choice(4, size=n, p=[0.55, 0.30, 0.10, 0.05]), d)
    t1 = rng.integers(0, d, n)
    a = 1 + rng.integers(0, max(d - 1, 1), n)
    b = 1 + rng.integers(0, max(d - 2, 1), n)
    b = b + (b >= a)
    k_booked = k - ((k > 0) & (rng.random(n) < 0.3))
    return {"k": k, "k_booked": k_booked, "d0": t1, "d1": (t1 + a) % d, "d2": (t1 + b) % d}


def build(rng: np.random.Generator, world: World, sp: Spells) -> Chunk:
    """The conversations of a chunk of spells, drawn step by step (the order of the draws is
    part of the output: a seed gives the same deliveries)."""
    lists, period = world.ref.lists, world.period
    forms, statuses = lists["kontaktform"], lists["samtalestatus"]
    pid, group, date = _dates(rng, world, sp)
    n = len(pid)
    typ, kontakt, final = _kinds(rng, world, group, date)
    kom = world.pop.kommune_at(pid, date)
    org = _calling_org(rng, world, pid, kom, typ)
    participants = _participants(rng, len(lists["deltagertype"]), n)
    records = {"pid": pid, "kom": kom, "date": date, "type": typ, "org": org, **participants}

    # versions: 0 booked (Planlagt), 1 held/cancelled, 2 correction of the contact form
    planlagt = statuses.index("Planlagt") if "Planlagt" in statuses else -1
    booked = (rng.random(n) < 0.45) | (final == planlagt)
    v0 = np.flatnonzero(booked)
    v1 = np.flatnonzero(final != planlagt)
    lag = np.where(rng.random(n) < 0.03, rng.integers(1, 4, n), 0)
    lev0 = period.lev(date[v0] - rng.integers(1, 36, len(v0)))
    lev1 = period.lev(date[v1] + rng.integers(0, 4, len(v1)), lag[v1])
    v2 = v1[rng.random(len(v1)) < 0.01]
    lev2 = period.lev(date[v2], lag[v2]) + rng.integers(1, 4, len(v2))
    k2 = (kontakt[v2] + 1 + rng.integers(0, max(len(forms) - 1, 1), len(v2))) % len(forms)
    cols = {
        "rec": np.concatenate([v0, v1, v2]),
        "status": np.concatenate([np.full(len(v0), planlagt), final[v1], final[v2]]),
        "kontakt": np.concatenate([kontakt[v0], kontakt[v1], k2]),
        "booked": np.concatenate([np.ones(len(v0), bool), np.zeros(len(v1) + len(v2), bool)]),
    }
    ver = np.concatenate([np.zeros(len(v0)), np.ones(len(v1)), np.full(len(v2), 2)]).astype(
        np.int64
    )
    return Chunk.of(records, cols, ver, np.concatenate([lev0, lev1, lev2]), period.n)


def finish(merged: Chunk, n: int) -> tuple[dict[str, np.ndarray], ByDelivery]:
    """Number the conversations by date and group the versions by delivery."""
    r = dict(merged.records)
    r["num"] = number_by(r["pid"], r["date"])
    return r, ByDelivery.of(merged, n)


def render(
    part: dict[str, np.ndarray], conv: dict[str, np.ndarray], world: World
) -> tuple[pl.DataFrame, pl.DataFrame]:
    ref, pop, orgs = world.ref, world.pop, world.orgs
    lists = ref.lists
    c = part["rec"]
    ids = prefixed("S", conv["num"][c])
    samtale = pl.DataFrame(
        {
            "samtale_id": ids,
            "cpr": pop.cpr_text(conv["pid"][c]),
            "kommunekode": int_text(conv["kom"][c]),
            "samtaledato": date_text(conv["date"][c]),
            "samtaletype": lookup(lists["samtaletype"], conv["type"][c]),
            "kontaktform": lookup(lists["kontaktform"], part["kontakt"]),
            "samtalestatus": lookup(lists["samtalestatus"], part["status"]),
            "indkaldende_org_id": lookup(orgs.org_id, conv["org"][c]),
        }
    )
    k = np.where(part["booked"], conv["k_booked"][c], conv["k"][c])
    row = np.repeat(np.arange(len(c)), k)
    rank = rank_in_groups(k)
    cr = c[row]
    typ = np.select([rank == 0, rank == 1], [conv["d0"][cr], conv["d1"][cr]], conv["d2"][cr])
    deltager = pl.DataFrame(
        {
            "samtale_id": ids.gather(pl.Series(row, dtype=pl.UInt32)),
            "deltagertype": lookup(lists["deltagertype"], typ),
        }
    )
    return samtale, deltager
