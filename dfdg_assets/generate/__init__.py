"""Synthetic DFDG deliveries (SPEC section 7).

`generate(out, ...)` writes one folder `out/YYYY-MM/` per data month in the delivery format of
SPEC section 2, byte-identical for identical arguments. Everything is vectorised (numpy and
polars), so national scale (98 municipalities, 1,000,000 benefit citizens) takes minutes.

Modules: `municipalities` (which ones, how many citizens), `population` (residents, CPR,
names, moves, borger snapshots), `spells` (benefit spells), `visitations`, `activities`,
`conversations`, `benefits` (YR weeks), `catalogs` (organisations, courses), `versions`
(re-sends and corrections), `faults` (row faults), `writer` (CSV and manifest), `run`.
"""

from .run import GenerateSummary, generate

__all__ = ["GenerateSummary", "generate"]
