"""What every record generator reads (`World`): the reference lists, the population, the
organisations, the course catalogue and the period."""

from __future__ import annotations

from dataclasses import dataclass

from .catalogs import Courses, Orgs
from .common import Period, Reference
from .population import Population


@dataclass(frozen=True)
class World:
    ref: Reference
    pop: Population
    orgs: Orgs
    courses: Courses
    period: Period
