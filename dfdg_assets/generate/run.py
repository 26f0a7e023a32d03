"""The generator's entry point: build the model once, then write one delivery per month."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from . import activities, benefits, conversations, population, spells, visitations
from .catalogs import build_courses, build_orgs
from .common import Period, reference, rng_for
from .faults import inject
from .municipalities import select
from .population import BorgerSnapshots
from .versions import ByDelivery, Chunk, merge
from .world import World
from .writer import write_delivery

CHUNK_CITIZENS = 50_000


@dataclass(frozen=True)
class GenerateSummary:
    """What a `generate` run wrote."""

    months: int  # delivery folders written
    files: int  # files written, manifests included
    rows: dict[str, int] = field(default_factory=dict)  # data rows per file type, all months
    bytes: int = 0  # bytes written, manifests included
    seconds: float = 0.0
    faults: int = 0  # row faults injected

    def __str__(self) -> str:
        per_file = ", ".join(f"{k} {v:,}" for k, v in self.rows.items())
        return (
            f"{self.months} months, {self.files} files, {self.bytes:,} bytes in "
            f"{self.seconds:.1f} s ({self.faults} row faults); rows: {per_file}"
        )


def default_period(
    fra: str | None = None, til: str | None = None, today: dt.date | None = None
) -> tuple[str, str]:
    """`dfdg generate`'s period: up to the last complete calendar month (a present-day sample, so
    retention visibly prunes what is older than its window), from January four years earlier."""
    if til is None:
        today = today or dt.date.today()
        last = today.replace(day=1) - dt.timedelta(days=1)
        til = f"{last.year:04d}-{last.month:02d}"
    if fra is None:
        fra = max(f"{int(til[:4]) - 4:04d}-01", "2017-01")
    return fra, til


def _check_args(borgere: int, fejlrate: float, beboere_pr_borger: float, seed: int) -> None:
    if borgere < 1:
        raise ValueError("borgere must be at least 1")
    if not 0 <= fejlrate < 0.5:
        raise ValueError("fejlrate must be in [0, 0.5)")
    if beboere_pr_borger < 1:
        raise ValueError("beboere_pr_borger must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")


@dataclass
class _Records:
    """Every record of the period, numbered, with its versions grouped by delivery."""

    vis: tuple[dict[str, np.ndarray], ByDelivery]
    acts: tuple[dict[str, np.ndarray], ByDelivery]
    conv: tuple[dict[str, np.ndarray], ByDelivery]
    yr: benefits.Benefits


def _records(seed: int, world: World, sp: spells.Spells, weeks: benefits.Weeks) -> _Records:
    """Built in chunks of citizens so that the temporaries stay small at national scale; the
    chunk size is fixed, so the output does not depend on the machine."""
    period = world.period
    parts: dict[str, list[Chunk]] = {"v": [], "a": [], "c": [], "y": []}
    for i, chunk in enumerate(sp.chunks(CHUNK_CITIZENS)):
        parts["v"].append(visitations.build(rng_for(seed, f"visitations/{i}"), world, chunk))
        parts["a"].append(activities.build(rng_for(seed, f"activities/{i}"), world, chunk))
        parts["c"].append(conversations.build(rng_for(seed, f"conversations/{i}"), world, chunk))
        parts["y"].append(
            benefits.build(
                rng_for(seed, f"benefits/{i}"), seed, world.ref, world.pop, chunk, period, weeks
            )
        )
    return _Records(
        visitations.finish(merge(parts.pop("v")), period.n),
        activities.finish(merge(parts.pop("a")), period.n),
        conversations.finish(merge(parts.pop("c")), period.n),
        benefits.finish(merge(parts.pop("y")), world.ref, weeks, period.n),
    )


def _frames(
    i: int, rec: _Records, world: World, borger: BorgerSnapshots, udd: pl.DataFrame
) -> dict:
    """The files of the i-th delivery, before faults are injected."""
    (vis, vis_v), (acts, act_v), (conv, conv_v) = rec.vis, rec.acts, rec.conv
    samtale, deltager = conversations.render(conv_v.part(i), conv, world)
    return {
        "visitation": visitations.render(vis_v.part(i), vis, world),
        "aktivitet": activities.render(act_v.part(i), acts, world),
        "samtale": samtale,
        "samtale_deltager": deltager,
        "ydelse": benefits.render(rec.yr.rows.part(i), rec.yr, world.pop),
        "borger": borger.frame(i),
        "organisation": world.orgs.snapshot(i),
        "uddannelse": udd,
    }


def generate(
    out: Path,
    *,
    kommuner: int | Sequence[int] = 4,
    borgere: int = 6000,
    fra: str = "2017-01",
    til: str = "2021-03",
    seed: int = 1,
    fejlrate: float = 0.001,
    beboere_pr_borger: float = 3.0,
) -> GenerateSummary:
    """Write synthetic monthly deliveries fra..til into the inbox folder `out`.

    The output is byte-identical for identical arguments.
    """
    t0 = time.perf_counter()
    _check_args(borgere, fejlrate, beboere_pr_borger, seed)
    out = Path(out)
    ref = reference()
    period = Period.of(fra, til)
    codes = select(kommuner, ref)
    weights = np.array([ref.indbyggere[c] for c in codes], dtype=np.float64)
    orgs = build_orgs(seed, ref, codes, period.n)
    courses = build_courses(seed)
    pop = population.build(
        seed, codes, weights, borgere, beboere_pr_borger, period, len(orgs.akasser)
    )
    sp = spells.build(seed, ref, pop, period)
    weeks = benefits.yr_weeks(period)
    world = World(ref, pop, orgs, courses, period)
    rec = _records(seed, world, sp, weeks)
    borger = BorgerSnapshots(pop)
    udd = courses.snapshot()
    rows: dict[str, int] = {}
    n_bytes = n_files = n_faults = 0
    for i, month in enumerate(period.months):
        frames = _frames(i, rec, world, borger, udd)
        for name in ("visitation", "aktivitet", "samtale", "ydelse"):
            frames[name], k = inject(
                frames[name], name, rng_for(seed, f"faults/{name}/{month}"), fejlrate
            )
            n_faults += k
        written, size = write_delivery(out / month, month, frames, presorted=frozenset({"borger"}))
        for name, r in written.items():
            rows[name] = rows.get(name, 0) + r
        n_files += len(written) + 1
        n_bytes += size
        del frames  # before the next month's frames are built
    return GenerateSummary(
        period.n, n_files, rows, n_bytes, round(time.perf_counter() - t0, 3), n_faults
    )
