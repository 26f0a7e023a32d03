"""Activities (aktivitet.csv): offers within the spells, with status progression.

An activity is typically sent when planned (Planlagt/Henvist, no end date), again when it
starts (Optaget) and once more when it ends (final status, slutdato filled in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .catalogs import Courses
from .common import (
    NEVER,
    Period,
    choice_idx,
    date_text,
    decimal_text,
    force_coverage,
    int_text,
    lookup,
    monday_of,
    nullable_date_text,
    number_by,
    prefixed,
    weekday,
    workday_back,
    workday_forward,
)
from .spells import Spells, group_models
from .versions import ByDelivery, Chunk
from .world import World


@dataclass(frozen=True)
class TypeModel:
    weight: float
    min_days: int
    max_days: int
    hours: tuple[float, float] | None  # typical hours a week
    job: bool  # a job-like offer: jobtype and statsligt_job are filled in
    p_aktoer: float  # share with another organisation as the activating one


TYPE_MODELS = {
    "Vejledning og opkvalificering": TypeModel(0.35, 5, 84, (10, 37), False, 0.75),
    "Virksomhedspraktik": TypeModel(0.25, 28, 91, (15, 37), True, 0.3),
    "Ansættelse med løntilskud": TypeModel(0.12, 91, 365, (20, 37), True, 0.3),
    "Nytteindsats": TypeModel(0.05, 28, 91, (10, 25), True, 0.0),
    "Mentor": TypeModel(0.12, 28, 182, (2, 10), False, 0.6),
    "Hjælpemiddel": TypeModel(0.04, 1, 182, None, False, 0.0),
    "Personlig assistance": TypeModel(0.03, 91, 365, (5, 20), False, 0.0),
    "Jobrotation": TypeModel(0.04, 91, 365, (30, 37), True, 0.3),
}
_DEFAULT = TypeModel(0.02, 14, 90, (10, 37), False, 0.3)

FINAL_STATUS = {
    "Gennemført": 0.52,
    "Afbrudt": 0.15,
    "Afsluttet": 0.14,
    "Ansat": 0.05,
    "Annulleret": 0.08,
    "Henvist": 0.03,
}
REASONS = {
    "Afbrudt": (
        "Overholdt ikke aktivitet",
        "Udeblevet fra Start/møde",
        "Afbrudt kursus",
        "Opsagt af ledig",
        "Opsagt af virksomheden",
        "Eksporteret",
        "Overgået til Ressourceforløb",
    ),
    "Annulleret": (
        "Fejloprettet",
        "Revision af plan",
        "Aflyst af jobcenter/AA/A-kasse/Kursusudbyder",
    ),
    "Afsluttet": ("Ikke ansat", "Ikke kontaktet/mødet arbejdsgiver", "Ønsker ikke jobbet"),
    "Henvist": ("Ikke ansat", "Ønsker ikke jobbet"),
}
JOBTYPES = {
    "Virksomhedspraktik": {"Virksomhedspraktik": 5, "Privat": 3, "Offentlig": 2},
    "Ansættelse med løntilskud": {
        "Privat": 4,
        "Offentlig": 3,
        "Stat": 1,
        "Almindeligt job": 1,
        "Voksenelev": 1,
    },
    "Jobrotation": {"Almindeligt job": 3, "Privat": 3, "Offentlig": 2, "Stat": 1},
    "Nytteindsats": {"Offentlig": 1},
}
HJ_TYPES = {
    "Undervisningsmateriale": ("It-udstyr ifm undervisning", "Undervisningsmateriale"),
    "Arbejdsredskaber": (
        "It-udstyr, software, programmer, apps mv. som arbejdsredskab",
        "Værktøj, udstyr, og andre arbejdsredskaber",
    ),
    "Arbejdspladsindretning": (
        "Tilgængelighedsløsninger som fx rampe, lift døråbner",
        "Arbejdspladsindretning i øvrigt",
    ),
}
AFREGNING = ("Ikke afregnet", "Delvist afregnet", "Afregnet")


def _idx(values: tuple[str, ...], name: str) -> int:
    return values.index(name) if name in values else -1


@dataclass
class _Offers:
    """The activities of a chunk being drawn: one entry per activity in each array."""

    pid: np.ndarray
    start: np.ndarray
    typ: np.ndarray
    sp_end: np.ndarray  # the end of the activity's spell

    @property
    def n(self) -> int:
        return len(self.pid)


def _offers(rng: np.random.Generator, world: World, sp: Spells, tm: list[TypeModel]) -> _Offers:
    """How many activities each spell gets, when they start, and their types."""
    period = world.period
    _, gm = group_models(world.ref)
    s = np.flatnonzero(sp.dfdg)
    dur_eff = np.maximum(np.minimum(sp.end[s], period.end + 90) - sp.start[s], 1)
    rate = np.array([m.activities_per_month for m in gm])[sp.group[s]]
    count = np.minimum(rng.poisson(rate * dur_eff / 30.4), 10)
    a_sp = s[np.repeat(np.arange(len(s)), count)]
    n = len(a_sp)
    sp_start = sp.start[a_sp]
    start = sp_start + (rng.random(n) * np.repeat(dur_eff, count)).astype(np.int64)
    start = np.where(rng.random(n) < 0.4, monday_of(start), workday_forward(start))
    start = np.maximum(start, period.hist_start)
    typ = choice_idx(rng, [m.weight for m in tm], n)
    force_coverage(rng, typ, len(tm), eligible=start < period.end - 120)
    return _Offers(sp.pid[a_sp], start, typ, sp.end[a_sp])


def _ends(
    rng: np.random.Generator, o: _Offers, tm: list[TypeModel]
) -> tuple[np.ndarray, np.ndarray]:
    """The planned end (by the type's length) and the end (mostly within the spell)."""
    n = o.n
    lo = np.array([m.min_days for m in tm])[o.typ]
    hi = np.array([m.max_days for m in tm])[o.typ]
    planned_end = o.start + lo - 1 + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    inside = rng.random(n) < 0.85  # mostly within the spell
    end = np.where(
        inside & (planned_end >= o.sp_end), np.maximum(o.sp_end - 1, o.start), planned_end
    )
    monday_end = rng.random(n) < 0.15
    end = np.where(monday_end, end + (7 - weekday(end)) % 7, np.maximum(workday_back(end), o.start))
    return planned_end, end


@dataclass
class _Status:
    final: np.ndarray  # the final status
    is_job: np.ndarray
    cancelled: np.ndarray  # Annulleret or Henvist: ends on its start date
    end: np.ndarray  # NEVER for the activities never closed
    aarsag: np.ndarray  # the final status's reason, -1: none


def _status(
    rng: np.random.Generator,
    lists: dict,
    o: _Offers,
    end: np.ndarray,
    tm: list[TypeModel],
    period: Period,
) -> _Status:
    """The final status, whether it ever closes, and its reason."""
    n, start = o.n, o.start
    st = lists["aktivitetsstatus"]
    finals = [(_idx(st, k), w) for k, w in FINAL_STATUS.items() if _idx(st, k) >= 0]
    final = np.array([f for f, _ in finals])[choice_idx(rng, [w for _, w in finals], n)]
    is_job = np.array([m.job for m in tm])[o.typ]
    ansat, afsl = _idx(st, "Ansat"), _idx(st, "Afsluttet")
    final = np.where((final == ansat) & ~is_job, afsl, final)
    closed = end < period.end - 40
    force_coverage(
        rng, final, [f for f, _ in finals], eligible=closed & (start >= period.hist_start)
    )
    never_closed = rng.random(n) < 0.03
    final = np.where(never_closed, _idx(st, "Optaget"), final)
    cancelled = np.isin(final, [_idx(st, "Annulleret"), _idx(st, "Henvist")])
    end = np.where(cancelled, start, np.where(never_closed, NEVER, end))
    aa = lists["aktivitetsaarsag"]
    aarsag = np.full(n, -1)
    u = rng.random(n)
    for name, reasons in REASONS.items():
        codes = np.array([_idx(aa, r) for r in reasons if _idx(aa, r) >= 0])
        sel = (final == _idx(st, name)) & (rng.random(n) < (0.9 if name != "Henvist" else 0.5))
        if len(codes) and name in st:
            aarsag[sel] = codes[(u[sel] * len(codes)).astype(np.int64)]
    return _Status(final, is_job, cancelled, end, aarsag)


def _organisations(
    rng: np.random.Generator, world: World, o: _Offers, tm: list[TypeModel]
) -> dict[str, np.ndarray]:
    """The municipality, the responsible job centre and the activating organisation."""
    n, orgs, types = o.n, world.orgs, world.ref.lists["aktiveringstype"]
    kom = world.pop.kommune_at(o.pid, o.start)
    ansvarlig = orgs.jc_of(kom)
    p_aa = np.array([m.p_aktoer for m in tm])[o.typ]
    aktiverende = np.where(
        rng.random(n) < p_aa, orgs.aktoerer[rng.integers(0, len(orgs.aktoerer), n)], -1
    )
    nytte = o.typ == _idx(types, "Nytteindsats")
    aktiverende = np.where(nytte & (rng.random(n) < 0.6), orgs.kommune_of(kom), aktiverende)
    gone = (aktiverende >= 0) & (rng.random(n) < 0.01)  # providers missing from the snapshot
    aktiverende = np.where(
        gone, orgs.manglende[rng.integers(0, len(orgs.manglende), n)], aktiverende
    )
    return {"kom": kom, "ansvarlig": ansvarlig, "aktiverende": aktiverende}


def _jobs(rng: np.random.Generator, lists: dict, o: _Offers) -> dict[str, np.ndarray]:
    """The pool of the guidance offers, the job type and state job of the job-like offers."""
    n, typ, types = o.n, o.typ, lists["aktiveringstype"]
    vejl = typ == _idx(types, "Vejledning og opkvalificering")
    pu = lists["aktiveringspuljenavn"]
    pulje = np.where(rng.random(n) < np.where(vejl, 0.7, 0.1), rng.integers(0, len(pu), n), -1)
    jt = lists["jobtype"]
    jobtype = np.full(n, -1)
    for tname, weights in JOBTYPES.items():
        sel = typ == _idx(types, tname)
        opts = [(_idx(jt, k), w) for k, w in weights.items() if _idx(jt, k) >= 0]
        if sel.any() and opts:
            jobtype[sel] = np.array([o for o, _ in opts])[
                choice_idx(rng, [w for _, w in opts], int(sel.sum()))
            ]
    sj = lists["statsligt_job"]
    statsligt = np.where(
        jobtype >= 0, np.where(jobtype == _idx(jt, "Stat"), _idx(sj, "Ja"), _idx(sj, "Nej")), -1
    )
    return {"pulje": pulje, "jobtype": jobtype, "statsligt": statsligt}


def _courses(rng: np.random.Generator, courses: Courses, vejl: np.ndarray) -> dict[str, np.ndarray]:
    """Courses of the guidance offers: AMU or DUN codes of the catalog, a few no longer listed."""
    n = len(vejl)
    is_dun = rng.random(n) < 0.35
    amu = np.flatnonzero((courses.kind == 0) & courses.listed)
    dun = np.flatnonzero((courses.kind == 1) & courses.listed)
    unlisted = np.flatnonzero(~courses.listed)
    course = np.where(is_dun, dun[rng.integers(0, len(dun), n)], amu[rng.integers(0, len(amu), n)])
    course = np.where(rng.random(n) < 0.02, unlisted[rng.integers(0, len(unlisted), n)], course)
    course = np.where(vejl, course, -1)
    kursus = vejl & (rng.random(n) < 0.8)
    return {"course": course, "kursus": kursus}


def _hours(rng: np.random.Generator, o: _Offers, tm: list[TypeModel]) -> np.ndarray:
    """Hours a week within the type's range, in halves, at most 37; now and then missing."""
    n = o.n
    hours = np.array([m.hours if m.hours else (np.nan, np.nan) for m in tm], dtype=float)[o.typ]
    timer = np.minimum(
        np.round((hours[:, 0] + rng.random(n) * (hours[:, 1] - hours[:, 0])) * 2) / 2, 37
    )
    return np.where(rng.random(n) < 0.08, np.nan, timer)


def _aids(
    rng: np.random.Generator, lists: dict, o: _Offers, is_job: np.ndarray
) -> dict[str, np.ndarray]:
    """Aids: the Hjælpemiddel offers, and now and then an aid attached to a job offer."""
    n = o.n
    hjm = (o.typ == _idx(lists["aktiveringstype"], "Hjælpemiddel")) | (
        is_job & (rng.random(n) < 0.03)
    )
    ha, ht = lists["hjaelpemiddel_art"], lists["hjaelpemiddel_type"]
    hj_art = np.where(hjm, rng.integers(0, len(ha), n), -1)
    hj_type = np.full(n, -1)
    for i, art in enumerate(ha):
        hj_opts = np.array([_idx(ht, t) for t in HJ_TYPES.get(art, ht) if _idx(ht, t) >= 0])
        sel = hj_art == i
        hj_type[sel] = hj_opts[rng.integers(0, len(hj_opts), int(sel.sum()))]
    hf = lists["hjaelpemiddel_form"]
    hj_form = np.where(
        hjm, np.where(rng.random(n) < 0.7, _idx(hf, "Tilskud"), _idx(hf, "Udlån")), -1
    )
    udgift = np.round(np.exp(np.log(6000) + 0.9 * rng.standard_normal(n)), 2)
    udgift = np.where(rng.random(n) < 0.7, np.round(udgift, -1), udgift)
    hj_udgift = np.where(hjm, udgift, np.nan)
    return {"hj_art": hj_art, "hj_type": hj_type, "hj_form": hj_form, "hj_udgift": hj_udgift}


def _assistance(rng: np.random.Generator, lists: dict, o: _Offers) -> dict[str, np.ndarray]:
    """The support person of the Personlig assistance offers, and its refunded amount."""
    n = o.n
    pa = o.typ == _idx(lists["aktiveringstype"], "Personlig assistance")
    sa, stt = lists["stoetteperson_art"], lists["stoetteperson_type"]
    sp_art = np.where(pa, rng.integers(0, len(sa), n), -1)
    sp_type = np.where(pa, rng.integers(0, len(stt), n), -1)
    pa_amount = np.round(np.exp(np.log(40000) + 0.8 * rng.standard_normal(n)), 2)
    return {"sp_art": sp_art, "sp_type": sp_type, "pa_amount": pa_amount}


def _version(i, status, slut, start, timer, pa, why) -> dict[str, np.ndarray]:
    return {
        "rec": i,
        "status": status,
        "slut": slut,
        "start": start,
        "timer": timer,
        "pa": pa,
        "aarsag": why,
    }


def _corrections(
    rng: np.random.Generator,
    base_lev: np.ndarray,
    cancelled: np.ndarray,
    start: np.ndarray,
    timer: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Corrections: the latest version (sent in `base_lev`) re-sent 1-3 months later with other
    hours or start date: (activity, delivery, start, hours) of each."""
    n = len(base_lev)
    v3 = np.flatnonzero((rng.random(n) < 0.01) & (base_lev < NEVER) & ~cancelled)
    lev3 = base_lev[v3] + rng.integers(1, 4, len(v3))
    new_timer = np.where(
        np.isnan(timer[v3]), 20.0, np.maximum(timer[v3] - 5 * rng.integers(1, 3, len(v3)), 1)
    )
    by_timer = rng.random(len(v3)) < 0.5
    v3_start = np.where(by_timer, start[v3], start[v3] - rng.integers(1, 8, len(v3)))
    return v3, lev3, v3_start, np.where(by_timer, new_timer, timer[v3])


def _versions(
    rng: np.random.Generator,
    st: tuple[str, ...],
    o: _Offers,
    planned_end: np.ndarray,
    status: _Status,
    timer: np.ndarray,
    period: Period,
) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """The versions sent (0 planned/referred, 1 started, 2 final, 3 correction) and the delivery
    of each."""
    n, start, end, cancelled = o.n, o.start, status.end, status.cancelled
    final, aarsag = status.final, status.aarsag
    planlagt, henvist, optaget = _idx(st, "Planlagt"), _idx(st, "Henvist"), _idx(st, "Optaget")
    has_pre = cancelled | (rng.random(n) < 0.35)
    v0 = np.flatnonzero(has_pre)
    v1 = np.flatnonzero(~cancelled)
    v2 = np.flatnonzero(end < NEVER)
    half = rng.random(n) < 0.5
    open_or_planned = np.where(half, planned_end, NEVER)
    lag = np.where(rng.random(n) < 0.03, rng.integers(1, 4, n), 0)
    lev0 = period.lev(start[v0] - rng.integers(3, 46, len(v0)))
    lev1 = period.lev(start[v1] + rng.integers(0, 8, len(v1)), lag[v1])
    lev2 = period.lev(np.minimum(end[v2], period.end + 400) + rng.integers(0, 11, len(v2)))
    pa_final = np.where(rng.random(n) < 0.7, 2, np.where(rng.random(n) < 0.5, 1, 0))

    base_lev = np.full(n, NEVER)
    base_lev[v1] = lev1
    base_lev[v2] = lev2
    v3, lev3, v3_start, v3_timer = _corrections(rng, base_lev, cancelled, start, timer)

    def none(i: np.ndarray) -> np.ndarray:
        return np.full(len(i), -1)

    parts = [
        _version(
            v0,
            np.where(rng.random(len(v0)) < 0.8, planlagt, henvist),
            open_or_planned[v0],
            start[v0],
            timer[v0],
            none(v0),
            none(v0),
        ),
        _version(
            v1,
            np.full(len(v1), optaget),
            open_or_planned[v1],
            start[v1],
            timer[v1],
            np.zeros(len(v1), dtype=np.int64),
            none(v1),
        ),
        _version(v2, final[v2], end[v2], start[v2], timer[v2], pa_final[v2], aarsag[v2]),
        _version(
            v3,
            final[v3],
            np.where(end[v3] < NEVER, end[v3], open_or_planned[v3]),
            v3_start,
            v3_timer,
            np.where(end[v3] < NEVER, pa_final[v3], 0),
            aarsag[v3],
        ),
    ]
    return parts, np.concatenate([lev0, lev1, lev2, lev3])


def build(rng: np.random.Generator, world: World, sp: Spells) -> Chunk:
    """The activities of a chunk of spells, drawn step by step (the order of the draws is part
    of the output: a seed gives the same deliveries)."""
    lists = world.ref.lists
    tm = [TYPE_MODELS.get(t, _DEFAULT) for t in lists["aktiveringstype"]]
    o = _offers(rng, world, sp, tm)
    planned_end, end = _ends(rng, o, tm)
    status = _status(rng, lists, o, end, tm, world.period)
    orgs = _organisations(rng, world, o, tm)
    jobs = _jobs(rng, lists, o)
    vejl = o.typ == _idx(lists["aktiveringstype"], "Vejledning og opkvalificering")
    courses = _courses(rng, world.courses, vejl)
    timer = _hours(rng, o, tm)
    aids = _aids(rng, lists, o, status.is_job)
    assistance = _assistance(rng, lists, o)
    records = {
        "pid": o.pid,
        "start0": o.start,
        "kom": orgs["kom"],
        "type": o.typ,
        "ansvarlig": orgs["ansvarlig"],
        "aktiverende": orgs["aktiverende"],
        **jobs,
        **courses,
        **aids,
        **assistance,
    }
    st = lists["aktivitetsstatus"]
    parts, lev = _versions(rng, st, o, planned_end, status, timer, world.period)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ver = np.concatenate([np.full(len(p["rec"]), i) for i, p in enumerate(parts)])
    return Chunk.of(records, cols, ver, lev, world.period.n)


def finish(merged: Chunk, n: int) -> tuple[dict[str, np.ndarray], ByDelivery]:
    """Number the activities by start date and group the versions by delivery."""
    r = dict(merged.records)
    start0 = r.pop("start0")
    r["num"] = number_by(r["pid"], start0)
    return r, ByDelivery.of(merged, n)


def render(part: dict[str, np.ndarray], acts: dict[str, np.ndarray], world: World) -> pl.DataFrame:
    lists, pop, orgs, courses = world.ref.lists, world.pop, world.orgs, world.courses
    a = part["rec"]
    is_pa = acts["sp_art"][a] >= 0
    pa = np.where(is_pa, part["pa"], -1)
    pa_amount = np.where(
        pa == 2,
        acts["pa_amount"][a],
        np.where(pa == 1, np.round(acts["pa_amount"][a] / 2, 2), np.nan),
    )
    course = acts["course"][a]
    kursus = np.where(acts["kursus"][a], course, -1)
    return pl.DataFrame(
        {
            "aktivitet_id": prefixed("A", acts["num"][a]),
            "cpr": pop.cpr_text(acts["pid"][a]),
            "kommunekode": int_text(acts["kom"][a]),
            "ansvarlig_org_id": lookup(orgs.org_id, acts["ansvarlig"][a]),
            "aktiverende_org_id": lookup(orgs.org_id, acts["aktiverende"][a]),
            "startdato": date_text(part["start"]),
            "slutdato": nullable_date_text(part["slut"]),
            "aktiveringstype": lookup(lists["aktiveringstype"], acts["type"][a]),
            "aktivitetsstatus": lookup(lists["aktivitetsstatus"], part["status"]),
            "aktivitetsaarsag": lookup(lists["aktivitetsaarsag"], part["aarsag"]),
            "aktiveringspuljenavn": lookup(lists["aktiveringspuljenavn"], acts["pulje"][a]),
            "jobtype": lookup(lists["jobtype"], acts["jobtype"][a]),
            "statsligt_job": lookup(lists["statsligt_job"], acts["statsligt"][a]),
            "uddannelseskode": lookup(list(courses.kode), course),
            "uddannelseskodetype": lookup(
                ("AMU", "DUN"), np.where(course >= 0, courses.kind[course], -1)
            ),
            "kursusnavn": lookup(list(courses.titel), kursus),
            "timer_pr_uge": decimal_text(part["timer"]),
            "hjaelpemiddel_art": lookup(lists["hjaelpemiddel_art"], acts["hj_art"][a]),
            "hjaelpemiddel_type": lookup(lists["hjaelpemiddel_type"], acts["hj_type"][a]),
            "hjaelpemiddel_form": lookup(lists["hjaelpemiddel_form"], acts["hj_form"][a]),
            "hjaelpemiddel_udgift": decimal_text(acts["hj_udgift"][a]),
            "stoetteperson_art": lookup(lists["stoetteperson_art"], acts["sp_art"][a]),
            "stoetteperson_type": lookup(lists["stoetteperson_type"], acts["sp_type"][a]),
            "assistance_afregningsstatus": lookup(AFREGNING, pa),
            "assistance_refunderet_udgift": decimal_text(pa_amount),
        }
    )
