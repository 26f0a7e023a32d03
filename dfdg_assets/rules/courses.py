"""R4 visitation courses (visitationsforløb): from visitations without end dates to courses.

Input: the R3-resolved visitations (one current version per `visitation_id`).
"""

from __future__ import annotations

import polars as pl

from dfdg_assets.core.weeks import OPEN_END

AFMELDT = "Afmeldt"

#: Output columns of `build_courses`, in order.
COURSE_COLUMNS = [
    "forloeb_id",
    "borger_key",
    "kommunekode",
    "startdato",
    "slutdato",
    "ydelsesgruppe",
    "visitationskategori",
    "visiterende_org_id",
]


def kept_visitations(visitations: pl.LazyFrame) -> pl.LazyFrame:
    """R4(a) same-day rule, and R4(b)/(c) chaining, before Afmeldt is dropped.

    Grain: one row per kept visitation = (borger_key, calendar date of visitationstidspunkt).
    Of a citizen's visitations on one date only the latest `visitationstidspunkt` is kept; an
    exact tie goes to the greater `visitation_id` compared as text (so "V9" beats "V10").
    Adds `startdato` (the date) and `slutdato` (the start date of the citizen's next kept
    visitation, whatever its municipality or category, else 9999-12-31). Afmeldt rows are
    still present here.
    """
    v = visitations.with_columns(pl.col("visitationstidspunkt").dt.date().alias("startdato"))
    # One sort puts each citizen's visitations in date order with the winner of every date last
    # (the date is a function of the timestamp, so it needs no sort key of its own).
    v = v.sort("borger_key", "visitationstidspunkt", "visitation_id")
    next_same_citizen = (pl.col("borger_key") == pl.col("borger_key").shift(-1)).fill_null(False)
    next_same_day = next_same_citizen & (pl.col("startdato") == pl.col("startdato").shift(-1))
    # For the last visitation of a date (the kept one), the next row of the same citizen is the
    # first visitation of the citizen's next date, which is the next kept visitation's date; so
    # slutdato can be taken before the losers are filtered away (one filter, no extra copy).
    return v.with_columns(
        pl.when(next_same_citizen)
        .then(pl.col("startdato").shift(-1))
        .otherwise(pl.lit(OPEN_END, dtype=pl.Date))
        .alias("slutdato")
    ).filter(~next_same_day)


def build_courses(visitations: pl.LazyFrame) -> pl.LazyFrame:
    """R4: the citizens' visitation courses.

    Grain: one row per course = one kept, non-Afmeldt visitation; `forloeb_id` is that
    visitation's `visitation_id`. A course is in force on the days startdato <= d < slutdato.

    - (a) same-day rule: per citizen and calendar date only the latest `visitationstidspunkt`
      is kept; tie: the greater `visitation_id` compared as text. The others count nowhere.
    - (b) a course ends on the start date of the citizen's next kept visitation; the last one
      is open with slutdato 9999-12-31.
    - (c) one chain per citizen (`borger_key`) across municipalities; each course keeps its
      own kommunekode, ydelsesgruppe, visitationskategori and visiterende_org_id.
    - (d) a kept visitation with visitationskategori == "Afmeldt" ends the previous course but
      opens none itself (it is not in the output). A null category is not Afmeldt.

    Columns: forloeb_id, borger_key, kommunekode, startdato (Date), slutdato (Date),
    ydelsesgruppe, visitationskategori, visiterende_org_id. Row order is by (borger_key,
    startdato).
    """
    return (
        kept_visitations(visitations)
        .filter(pl.col("visitationskategori").ne_missing(AFMELDT))
        .rename({"visitation_id": "forloeb_id"})
        .select(COURSE_COLUMNS)
    )
