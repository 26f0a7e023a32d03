"""The `dfdg` and `ydelsesaktivitet` cubes: measures by attributes, answered with DuckDB SQL over
the catalogue views.

    query_dfdg(data_root, ["antal_borgere"], by=["maaned", "visitationskategori"], kommune=101,
               fra="2020-01", til="2020-12")
    query_ydelsesaktivitet(data_root, ["antal_borgere", "gns_refusionsprocent"],
                           by=["maaned", "beskaeftigelsesydelse"])

The SQL is generated from the bus matrix (`busmatrix`): every measure is aggregated on the
records it counts, and the measures of one query are then combined on the `by` attributes
(null-safe, a full outer join in effect). Readings (SPEC section 4):

- every count is a distinct count per group, so a month's count is never a sum of weeks;
- `fra`/`til`, `kommune` and `--where` filters sit in the innermost scan of each fact, on the
  partition column `maaned` and the sort column `kommunekode`, so DuckDB skips the other months'
  files and the other municipalities' row groups;
- `antal_borgere` reads course-weeks for visitation attributes, activity-weeks for activity
  attributes, both joined on (citizen, week) when both are selected (and on the municipality when
  a municipality attribute is selected), and the union of the two otherwise;
- `hjaelpemiddeludgifter` is taken from the activity's row of the week holding its `startdato`;
- `antal_timer_aktiveret_pr_uge` adds an activity's hours once per group it is in force in;
- `ydelsesaktivitet` is the same engine over the weeks from 2020-01: `beskaeftigelsesydelse`
  joins the course-weeks and activity-weeks to `fct_borger_ydelse_uge` on (citizen, week), and
  `gns_refusionsprocent` is aggregated on the YR rows of `stg_ydelse`.

No Dagster import here: a query must not pay Dagster's start-up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from dfdg_assets.core.privacy import safe_value
from dfdg_assets.cubes.busmatrix import (
    ACTIVITY,
    CONVERSATION,
    COURSE,
    CUBES,
    KOMMUNE_ATTRIBUTES,
    MEASURES,
    ROLE_COLUMNS,
    YA_MEASURES,
    YR,
    Attribute,
    QueryError,
    check,
)
from dfdg_assets.cubes.shared import (
    FORMATS,
    Source,
    catalogue_names,
    check_format,
    month_range,
    narrow_to_months,
    open_catalogue,
    text_table,
    write_frame,
)
from dfdg_assets.dimensions.build import UNKNOWN_EDUCATION_TITLE, UNKNOWN_ORG_NAME
from dfdg_assets.sql import Params, ident, template

__all__ = [
    "FORMATS",
    "QueryError",
    "dfdg_sql",
    "format_result",
    "query_dfdg",
    "query_ydelsesaktivitet",
    "write_result",
]

#: The DFDG population by month and municipality (fct_borger_maaned): `antal_borgere` by time
#: (month or coarser) and municipality attributes only reads it instead of the weekly facts.
POPULATION = "population"
#: The DFDG citizen-weeks with their YR benefit(s) (fct_borger_ydelse_uge, R8): `antal_borgere`
#: of the ydelsesaktivitet cube by week, month and benefit only reads it instead of joining the
#: weekly facts to it (its citizen-weeks are the population's, built from the same facts).
BENEFIT_WEEKS = "benefit_weeks"
BENEFIT_WEEK_ATTRIBUTES = frozenset({"uge", "maaned", "beskaeftigelsesydelse"})
#: The same by month (fct_borger_ydelse_maaned: one row per citizen, month and benefit), read
#: when no attribute is finer than the month.
BENEFIT_MONTHS = "benefit_months"
BENEFIT_MONTH_ATTRIBUTES = frozenset({"maaned", "beskaeftigelsesydelse"})
FACT_TABLES = {
    COURSE: "fct_visitation_uge",
    ACTIVITY: "fct_aktivitet_uge",
    CONVERSATION: "fct_samtale_uge",
    YR: "stg_ydelse",
    POPULATION: "fct_borger_maaned",
    BENEFIT_WEEKS: "fct_borger_ydelse_uge",
    BENEFIT_MONTHS: "fct_borger_ydelse_maaned",
}
DISTINCT_CITIZENS = "count(DISTINCT r._borger)"
POPULATION_ATTRIBUTES = frozenset({"maaned", "kvartal", "aar", *KOMMUNE_ATTRIBUTES})
RECORD_IDS = {COURSE: "forloeb_id", ACTIVITY: "aktivitet_id", CONVERSATION: "samtale_id"}
ACTIVITY_MEASURES = (
    "antal_aktiveringsforloeb",
    "hjaelpemiddeludgifter",
    "antal_dage_aktiveret",
    "antal_timer_aktiveret_pr_uge",
)
#: Measures that stay null where they have no value (not 0) when measures are combined.
NULLABLE_MEASURES = ("gns_refusionsprocent",)
_INTEGER_ATTRIBUTES = frozenset(
    a for c in CUBES.values() for a, x in c.attributes.items() if x.integer
)

# ------------------------------------------------------------------ SQL pieces
# The statements are the `cube_*.sql` templates of `dfdg_assets.sql`; what is formatted into them
# is SQL written here, identifiers from the bus matrix (quoted) and parameter placeholders: every
# value is bound (`Params`). The helper columns start with `_`, the attributes carry their own
# (quoted) names.

# Dimensions joined to show an attribute: the join's name -> its clause.
JOINS = {
    "kommune": "LEFT JOIN dim_kommune AS k ON k.kommunekode = f.kommunekode",
    "borger": "LEFT JOIN dim_borger AS b ON b.borger_key = f.borger_key",
    "uddannelse": (
        "LEFT JOIN dim_uddannelse AS u ON u.uddannelseskode = f.uddannelseskode\n"
        "    AND u.uddannelseskodetype IS NOT DISTINCT FROM f.uddannelseskodetype"
    ),
    # inner join: a conversation without participants has no deltagertype row
    "deltager": "JOIN bdg_samtale_deltager AS d ON d.samtale_id = f.samtale_id AND d.maaned = f.maaned",
    # inner join: every DFDG citizen-week has one row per benefit, or 'Uden ydelse i YR' (R8)
    "ydelse": (
        "JOIN fct_borger_ydelse_uge AS y ON y.borger_key = f.borger_key AND y.uge = f.uge\n"
        "    AND y.maaned = f.maaned"
    ),
    **{
        role: f"LEFT JOIN dim_organisation AS o_{col} ON o_{col}.org_id = f.{col}"
        for role, col in ROLE_COLUMNS.items()
    },
}

# Per activity and group: the expense counts only from the row of the week holding startdato.
PER_ACTIVITY = {
    "hjaelpemiddeludgifter": "max(CASE WHEN r._uge = strftime(r._start, '%G-W%V') THEN r._udgift END) AS _udgift",
    "antal_dage_aktiveret": "sum(r._dage) AS _dage",
    "antal_timer_aktiveret_pr_uge": "any_value(r._timer) AS _timer",
}
ACTIVITY_SUMS = {
    "antal_aktiveringsforloeb": "count(*)",
    "hjaelpemiddeludgifter": "round(coalesce(sum(a._udgift), 0), 2)",
    "antal_dage_aktiveret": "CAST(coalesce(sum(a._dage), 0) AS BIGINT)",
    "antal_timer_aktiveret_pr_uge": "round(coalesce(sum(a._timer), 0), 2)",
}
ACTIVITY_HELPERS = {
    "hjaelpemiddeludgifter": {
        "_uge": "f.uge",
        "_start": "f.startdato",
        "_udgift": "f.hjaelpemiddel_udgift",
    },
    "antal_dage_aktiveret": {"_dage": "f.dage_i_uge"},
    "antal_timer_aktiveret_pr_uge": {"_timer": "f.timer_pr_uge"},
}
REFUND_HELPERS = {
    "_beloeb": "CAST(f.udbetalt_beloeb AS DECIMAL(24, 4))",
    "_pct": "CAST(f.refusionsprocent AS DECIMAL(12, 6))",
}


# ------------------------------------------------------------------ the plan of one query
@dataclass(frozen=True)
class Filter:
    """attribute IN values (None = the null group); municipality filters are resolved to codes."""

    attribute: str
    values: tuple[object, ...]


@dataclass
class Plan:
    measures: list[str]
    by: list[str]
    filters: list[Filter] = field(default_factory=list)
    kommuner: frozenset[int] | None = None  # the municipality filter, resolved to codes
    fra: str | None = None
    til: str | None = None
    cube: str = "dfdg"
    population: bool = False  # the catalogue holds fct_borger_maaned for every rolled-out month
    benefit_weeks: bool = True  # citizens by week, month and benefit read fct_borger_ydelse_uge
    benefit_months: bool = False  # the catalogue holds fct_borger_ydelse_maaned for every month

    def attribute(self, name: str) -> Attribute:
        return CUBES[self.cube].attributes[name]

    def selects(self, kind: str) -> bool:
        """Whether an attribute of `kind` is in `by` or `where`."""
        names = [*self.by, *(f.attribute for f in self.filters)]
        return any(self.attribute(a).kind == kind for a in names)

    @property
    def municipality_selected(self) -> bool:
        return self.kommuner is not None or any(a in KOMMUNE_ATTRIBUTES for a in self.by)


def _attribute_sql(name: str, params: Params, kind: str | None = None) -> tuple[str, str | None]:
    """The expression showing an attribute on a fact row `f` of `kind`, and the join it needs."""
    if name == "beskaeftigelsesydelse" and kind not in (YR, BENEFIT_WEEKS, BENEFIT_MONTHS):
        # the citizen-week's benefit(s)
        return "y.beskaeftigelsesydelse", "ydelse"
    if name in ROLE_COLUMNS:
        col = ROLE_COLUMNS[name]
        # an id missing from the dimension shows as the dimension's unknown member
        unknown = params.bind(UNKNOWN_ORG_NAME)
        return (
            f"CASE WHEN f.{col} IS NULL THEN NULL ELSE coalesce(o_{col}.org_navn, {unknown}) END",
            name,
        )
    if name in ("kommunenavn", "regionskode", "regionsnavn"):
        return f"k.{name}", "kommune"
    if name in ("cpr", "fuldenavn"):
        return f"b.{name}", "borger"
    if name == "uddannelsestitel":
        unknown = params.bind(UNKNOWN_EDUCATION_TITLE)
        return (
            f"CASE WHEN f.uddannelseskode IS NULL THEN NULL ELSE coalesce(u.titel, {unknown}) END",
            "uddannelse",
        )
    if name == "deltagertype":
        return "d.deltagertype", "deltager"
    return f"f.{name}", None


def _in(expr: str, values: Sequence[object], params: Params) -> str:
    known = [v for v in values if v is not None]
    parts = []
    if known:
        parts.append(f"{expr} IN ({', '.join(params.bind(v) for v in known)})")
    if len(known) < len(values):
        parts.append(f"{expr} IS NULL")
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _filter_sql(flt: Filter, params: Params, kind: str | None = None) -> tuple[str, str | None]:
    expr, join = _attribute_sql(flt.attribute, params, kind)
    cond = _in(expr, flt.values, params)
    if flt.attribute in ROLE_COLUMNS:  # an organisation may be named by its id as well
        ids = [v for v in flt.values if v is not None]
        if ids:
            cond = f"({cond} OR {_in('f.' + ROLE_COLUMNS[flt.attribute], ids, params)})"
    return cond, join


def _applies(a: Attribute, kind: str) -> bool:
    return a.kind is None or a.kind == kind


def _period_conditions(plan: Plan, params: Params) -> list[str]:
    """The period and municipality conditions, on the fact's own (partition, sort) columns."""
    conditions = []
    if plan.fra:
        conditions.append(f"f.maaned >= {params.bind(plan.fra)}")
    if plan.til:
        conditions.append(f"f.maaned <= {params.bind(plan.til)}")
    if plan.kommuner is not None:
        kommuner = sorted(plan.kommuner)
        conditions.append(_in("f.kommunekode", kommuner, params) if kommuner else "FALSE")
    return conditions


def _rows(
    plan: Plan, params: Params, kind: str, helpers: Mapping[str, str], attrs: Sequence[str]
) -> str:
    """The innermost scan of one fact: helper columns, attributes, every filter of the plan that
    applies to this kind of record (period and municipality first, on the fact's own columns)."""
    joins: list[str] = []

    def joined(join: str | None) -> None:
        if join and join not in joins:
            joins.append(join)

    columns = [f"{expr} AS {alias}" for alias, expr in helpers.items()]
    for name in attrs:
        expr, join = _attribute_sql(name, params, kind)
        columns.append(f"{expr} AS {ident(name)}")
        joined(join)
    conditions = _period_conditions(plan, params)
    for flt in plan.filters:
        if _applies(plan.attribute(flt.attribute), kind):
            cond, join = _filter_sql(flt, params, kind)
            conditions.append(cond)
            joined(join)
    return template("cube_rows").format(
        columns=",\n       ".join(columns),
        table=FACT_TABLES[kind],
        joins="".join(f"\n{JOINS[j]}" for j in joins),
        conditions="\n  AND ".join(conditions or ["TRUE"]),
    )


def _groups(attrs: Sequence[str], alias: str | Mapping[str, str]) -> str:
    def owner(a: str) -> str:
        return alias if isinstance(alias, str) else alias[a]

    return "".join(f"{owner(a)}.{ident(a)}, " for a in attrs)


def _indent(sql: str, n: int) -> str:
    return "\n".join(" " * n + line for line in sql.splitlines())


def _benefit_table(plan: Plan, names: set[str]) -> str | None:
    """The benefit table that answers `antal_borgere` of `ydelsesaktivitet` alone (no
    municipality selected, every attribute in it), or None."""
    if plan.cube != "ydelsesaktivitet" or plan.kommuner is not None:
        return None
    if plan.benefit_months and names <= BENEFIT_MONTH_ATTRIBUTES:
        return BENEFIT_MONTHS
    if plan.benefit_weeks and names <= BENEFIT_WEEK_ATTRIBUTES:
        return BENEFIT_WEEKS
    return None


def _citizens_sql(plan: Plan, params: Params) -> str:
    course, activity = plan.selects(COURSE), plan.selects(ACTIVITY)
    keys = {"_borger": "f.borger_key", "_uge": "f.uge", "_kommune": "f.kommunekode"}
    if course and activity:
        v_attrs = [a for a in plan.by if plan.attribute(a).kind != ACTIVITY]
        a_attrs = [a for a in plan.by if plan.attribute(a).kind == ACTIVITY]
        owner = {a: "v" for a in v_attrs} | {a: "a" for a in a_attrs}
        return template("cube_citizens_both").format(
            groups=_groups(plan.by, owner),
            course_rows=_indent(_rows(plan, params, COURSE, keys, v_attrs), 4),
            activity_rows=_indent(_rows(plan, params, ACTIVITY, keys, a_attrs), 4),
            same_municipality=" AND a._kommune = v._kommune" if plan.municipality_selected else "",
        )
    names = {*plan.by, *(f.attribute for f in plan.filters)}
    if plan.population and not (course or activity) and names <= POPULATION_ATTRIBUTES:
        rows = _indent(_rows(plan, params, POPULATION, {"_borger": "f.borger_key"}, plan.by), 4)
        # the population has one row per (municipality, citizen, month): a group of one month
        # and one municipality holds each citizen once, so its rows are its citizens
        one_municipality = "kommunekode" in plan.by or (
            plan.kommuner is not None and len(plan.kommuner) <= 1
        )
        count = "count(*)" if "maaned" in plan.by and one_municipality else DISTINCT_CITIZENS
        return template("cube_citizens").format(
            groups=_groups(plan.by, "r"), rows=rows, count=count
        )
    # citizens by benefit from the benefit tables, whose citizen-weeks are the population's (a
    # course or an activity in force): the join of the weekly facts to them gives the same
    # citizens. By month and benefit the monthly table's rows are the citizens.
    kind = _benefit_table(plan, names)
    if kind is not None:
        rows = _indent(_rows(plan, params, kind, {"_borger": "f.borger_key"}, plan.by), 4)
        per_row = kind == BENEFIT_MONTHS and set(plan.by) >= BENEFIT_MONTH_ATTRIBUTES
        return template("cube_citizens").format(
            groups=_groups(plan.by, "r"),
            rows=rows,
            count="count(*)" if per_row else DISTINCT_CITIZENS,
        )
    kinds = [COURSE] if course else [ACTIVITY] if activity else [COURSE, ACTIVITY]
    rows = "\n    UNION ALL\n".join(
        _indent(_rows(plan, params, k, keys, plan.by), 4) for k in kinds
    )
    return template("cube_citizens").format(
        groups=_groups(plan.by, "r"), rows=rows, count=DISTINCT_CITIZENS
    )


def _records_sql(plan: Plan, params: Params, kind: str, measure: str) -> str:
    rows = _rows(plan, params, kind, {"_id": f"f.{RECORD_IDS[kind]}"}, plan.by)
    return template("cube_records").format(
        groups=_groups(plan.by, "r"), measure=measure, rows=_indent(rows, 4)
    )


def _refund_sql(plan: Plan, params: Params) -> str:
    rows = _rows(plan, params, YR, REFUND_HELPERS, plan.by)
    return template("cube_refund").format(groups=_groups(plan.by, "r"), rows=_indent(rows, 4))


def _activity_sql(plan: Plan, params: Params, measures: Sequence[str]) -> str:
    helpers = {"_id": "f.aktivitet_id"}
    for m in measures:
        helpers.update(ACTIVITY_HELPERS.get(m, {}))
    return template("cube_activities").format(
        outer_groups=_groups(plan.by, "a"),
        inner_groups=_groups(plan.by, "r"),
        measures=", ".join(f"{ACTIVITY_SUMS[m]} AS {m}" for m in measures),
        per_activity="".join(
            f",\n           {PER_ACTIVITY[m]}" for m in measures if m in PER_ACTIVITY
        ),
        rows=_indent(_rows(plan, params, ACTIVITY, helpers, plan.by), 8),
    )


def _parts(plan: Plan, params: Params) -> list[tuple[str, str]]:
    """One named aggregate per kind of measure (the activity measures share one)."""
    parts: list[tuple[str, str]] = []
    activity = [m for m in plan.measures if m in ACTIVITY_MEASURES]
    for m in plan.measures:
        if m == "antal_borgere":
            parts.append(("borgere", _citizens_sql(plan, params)))
        elif m == "antal_visitationsforloeb":
            parts.append(("visitationsforloeb", _records_sql(plan, params, COURSE, m)))
        elif m == "antal_samtaler":
            parts.append(("samtaler", _records_sql(plan, params, CONVERSATION, m)))
        elif m == "gns_refusionsprocent":
            parts.append(("refusion", _refund_sql(plan, params)))
        elif m == activity[0]:
            parts.append(("aktiviteter", _activity_sql(plan, params, activity)))
    return parts


def dfdg_sql(plan: Plan) -> tuple[str, Params]:
    """The SQL answering `plan` (columns: the `by` attributes, then the measures), for either
    cube, and the values it binds."""
    params = Params()
    parts = _parts(plan, params)
    columns = [f"m.{ident(a)}" for a in plan.by] + [
        f"max(m.{m}) AS {m}" if m in NULLABLE_MEASURES else f"coalesce(max(m.{m}), 0) AS {m}"
        for m in plan.measures
    ]
    order = ", ".join(f"{ident(a)} NULLS LAST" for a in plan.by)
    sql = template("cube_combine").format(
        parts=",\n".join(f"{name} AS (\n{_indent(sql, 4)}\n)" for name, sql in parts),
        columns=",\n       ".join(columns),
        union="\n    UNION ALL BY NAME\n".join(f"    SELECT * FROM {name}" for name, _ in parts),
        order=f"\nORDER BY {order}" if order else "",
    )
    return sql, params


# ------------------------------------------------------------------ from arguments to a plan
def _typed(attr: str, value: object) -> object:
    """A --where value as the attribute's type; '' (or None) selects the null group."""
    if value is None or value == "":
        return None
    if attr in _INTEGER_ATTRIBUTES:
        try:
            return int(str(value).strip())
        except ValueError:
            raise QueryError(f"{attr} skal være et heltal, ikke {safe_value(value)}") from None
    return str(value)


def _municipalities(
    con: duckdb.DuckDBPyConnection, attr: str, values: Sequence[object]
) -> set[int]:
    """The municipality codes a filter on a municipality or region attribute names."""
    if attr not in KOMMUNE_ATTRIBUTES:  # an identifier placed in SQL: from the bus matrix only
        raise QueryError(f"{safe_value(attr)} er ikke en kommune-attribut")
    out: set[int] = set()
    for value in values:
        typed = _typed(attr, value)
        if typed is None:
            raise QueryError(f"{attr} har ingen tom gruppe (hver post har en kommune)")
        sql = template("cube_municipalities").format(attribute=ident(attr))
        codes = [r[0] for r in con.execute(sql, {"value": typed}).fetchall()]
        if not codes:
            raise QueryError(f"ukendt {attr} {safe_value(value)}")
        out.update(codes)
    return out


def plan_query(
    con: duckdb.DuckDBPyConnection,
    measures: Sequence[str],
    by: Sequence[str] = (),
    where: Mapping[str, Sequence[object] | object] | None = None,
    kommune: int | str | None = None,
    fra: str | None = None,
    til: str | None = None,
    cube: str = "dfdg",
) -> Plan:
    """Check a query against the cube's bus matrix and resolve its filters (municipality names
    and regions become municipality codes, so they prune the fact scans like `--kommune`).

    A cube with a first month (ydelsesaktivitet: 2020-01) clips `fra` to it: a period reaching
    back before it covers only the cube's weeks, one wholly before it is empty."""
    measures = list(dict.fromkeys(measures))
    by = list(dict.fromkeys(by))
    filters: dict[str, list[object]] = {
        a: list(v) if isinstance(v, list | tuple | set | frozenset) else [v]
        for a, v in (where or {}).items()
    }
    check(measures, by, filters, cube)
    fra, til = month_range(fra, til)
    plan = Plan(measures, by, fra=fra, til=til, cube=cube)
    first = CUBES[cube].first_month
    if first and (plan.fra is None or plan.fra < first):
        plan.fra = first
    # municipality and region filters become one set of municipality codes (all must hold)
    kommuner = _municipalities(con, "kommunekode", [kommune]) if kommune is not None else None
    for attr, values in filters.items():
        if not values:
            raise QueryError(f"--where {attr} mangler en værdi")
        if attr in KOMMUNE_ATTRIBUTES:
            codes = _municipalities(con, attr, values)
            kommuner = codes if kommuner is None else kommuner & codes
        else:
            plan.filters.append(Filter(attr, tuple(_typed(attr, v) for v in values)))
    plan.kommuner = frozenset(kommuner) if kommuner is not None else None
    return plan


# ------------------------------------------------------------------ running a query
def _require_views(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    needed = set(re.findall(r"\b((?:fct|dim|bdg|stg)_[a-z0-9_]+)\b", sql))
    missing = sorted(needed - catalogue_names(con))
    if missing:
        raise QueryError(
            f"kataloget mangler {', '.join(missing)}: er data indlæst og udrullet (`dfdg load`)?"
        )


class CubeQuery:
    """The query function of one cube: `query_<cube>(source, measures, by, ...)` (see
    `query_dfdg`)."""

    def __init__(self, cube: str, doc: str) -> None:
        self.cube = cube
        self.__name__ = f"query_{cube}"
        self.__doc__ = doc

    def __call__(
        self,
        catalogue_or_data_root: Source,
        measures: Sequence[str] | str,
        by: Sequence[str] | str = (),
        where: Mapping[str, Sequence[str] | str] | None = None,
        kommune: int | str | None = None,
        fra: str | None = None,
        til: str | None = None,
    ) -> pl.DataFrame:
        measures = [measures] if isinstance(measures, str) else measures
        by = [by] if isinstance(by, str) else by
        # check the matrix before opening anything: a refused query needs no warehouse
        check(measures, by, where.keys() if where else None, self.cube)
        con, owned = open_catalogue(catalogue_or_data_root)
        try:
            plan = plan_query(con, measures, by, where, kommune, fra, til, self.cube)
            if owned:  # a caller's connection is left as it was given
                narrow_to_months(con, list(FACT_TABLES.values()), plan.fra, plan.til)
            names = catalogue_names(con)
            plan.population = FACT_TABLES[POPULATION] in names
            plan.benefit_months = FACT_TABLES[BENEFIT_MONTHS] in names
            sql, params = dfdg_sql(plan)
            _require_views(con, sql)
            # through the Arrow C stream interface: no pyarrow import (half a second at start-up)
            df = pl.DataFrame(con.sql(sql, params=params))
        finally:
            if owned:
                con.close()
        return df.select([*plan.by, *plan.measures])


query_dfdg = CubeQuery(
    "dfdg",
    """Measures of the `dfdg` cube by attributes, as a polars DataFrame.

    `catalogue_or_data_root`: the catalogue file (`warehouse/dfdg.duckdb`), a data root (folder
    or `DataRoot`), or an open DuckDB connection to the catalogue. `where` maps an attribute to
    the values to keep ('' = the null group); `kommune=K` is `where={"kommunekode": [K]}`;
    `fra`/`til` (YYYY-MM, inclusive) select weeks by the month they belong to (R2); without
    them every loaded week counts. Columns: the `by` attributes, then the measures; rows sorted
    by the `by` attributes (nulls last). Raises `QueryError` outside the bus matrix.
    """,
)

query_ydelsesaktivitet = CubeQuery(
    "ydelsesaktivitet",
    """Measures of the `ydelsesaktivitet` cube by attributes, as a polars DataFrame.

    Arguments, columns and sorting as `query_dfdg`. Measures:

    - `antal_borgere`: as in `dfdg` (every attribute `dfdg` allows for it, so no samtale ones),
      plus `beskaeftigelsesydelse`: the benefit(s) of the citizen-week's YR rows, or
      `Uden ydelse i YR` (R8); a citizen with two benefits in a week counts under both, once in
      a total. `kommunekode` (and its name and region) is, as in `dfdg`, that of the courses
      and activities placing the citizen in the population.
    - `gns_refusionsprocent`: sum(udbetalt_beloeb * refusionsprocent) / sum(udbetalt_beloeb)
      over the current YR rows with a percentage (rows without one are left out), whether or not
      the citizen is in the DFDG population; negative amounts (corrections) weigh as they are;
      null where the amounts sum to 0. Allowed by `beskaeftigelsesydelse`, the municipality
      attributes (the YR row's, i.e. the paying municipality) and time only. It stays null (not
      0) on rows that only another measure has. Computed in DECIMAL (amounts to 4, percentages
      to 6 decimals), so the answer does not depend on the order of summation.

    Period: the cube holds the weeks belonging to 2020-01 and later only. Decision: a `fra`
    before 2020-01 (or none) is clipped to 2020-01, not refused, so "from the start" works the
    same in both cubes; a period wholly before 2020-01 gives no rows (or, without `by`, the
    empty answer: 0 citizens, null percentage). Raises `QueryError` outside the cube's bus
    matrix, naming the measure and the attribute.
    """,
)


# ------------------------------------------------------------------ presenting a result
def format_result(df: pl.DataFrame, fmt: str = "table") -> str:
    """The result as text: `table` (aligned), `csv` (comma-separated, header, null as empty) or
    `json` (an array of row objects). Parquet is binary: use `write_result`."""
    if fmt == "table":
        return text_table(df)
    if fmt == "csv":
        return df.write_csv(null_value="")
    if fmt == "json":
        return json.dumps(df.to_dicts(), ensure_ascii=False, indent=None) + "\n"
    check_format(fmt)
    raise AssertionError(fmt)


def write_result(df: pl.DataFrame, fmt: str, out: str | Path) -> Path:
    """Write the result to a file in any format (parquet included)."""
    return write_frame(df, fmt, out, format_result)


assert set(MEASURES) == {
    "antal_borgere",
    "antal_visitationsforloeb",
    "antal_samtaler",
    *ACTIVITY_MEASURES,
}
assert set(YA_MEASURES) == {"antal_borgere", *NULLABLE_MEASURES}
