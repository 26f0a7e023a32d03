"""Benefit spells: the periods in which a benefit citizen belongs to a benefit group.

A spell covers the days [start, end). It opens with a visitation, may change category, and
usually ends with an `Afmeldt` visitation on `end`; a spell followed directly by another
(a change of benefit group) ends with the next spell's first visitation instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import (
    Period,
    Reference,
    choice_idx,
    force_coverage,
    rng_for,
    segment_cumsum,
    workday_forward,
)
from .population import Population


@dataclass(frozen=True)
class GroupModel:
    weight: float  # share of spells
    median_days: float  # spell length
    sigma: float  # log-normal spread of the length
    revisit_days: float  # mean days between visitations within a spell
    activities_per_month: float
    conversation_days: float  # mean days between conversations
    yr_name: str  # benefit name in YR
    weekly: float  # typical weekly amount, kr
    supplement: str  # name of an occasional second benefit in the same week


GROUP_MODELS: dict[str, GroupModel] = {
    "A-dagpenge": GroupModel(
        0.26, 110, 0.9, 150, 0.25, 60, "A-dagpenge", 4100, "Supplerende dagpenge"
    ),
    "Kontanthjælp": GroupModel(
        0.15, 260, 1.0, 110, 0.35, 45, "Kontanthjælp", 3300, "Særlig støtte"
    ),
    "Uddannelseshjælp": GroupModel(
        0.10, 220, 1.0, 110, 0.40, 45, "Uddannelseshjælp", 1900, "Særlig støtte"
    ),
    "Selvforsørgelses- og hjemrejseydelse/overgangsydelse": GroupModel(
        0.05, 330, 0.9, 120, 0.40, 40, "Selvforsørgelses- og hjemrejseydelse", 2500, "Særlig støtte"
    ),
    "Sygedagpenge": GroupModel(
        0.25, 70, 1.1, 60, 0.12, 50, "Sygedagpenge", 4300, "Personligt tillæg"
    ),
    "Jobafklaringsforløb": GroupModel(
        0.04,
        330,
        0.8,
        200,
        0.30,
        60,
        "Ressourceforløbsydelse under jobafklaringsforløb",
        3400,
        "Personligt tillæg",
    ),
    "Ressourceforløb": GroupModel(
        0.05, 540, 0.7, 250, 0.35, 60, "Ressourceforløbsydelse", 3400, "Personligt tillæg"
    ),
    "Ledighedsydelse": GroupModel(
        0.04, 160, 0.9, 200, 0.30, 60, "Ledighedsydelse", 4000, "Særlig støtte"
    ),
    "Fleksjob": GroupModel(
        0.02, 800, 0.6, 400, 0.05, 180, "Fleksløntilskud", 2600, "Personligt tillæg"
    ),
    "Revalidering": GroupModel(
        0.01, 420, 0.6, 250, 0.40, 60, "Revalideringsydelse", 3900, "Særlig støtte"
    ),
    "Førtidspension": GroupModel(
        0.02, 1500, 0.5, 700, 0.02, 365, "Førtidspension", 4300, "Personligt tillæg"
    ),
}
_DEFAULT = GroupModel(0.01, 200, 0.8, 150, 0.2, 60, "Anden ydelse", 3000, "Særlig støtte")


def group_models(ref: Reference) -> tuple[tuple[str, ...], list[GroupModel]]:
    """The benefit groups of the value list (order kept) and their models."""
    groups = ref.lists["ydelsesgruppe"]
    return groups, [GROUP_MODELS.get(g, _DEFAULT) for g in groups]


@dataclass
class Spells:
    pid: np.ndarray
    group: np.ndarray  # index into the ydelsesgruppe value list
    start: np.ndarray  # day
    end: np.ndarray  # day of the afmelding or of the next spell's start
    nr: np.ndarray  # 0 for the citizen's first spell
    afmeldt: np.ndarray  # ends with an Afmeldt visitation
    dfdg: np.ndarray  # has visitations, activities and conversations (else YR only)
    yr: np.ndarray  # has YR rows
    yr_tail: np.ndarray  # weeks of YR payment after the end

    @property
    def size(self) -> int:
        return len(self.pid)

    def chunks(self, citizens: int) -> list[Spells]:
        """The spells in chunks of `citizens` consecutive benefit citizens (spells are by pid)."""
        top = int(self.pid.max()) + 1 if self.size else 0
        cuts = np.searchsorted(self.pid, np.arange(0, top + citizens, citizens))
        return [
            Spells(*(getattr(self, f)[a:b] for f in self.__dataclass_fields__))
            for a, b in zip(cuts[:-1], cuts[1:], strict=True)
            if b > a
        ]


def build(seed: int, ref: Reference, pop: Population, period: Period) -> Spells:
    rng = rng_for(seed, "spells")
    groups, models = group_models(ref)
    b = pop.n_benefit
    k = choice_idx(rng, [0.55, 0.27, 0.11, 0.05, 0.02], b) + 1
    pid = np.repeat(np.arange(b), k)
    s = len(pid)
    nr = np.arange(s) - np.repeat(np.cumsum(k) - k, k)
    med_g = np.array([m.median_days for m in models])
    sig_g = np.array([m.sigma for m in models])
    # The stock at the start of history is what an ongoing process leaves behind: long spells
    # are over-represented (length-biased) and only their remainder lies ahead. Without this,
    # the population would shrink during the first year.
    in_stock = (nr == 0) & pop.stock[pid]
    w = np.array([m.weight for m in models])
    group = np.where(
        in_stock,
        choice_idx(rng, w * med_g * np.exp(sig_g**2 / 2), s),
        choice_idx(rng, w, s),
    )
    med, sig = med_g[group], sig_g[group]
    z = rng.standard_normal(s)
    full = med * np.exp(sig * z)
    residual = rng.random(s) * med * np.exp(sig**2 + sig * z)
    dur = np.maximum(7, np.round(np.where(in_stock, residual, full))).astype(np.int64)
    direct = rng.random(s) < 0.15  # the next spell follows at once (change of benefit group)
    gap = np.where(direct, 0, 14 + np.round(rng.exponential(200, s))).astype(np.int64)
    total = dur + gap
    raw_start = pop.first_start[pid] + segment_cumsum(total, pid) - total
    last = np.zeros(s, dtype=bool)
    last[np.cumsum(k) - 1] = True
    # nearly every spell ends with an afmelding: a forgotten one leaves the course open for good
    afmeldt = (~direct | last) & (rng.random(s) < 0.99)
    dfdg = (nr == 0) | (rng.random(s) >= 0.03)
    yr = ~dfdg | (rng.random(s) < 0.88)
    yr_tail = np.where(rng.random(s) < 0.1, rng.integers(1, 4, s), 0)

    keep = raw_start <= period.end
    pid, group, dur, raw_start, nr = pid[keep], group[keep], dur[keep], raw_start[keep], nr[keep]
    afmeldt, dfdg, yr, yr_tail = afmeldt[keep], dfdg[keep], yr[keep], yr_tail[keep]

    # Uddannelseshjælp is for the under-30s, Kontanthjælp for the others
    age = (raw_start - pop.birth[pid]) / 365.25
    gi = {g: i for i, g in enumerate(groups)}
    if "Kontanthjælp" in gi and "Uddannelseshjælp" in gi:
        kh, uh = gi["Kontanthjælp"], gi["Uddannelseshjælp"]
        group = np.where(
            (group == kh) & (age < 30), uh, np.where((group == uh) & (age >= 30), kh, group)
        )
    # every benefit group occurs in a delivered spell, even in small samples
    force_coverage(rng, group, len(groups), eligible=dfdg & (raw_start < period.end - 90))

    # both ends on working days; a direct successor starts on its predecessor's end
    start = workday_forward(raw_start)
    end = workday_forward(raw_start + dur)
    return Spells(pid, group, start, end, nr, afmeldt, dfdg, yr, yr_tail)
