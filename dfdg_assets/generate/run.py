"""The generator's entry point: build the model once, then write one delivery per month."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import activities, benefits, conversations, population, spells, visitations
from .catalogs import build_courses, build_orgs
from .common import Period, reference, rng_for
from .faults import inject
from .municipalities import select
from .population import BorgerSnapshots
from .writer import write_delivery


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
        return (f"{self.months} months, {self.files} files, {self.bytes:,} bytes in "
                f"{self.seconds:.1f} s ({self.faults} row faults); rows: {per_file}")


def generate(out: Path, *, kommuner: int | Sequence[int] = 4, borgere: int = 6000,
             fra: str = "2017-01", til: str = "2021-03", seed: int = 1, fejlrate: float = 0.001,
             beboere_pr_borger: float = 3.0) -> GenerateSummary:
    """Write synthetic monthly deliveries fra..til into the inbox folder `out`.

    The output is byte-identical for identical arguments.
    """
    t0 = time.perf_counter()
    if borgere < 1:
        raise ValueError("borgere must be at least 1")
    if not 0 <= fejlrate < 0.5:
        raise ValueError("fejlrate must be in [0, 0.5)")
    if beboere_pr_borger < 1:
        raise ValueError("beboere_pr_borger must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    out = Path(out)
    ref = reference()
    period = Period.of(fra, til)
    codes = select(kommuner, ref)
    weights = np.array([ref.indbyggere[c] for c in codes], dtype=np.float64)

    orgs = build_orgs(seed, ref, codes, period.n)
    courses = build_courses(seed)
    pop = population.build(seed, codes, weights, borgere, beboere_pr_borger, period, len(orgs.akasser))
    sp = spells.build(seed, ref, pop, period)
    vis = visitations.build(seed, ref, pop, sp, orgs, period)
    acts, act_v = activities.build(seed, ref, pop, sp, orgs, courses, period)
    conv, conv_v = conversations.build(seed, ref, pop, sp, orgs, period)
    yr = benefits.build(seed, ref, pop, sp, period)
    borger = BorgerSnapshots(pop)
    udd = courses.snapshot()

    rows: dict[str, int] = {}
    n_bytes = n_files = n_faults = 0
    for i, month in enumerate(period.months):
        samtale, deltager = conversations.render(conv_v.part(i), conv, ref, pop, orgs)
        frames = {
            "visitation": visitations.render(vis.part(i), ref, pop, orgs),
            "aktivitet": activities.render(act_v.part(i), acts, ref, pop, orgs, courses),
            "samtale": samtale,
            "samtale_deltager": deltager,
            "ydelse": benefits.render(yr.rows.part(i), yr, pop),
            "borger": borger.frame(i),
            "organisation": orgs.snapshot(i),
            "uddannelse": udd,
        }
        for name in ("visitation", "aktivitet", "samtale", "ydelse"):
            frames[name], k = inject(frames[name], name, rng_for(seed, f"faults/{name}/{month}"), fejlrate)
            n_faults += k
        written, size = write_delivery(out / month, month, frames, presorted=frozenset({"borger"}))
        for name, r in written.items():
            rows[name] = rows.get(name, 0) + r
        n_files += len(written) + 1
        n_bytes += size
    return GenerateSummary(period.n, n_files, rows, n_bytes, round(time.perf_counter() - t0, 3), n_faults)
