"""Residents: birth dates, substitute CPR numbers, names, moves, and the monthly borger snapshot.

Persons 0 .. n_benefit-1 are the benefit citizens; the rest are other residents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .common import NEVER, Period, compact, int_text, lookup, month_of, rng_for, run_starts, ymd
from .municipalities import allocate

FIRST_M = (
    "Peter",
    "Jens",
    "Lars",
    "Michael",
    "Henrik",
    "Thomas",
    "Søren",
    "Jan",
    "Niels",
    "Anders",
    "Morten",
    "Martin",
    "Rasmus",
    "Mads",
    "Mikkel",
    "Frederik",
    "Christian",
    "Jesper",
    "Kasper",
    "Emil",
    "Oliver",
    "William",
    "Noah",
    "Lucas",
    "Ali",
    "Mohammed",
    "Ahmad",
    "Piotr",
)
FIRST_F = (
    "Anne",
    "Kirsten",
    "Mette",
    "Hanne",
    "Helle",
    "Susanne",
    "Lene",
    "Maria",
    "Marianne",
    "Louise",
    "Camilla",
    "Pia",
    "Charlotte",
    "Tina",
    "Julie",
    "Sofie",
    "Emma",
    "Ida",
    "Freja",
    "Laura",
    "Clara",
    "Nanna",
    "Fatima",
    "Aisha",
    "Zeynep",
    "Anna",
    "Agnes",
    "Karen",
)
LAST = (
    "Nielsen",
    "Jensen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
    "Thomsen",
    "Christiansen",
    "Poulsen",
    "Johansen",
    "Møller",
    "Mortensen",
    "Knudsen",
    "Jakobsen",
    "Mikkelsen",
    "Frederiksen",
    "Lund",
    "Holm",
    "Schmidt",
    "Eriksen",
    "Østergaard",
    "Kjær",
    "Vestergaard",
    "Dahl",
    "Yilmaz",
    "Hussein",
    "Nowak",
    "Ahmadi",
)

# Relative number of residents per year of age 0..100 (rough Danish shape).
_AGE_W = np.array(
    [1.1] * 20
    + [1.3] * 10
    + [1.25] * 30
    + [1.15] * 10
    + [0.95] * 10
    + [0.45] * 10
    + [0.08 * np.exp(-k / 3) for k in range(11)]
)


@dataclass
class Population:
    n_benefit: int
    birth: np.ndarray  # days
    cpr_num: np.ndarray  # int64, 10 digits
    gender: np.ndarray  # 1 = odd serial (male), 0 = even
    kom_a: np.ndarray  # municipality code before the move
    kom_b: np.ndarray  # after the move (= kom_a when none)
    move_day: np.ndarray  # NEVER when the person does not move
    move_lev: np.ndarray  # first delivery showing the new municipality (NEVER: none)
    in_lev: np.ndarray  # first delivery in which the person is a resident
    out_lev: np.ndarray  # first delivery in which the person no longer is
    first_start: np.ndarray  # benefit citizens only: start of their first spell
    stock: np.ndarray  # benefit citizens only: already on benefit when history starts
    akasse: np.ndarray  # benefit citizens only: index of their unemployment fund
    name_parts: tuple[np.ndarray, np.ndarray, np.ndarray]  # first, middle (-1 none), last

    @property
    def size(self) -> int:
        return len(self.birth)

    def kommune_at(self, pid: np.ndarray, days: np.ndarray) -> np.ndarray:
        return np.where(days >= self.move_day[pid], self.kom_b[pid], self.kom_a[pid])

    def cpr_text(self, pid: np.ndarray) -> pl.Series:
        return int_text(self.cpr_num[pid])

    def names(self, pid: np.ndarray) -> pl.Series:
        first, middle, last = (a[pid] for a in self.name_parts)
        fm = lookup(FIRST_M + FIRST_F, first)
        mid = lookup(LAST, middle)
        la = lookup(LAST, last)
        return pl.select(pl.concat_str([fm, mid, la], separator=" ", ignore_nulls=True)).to_series()


def _benefit_citizens(
    rng: np.random.Generator, period: Period, b: int, n_akasser: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The benefit citizens: the first spell start fixes their age (mostly 16-66 at that time);
    (on benefit when history starts, first spell start, birth day, A-kasse) of each."""
    stock = rng.random(b) < 0.27  # on benefit when history starts: registered in its first weeks
    first_start = np.where(
        stock,
        period.hist_start + rng.integers(0, 21, b),
        rng.integers(period.hist_start, max(period.end - 3, period.hist_start + 1), b),
    )
    age = 16 + 50 * rng.beta(1.3, 1.7, b)
    u = rng.random(b)
    age = np.where(
        u < 0.03, 15 + rng.random(b), np.where(u > 0.97, 66.5 + 1.5 * rng.random(b), age)
    )
    birth_b = first_start - np.round(age * 365.25).astype(np.int64)
    akasse = rng.integers(0, n_akasser, b)
    return stock, first_start, birth_b, akasse


def _other_residents(
    rng: np.random.Generator, o: int, fra_day: int, n: int, churn: float
) -> tuple[np.ndarray, np.ndarray]:
    """Other residents, present from the first delivery, with an age pyramid: (birth day,
    delivery they leave in) of each."""
    age_o = rng.choice(len(_AGE_W), size=o, p=_AGE_W / _AGE_W.sum())
    birth_o = fra_day - age_o * 365 - rng.integers(0, 365, o)
    out_o = np.full(o, NEVER, dtype=np.int64)
    if n > 1 and o:
        # leavers (moved away or died): older residents leave more often
        leaves = rng.random(o) < churn * (0.6 + age_o / 60)
        out_o[leaves] = rng.integers(1, n, int(leaves.sum()))
    return birth_o, out_o


def _newcomers(
    rng: np.random.Generator,
    codes_a: np.ndarray,
    others: np.ndarray,
    period: Period,
    churn: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newcomers (moved in or born) during the deliveries: (delivery they come in, municipality,
    birth day) of each."""
    o, n = int(others.sum()), period.n
    m = int(round(o * churn)) if n > 1 else 0
    in_m = rng.integers(1, n, m) if m else np.zeros(0, dtype=np.int64)
    kom_m = (
        codes_a[rng.choice(len(codes_a), size=m, p=others / max(others.sum(), 1))] if m else in_m
    )
    month_start = np.datetime64(f"{period.months[0]}", "M").astype(np.int64) + in_m
    month_start = month_start.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    baby = rng.random(m) < 0.3
    birth_m = np.where(
        baby,
        month_start + rng.integers(0, 28, m),
        month_start
        - rng.choice(len(_AGE_W), size=m, p=_AGE_W / _AGE_W.sum()) * 365
        - rng.integers(0, 365, m),
    )
    return in_m, kom_m, birth_m


def _moves(
    rng: np.random.Generator,
    codes_a: np.ndarray,
    indbyggere: np.ndarray,
    people: dict[str, np.ndarray],
    b: int,
    fra_day: int,
    period: Period,
) -> tuple[np.ndarray, np.ndarray]:
    """A few movers between the chosen municipalities: (move day, municipality after) of each
    resident (NEVER and the same municipality for the others)."""
    birth, kom_a, out_lev = people["birth"], people["kom_a"], people["out_lev"]
    k, size = len(codes_a), len(birth)
    move_day = np.full(size, NEVER, dtype=np.int64)
    kom_new = kom_a.copy()
    if k > 1:
        mover = rng.random(size) < np.where(np.arange(size) < b, 0.02, 0.01)
        mover &= out_lev == NEVER
        idx = np.flatnonzero(mover)
        lo = np.where(idx < b, period.hist_start + 30, fra_day + 1)
        lo = np.maximum(lo, birth[idx] + 1)
        move_day[idx] = lo + (rng.random(len(idx)) * np.maximum(period.end - 5 - lo, 1)).astype(
            np.int64
        )
        pos = np.searchsorted(codes_a, kom_a[idx])
        tgt = rng.choice(k, size=len(idx), p=indbyggere / indbyggere.sum())
        tgt = np.where(tgt == pos, (tgt + 1) % k, tgt)
        kom_new[idx] = codes_a[tgt]
    return move_day, kom_new


def build(
    seed: int,
    codes: list[int],
    indbyggere: np.ndarray,
    borgere: int,
    beboere_pr_borger: float,
    period: Period,
    n_akasser: int,
) -> Population:
    """Draw the residents of the chosen municipalities, step by step (the order of the draws is
    part of the output: a seed gives the same deliveries)."""
    rng = rng_for(seed, "population")
    codes_a = np.asarray(codes, dtype=np.int64)
    per_kom = allocate(borgere, indbyggere)
    residents = np.maximum(np.round(per_kom * beboere_pr_borger).astype(np.int64), per_kom)
    others = residents - per_kom
    fra_day = int(np.datetime64(f"{period.months[0]}-01", "D").astype(np.int64))
    b, o = borgere, int(others.sum())
    churn = min(0.002 * max(period.n - 1, 0), 0.5)
    stock, first_start, birth_b, akasse = _benefit_citizens(rng, period, b, n_akasser)
    birth_o, out_o = _other_residents(rng, o, fra_day, period.n, churn)
    in_m, kom_m, birth_m = _newcomers(rng, codes_a, others, period, churn)
    m = len(in_m)
    people = {
        "birth": np.concatenate([birth_b, birth_o, birth_m]).astype(np.int64),
        "kom_a": np.concatenate(
            [np.repeat(codes_a, per_kom), np.repeat(codes_a, others), kom_m]
        ).astype(np.int64),
        "out_lev": np.concatenate([np.full(b, NEVER), out_o, np.full(m, NEVER)]).astype(np.int64),
    }
    in_lev = np.concatenate([np.zeros(b + o, dtype=np.int64), in_m])
    move_day, kom_new = _moves(rng, codes_a, indbyggere, people, b, fra_day, period)
    move_lev = np.where(
        move_day < NEVER, month_of(np.minimum(move_day, period.end)) - period.first_mi, NEVER
    )
    size = len(people["birth"])
    cpr_num, gender = _cpr_numbers(rng, people["birth"])
    first = rng.integers(0, len(FIRST_M), size) + np.where(gender == 1, 0, len(FIRST_M))
    middle = np.where(rng.random(size) < 0.3, rng.integers(0, len(LAST), size), -1)
    last = rng.integers(0, len(LAST), size)
    return Population(
        n_benefit=b,
        birth=compact(people["birth"]),
        cpr_num=cpr_num,
        gender=gender,
        kom_a=compact(people["kom_a"]),
        kom_b=compact(kom_new),
        move_day=compact(move_day),
        move_lev=compact(move_lev),
        in_lev=compact(in_lev),
        out_lev=compact(people["out_lev"]),
        first_start=first_start,
        stock=stock,
        akasse=compact(akasse),
        name_parts=(compact(first), compact(middle), compact(last)),
    )


def _cpr_numbers(rng: np.random.Generator, birth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique substitute numbers: day + 60, and serial digit 7 consistent with the century."""
    year, month, day = ymd(birth)
    if year.min(initial=2000) < 1900 or year.max(initial=2000) > 2036:
        raise ValueError("birth years outside 1900..2036 are not supported")
    order = np.lexsort((rng.random(len(birth)), birth))
    sb = birth[order]
    rank = np.arange(len(sb)) - run_starts(sb)
    # capacity of serials per birth date given the century table (see reference/cpr_aarhundrede.csv)
    y = year[order]
    cap = np.where(y <= 1936, 4000, 6000)
    if (rank >= cap).any():
        raise ValueError("too many persons share a birth date")
    offset = rng.integers(0, 6000, len(sb))[run_starts(sb)]
    s = (offset + rank * 7919) % cap  # 7919 is prime: distinct serials within a date
    serial = np.where(
        y >= 2000,
        4000 + s,  # digit 7 in 4..9: 2000-2036
        np.where(s < 5000, s, s + 4000),  # 1900s: digit 7 in 0..3, and 4 or 9 from 1937
    )
    num = np.empty(len(birth), dtype=np.int64)
    num[order] = (day[order] + 60) * 10**8 + month[order] * 10**6 + (y % 100) * 10**4 + serial
    return num, (num % 2).astype(np.int8)


class BorgerSnapshots:
    """The borger.csv snapshot of each delivery (the names are rendered once)."""

    def __init__(self, pop: Population) -> None:
        self.pop = pop
        self.order = np.argsort(pop.cpr_num, kind="stable")
        self.base = pl.DataFrame(
            {"cpr": pop.cpr_text(self.order), "fuldenavn": pop.names(self.order)}
        )

    def frame(self, lev: int) -> pl.DataFrame:
        """Every resident at the end of delivery `lev`, sorted by cpr."""
        p, o = self.pop, self.order
        keep = (p.in_lev[o] <= lev) & (p.out_lev[o] > lev)
        kom = np.where(p.move_lev[o] <= lev, p.kom_b[o], p.kom_a[o])[keep]
        return self.base.filter(pl.Series(keep)).with_columns(kommunekode=int_text(kom))
