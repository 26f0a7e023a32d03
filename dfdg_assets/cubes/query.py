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
from dfdg_assets.core.settings import DataRoot
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
from dfdg_assets.dimensions.build import UNKNOWN_EDUCATION_TITLE, UNKNOWN_ORG_NAME
from dfdg_assets.sql import ident, literal

__all__ = [
    "FORMATS",
    "QueryError",
    "dfdg_sql",
    "format_result",
    "query_dfdg",
    "query_ydelsesaktivitet",
    "write_result",
]

FORMATS = ("table", "csv", "json", "parquet")

FACT_TABLES = {
    COURSE: "fct_visitation_uge",
    ACTIVITY: "fct_aktivitet_uge",
    CONVERSATION: "fct_samtale_uge",
    YR: "stg_ydelse",
}
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
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

# ------------------------------------------------------------------ SQL templates
# `{rows}` is the innermost scan of one fact (ROWS); the helper columns start with `_`, the
# attributes carry their own (quoted) names.

ROWS = """\
SELECT {columns}
FROM {table} AS f{joins}
WHERE {conditions}"""

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

# A distinct count of records (courses, conversations) per group.
COUNT_RECORDS = """\
SELECT {groups}count(DISTINCT r._id) AS {measure}
FROM (
{rows}
) AS r
GROUP BY ALL"""

# The activity measures: first one row per (group, activity), so every activity counts once per
# group (its hours once per month and once per quarter), then summed per group.
ACTIVITY_AGGREGATE = """\
SELECT {outer_groups}{measures}
FROM (
    SELECT {inner_groups}r._id{per_activity}
    FROM (
{rows}
    ) AS r
    GROUP BY ALL
) AS a
GROUP BY ALL"""

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

# Citizens from one kind of record, or from the union of course-weeks and activity-weeks.
COUNT_CITIZENS = """\
SELECT {groups}count(DISTINCT r._borger) AS antal_borgere
FROM (
{rows}
) AS r
GROUP BY ALL"""

# Citizens with a course and an activity in the same week (same municipality when selected).
COUNT_CITIZENS_BOTH = """\
SELECT {groups}count(DISTINCT v._borger) AS antal_borgere
FROM (
{course_rows}
) AS v
JOIN (
{activity_rows}
) AS a ON a._borger = v._borger AND a._uge = v._uge{same_municipality}
GROUP BY ALL"""

# The amount-weighted refund percentage of the YR rows with a percentage, exact in DECIMAL (so the
# answer does not depend on the order of summation) and null where the amounts sum to 0.
REFUND_PERCENTAGE = """\
SELECT {groups}CASE WHEN sum(r._beloeb) = 0 THEN NULL
       ELSE CAST(sum(r._beloeb * r._pct) AS DOUBLE) / CAST(sum(r._beloeb) AS DOUBLE)
       END AS gns_refusionsprocent
FROM (
{rows}
) AS r
WHERE r._pct IS NOT NULL
GROUP BY ALL"""
REFUND_HELPERS = {
    "_beloeb": "CAST(f.udbetalt_beloeb AS DECIMAL(24, 4))",
    "_pct": "CAST(f.refusionsprocent AS DECIMAL(12, 6))",
}

# The measures of one query, each aggregated on its own records, combined on the attributes:
# GROUP BY treats nulls as equal, so this is a full outer join that also matches null groups.
COMBINE = """\
WITH
{parts}
SELECT {columns}
FROM (
{union}
) AS m
GROUP BY ALL{order}"""


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

    def attribute(self, name: str) -> Attribute:
        return CUBES[self.cube].attributes[name]

    def selects(self, kind: str) -> bool:
        """Whether an attribute of `kind` is in `by` or `where`."""
        names = [*self.by, *(f.attribute for f in self.filters)]
        return any(self.attribute(a).kind == kind for a in names)

    @property
    def municipality_selected(self) -> bool:
        return self.kommuner is not None or any(a in KOMMUNE_ATTRIBUTES for a in self.by)


def _attribute_sql(name: str, kind: str | None = None) -> tuple[str, str | None]:
    """The expression showing an attribute on a fact row `f` of `kind`, and the join it needs."""
    if name == "beskaeftigelsesydelse" and kind != YR:  # the citizen-week's benefit(s)
        return "y.beskaeftigelsesydelse", "ydelse"
    if name in ROLE_COLUMNS:
        col = ROLE_COLUMNS[name]
        # an id missing from the dimension shows as the dimension's unknown member
        return (
            f"CASE WHEN f.{col} IS NULL THEN NULL ELSE coalesce(o_{col}.org_navn, {literal(UNKNOWN_ORG_NAME)}) END",
            name,
        )
    if name in ("kommunenavn", "regionskode", "regionsnavn"):
        return f"k.{name}", "kommune"
    if name in ("cpr", "fuldenavn"):
        return f"b.{name}", "borger"
    if name == "uddannelsestitel":
        return (
            "CASE WHEN f.uddannelseskode IS NULL THEN NULL "
            f"ELSE coalesce(u.titel, {literal(UNKNOWN_EDUCATION_TITLE)}) END",
            "uddannelse",
        )
    if name == "deltagertype":
        return "d.deltagertype", "deltager"
    return f"f.{name}", None


def _in(expr: str, values: Sequence[object]) -> str:
    known = [v for v in values if v is not None]
    parts = []
    if known:
        parts.append(f"{expr} IN ({', '.join(literal(v) for v in known)})")
    if len(known) < len(values):
        parts.append(f"{expr} IS NULL")
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _filter_sql(flt: Filter, kind: str | None = None) -> tuple[str, str | None]:
    expr, join = _attribute_sql(flt.attribute, kind)
    cond = _in(expr, flt.values)
    if flt.attribute in ROLE_COLUMNS:  # an organisation may be named by its id as well
        ids = [v for v in flt.values if v is not None]
        if ids:
            cond = f"({cond} OR {_in('f.' + ROLE_COLUMNS[flt.attribute], ids)})"
    return cond, join


def _applies(a: Attribute, kind: str) -> bool:
    return a.kind is None or a.kind == kind


def _rows(plan: Plan, kind: str, helpers: Mapping[str, str], attrs: Sequence[str]) -> str:
    """The innermost scan of one fact: helper columns, attributes, every filter of the plan that
    applies to this kind of record (period and municipality first, on the fact's own columns)."""
    joins: list[str] = []
    columns = [f"{expr} AS {alias}" for alias, expr in helpers.items()]
    for name in attrs:
        expr, join = _attribute_sql(name, kind)
        columns.append(f"{expr} AS {ident(name)}")
        if join and join not in joins:
            joins.append(join)
    conditions = []
    if plan.fra:
        conditions.append(f"f.maaned >= {literal(plan.fra)}")
    if plan.til:
        conditions.append(f"f.maaned <= {literal(plan.til)}")
    if plan.kommuner is not None:
        conditions.append(_in("f.kommunekode", sorted(plan.kommuner)) if plan.kommuner else "FALSE")
    for flt in plan.filters:
        if _applies(plan.attribute(flt.attribute), kind):
            cond, join = _filter_sql(flt, kind)
            conditions.append(cond)
            if join and join not in joins:
                joins.append(join)
    return ROWS.format(
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


def _citizens_sql(plan: Plan) -> str:
    course, activity = plan.selects(COURSE), plan.selects(ACTIVITY)
    keys = {"_borger": "f.borger_key", "_uge": "f.uge", "_kommune": "f.kommunekode"}
    if course and activity:
        v_attrs = [a for a in plan.by if plan.attribute(a).kind != ACTIVITY]
        a_attrs = [a for a in plan.by if plan.attribute(a).kind == ACTIVITY]
        owner = {a: "v" for a in v_attrs} | {a: "a" for a in a_attrs}
        return COUNT_CITIZENS_BOTH.format(
            groups=_groups(plan.by, owner),
            course_rows=_indent(_rows(plan, COURSE, keys, v_attrs), 4),
            activity_rows=_indent(_rows(plan, ACTIVITY, keys, a_attrs), 4),
            same_municipality=" AND a._kommune = v._kommune" if plan.municipality_selected else "",
        )
    kinds = [COURSE] if course else [ACTIVITY] if activity else [COURSE, ACTIVITY]
    rows = "\n    UNION ALL\n".join(_indent(_rows(plan, k, keys, plan.by), 4) for k in kinds)
    return COUNT_CITIZENS.format(groups=_groups(plan.by, "r"), rows=rows)


def _records_sql(plan: Plan, kind: str, measure: str) -> str:
    rows = _rows(plan, kind, {"_id": f"f.{RECORD_IDS[kind]}"}, plan.by)
    return COUNT_RECORDS.format(
        groups=_groups(plan.by, "r"), measure=measure, rows=_indent(rows, 4)
    )


def _refund_sql(plan: Plan) -> str:
    rows = _rows(plan, YR, REFUND_HELPERS, plan.by)
    return REFUND_PERCENTAGE.format(groups=_groups(plan.by, "r"), rows=_indent(rows, 4))


def dfdg_sql(plan: Plan) -> str:
    """The SQL answering `plan` (columns: the `by` attributes, then the measures), for either cube."""
    parts: list[tuple[str, str]] = []
    activity = [m for m in plan.measures if m in ACTIVITY_MEASURES]
    for m in plan.measures:
        if m == "antal_borgere":
            parts.append(("borgere", _citizens_sql(plan)))
        elif m == "antal_visitationsforloeb":
            parts.append(("visitationsforloeb", _records_sql(plan, COURSE, m)))
        elif m == "antal_samtaler":
            parts.append(("samtaler", _records_sql(plan, CONVERSATION, m)))
        elif m == "gns_refusionsprocent":
            parts.append(("refusion", _refund_sql(plan)))
        elif m == activity[0]:
            parts.append(("aktiviteter", _activity_aggregate(plan, activity)))
    columns = [f"m.{ident(a)}" for a in plan.by] + [
        f"max(m.{m}) AS {m}" if m in NULLABLE_MEASURES else f"coalesce(max(m.{m}), 0) AS {m}"
        for m in plan.measures
    ]
    order = ", ".join(f"{ident(a)} NULLS LAST" for a in plan.by)
    return COMBINE.format(
        parts=",\n".join(f"{name} AS (\n{_indent(sql, 4)}\n)" for name, sql in parts),
        columns=",\n       ".join(columns),
        union="\n    UNION ALL BY NAME\n".join(f"    SELECT * FROM {name}" for name, _ in parts),
        order=f"\nORDER BY {order}" if order else "",
    )


def _activity_aggregate(plan: Plan, measures: Sequence[str]) -> str:
    helpers = {"_id": "f.aktivitet_id"}
    for m in measures:
        helpers.update(ACTIVITY_HELPERS.get(m, {}))
    return ACTIVITY_AGGREGATE.format(
        outer_groups=_groups(plan.by, "a"),
        inner_groups=_groups(plan.by, "r"),
        measures=", ".join(f"{ACTIVITY_SUMS[m]} AS {m}" for m in measures),
        per_activity="".join(
            f",\n           {PER_ACTIVITY[m]}" for m in measures if m in PER_ACTIVITY
        ),
        rows=_indent(_rows(plan, ACTIVITY, helpers, plan.by), 8),
    )


# ------------------------------------------------------------------ from arguments to a plan
def _month_arg(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not _MONTH.fullmatch(str(value)):
        raise QueryError(f"ugyldig {name} {safe_value(value)}: brug YYYY-MM")
    return str(value)


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
    out: set[int] = set()
    for value in values:
        typed = _typed(attr, value)
        if typed is None:
            raise QueryError(f"{attr} har ingen tom gruppe (hver post har en kommune)")
        codes = [
            r[0]
            for r in con.execute(
                f"SELECT kommunekode FROM dim_kommune WHERE {attr} = {literal(typed)}"
            ).fetchall()
        ]
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
    plan = Plan(measures, by, fra=_month_arg("--fra", fra), til=_month_arg("--til", til), cube=cube)
    if plan.fra and plan.til and plan.fra > plan.til:
        raise QueryError(f"--fra {plan.fra} ligger efter --til {plan.til}")
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
def _open(
    source: str | Path | DataRoot | duckdb.DuckDBPyConnection,
) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """A read-only connection to the catalogue, and whether we opened it (and must close it)."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source, False
    if isinstance(source, DataRoot):
        path = source.catalogue
    else:
        p = Path(source)
        path = p if p.suffix == ".duckdb" or p.is_file() else DataRoot.of(p).catalogue
    if not path.is_file():
        raise QueryError(f"intet katalog i {path}: indlæs først data med `dfdg load`")
    return duckdb.connect(str(path), read_only=True), True


def _require_views(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    without_literals = re.sub(r"'(?:[^']|'')*'", "''", sql)
    needed = set(re.findall(r"\b((?:fct|dim|bdg|stg)_[a-z0-9_]+)\b", without_literals))
    missing = sorted(needed - views - tables)
    if missing:
        raise QueryError(
            f"kataloget mangler {', '.join(missing)}: er data indlæst og udrullet (`dfdg load`)?"
        )


def _query(
    cube: str,
    source: str | Path | DataRoot | duckdb.DuckDBPyConnection,
    measures: Sequence[str] | str,
    by: Sequence[str] | str,
    where: Mapping[str, Sequence[str] | str] | None,
    kommune: int | str | None,
    fra: str | None,
    til: str | None,
) -> pl.DataFrame:
    if isinstance(measures, str):
        measures = [measures]
    if isinstance(by, str):
        by = [by]
    # check the matrix before opening anything: a refused query needs no warehouse
    check(measures, by, where.keys() if where else None, cube)
    con, owned = _open(source)
    try:
        plan = plan_query(con, measures, by, where, kommune, fra, til, cube)
        sql = dfdg_sql(plan)
        _require_views(con, sql)
        # through the Arrow C stream interface: no pyarrow import (half a second at start-up)
        df = pl.DataFrame(con.sql(sql))
    finally:
        if owned:
            con.close()
    return df.select([*plan.by, *plan.measures])


def query_dfdg(
    catalogue_or_data_root: str | Path | DataRoot | duckdb.DuckDBPyConnection,
    measures: Sequence[str],
    by: Sequence[str] = (),
    where: Mapping[str, Sequence[str] | str] | None = None,
    kommune: int | str | None = None,
    fra: str | None = None,
    til: str | None = None,
) -> pl.DataFrame:
    """Measures of the `dfdg` cube by attributes, as a polars DataFrame.

    `catalogue_or_data_root`: the catalogue file (`warehouse/dfdg.duckdb`), a data root (folder
    or `DataRoot`), or an open DuckDB connection to the catalogue. `where` maps an attribute to
    the values to keep ('' = the null group); `kommune=K` is `where={"kommunekode": [K]}`;
    `fra`/`til` (YYYY-MM, inclusive) select weeks by the month they belong to (R2); without
    them every loaded week counts. Columns: the `by` attributes, then the measures; rows sorted
    by the `by` attributes (nulls last). Raises `QueryError` outside the bus matrix.
    """
    return _query("dfdg", catalogue_or_data_root, measures, by, where, kommune, fra, til)


def query_ydelsesaktivitet(
    catalogue_or_data_root: str | Path | DataRoot | duckdb.DuckDBPyConnection,
    measures: Sequence[str],
    by: Sequence[str] = (),
    where: Mapping[str, Sequence[str] | str] | None = None,
    kommune: int | str | None = None,
    fra: str | None = None,
    til: str | None = None,
) -> pl.DataFrame:
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
    """
    return _query(
        "ydelsesaktivitet", catalogue_or_data_root, measures, by, where, kommune, fra, til
    )


# ------------------------------------------------------------------ presenting a result
def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.2f}"
        return text[:-3] if text.endswith(".00") else text
    return str(value)


def _table(df: pl.DataFrame, right: Sequence[str] = ()) -> str:
    """A plain aligned text table (numbers and the `right` columns right-aligned, the null
    group empty)."""
    numeric = [dt.is_numeric() or c in right for c, dt in df.schema.items()]
    rows = [[_cell(v) for v in row] for row in df.iter_rows()]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(df.columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    out = [line(df.columns), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    out.append(f"({df.height} rækker)" if df.height != 1 else "(1 række)")
    return "\n".join(out) + "\n"


def format_result(df: pl.DataFrame, fmt: str = "table") -> str:
    """The result as text: `table` (aligned), `csv` (comma-separated, header, null as empty) or
    `json` (an array of row objects). Parquet is binary: use `write_result`."""
    if fmt == "table":
        return _table(df)
    if fmt == "csv":
        return df.write_csv(null_value="")
    if fmt == "json":
        return json.dumps(df.to_dicts(), ensure_ascii=False, indent=None) + "\n"
    if fmt == "parquet":
        raise QueryError("parquet er binært: angiv en fil med --out")
    raise QueryError(f"ukendt format {safe_value(fmt)}; kendte: {', '.join(FORMATS)}")


def write_result(df: pl.DataFrame, fmt: str, out: str | Path, formatter=None) -> Path:
    """Write the result to a file in any format (parquet included); text formats through
    `formatter` (default: `format_result`)."""
    path = Path(out)
    if path.parent and not path.parent.is_dir():
        raise QueryError(f"mappen {path.parent} findes ikke")
    if fmt == "parquet":
        df.write_parquet(path)
    else:
        path.write_text((formatter or format_result)(df, fmt), encoding="utf-8")
    return path


assert set(MEASURES) == {
    "antal_borgere",
    "antal_visitationsforloeb",
    "antal_samtaler",
    *ACTIVITY_MEASURES,
}
assert set(YA_MEASURES) == {"antal_borgere", *NULLABLE_MEASURES}
