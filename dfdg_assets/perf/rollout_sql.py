"""Reference implementation of R4 (visitation courses) + R5 (course weeks) in plain DuckDB SQL.

For benchmarking and cross-checking the polars rules (`dfdg_assets.rules`): same input
(R3-resolved visitations) and the same output rows as
`course_weeks(build_courses(visitations), months)`.
"""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from dfdg_assets.core.weeks import week_frame
from dfdg_assets.rules.weekindex import normalize_months

COURSES_SQL = """
WITH v AS (
    SELECT *, CAST(visitationstidspunkt AS DATE) AS startdato FROM visitations
),
kept AS (  -- R4(a): latest time per citizen and date; tie -> greater visitation_id as text
    SELECT * FROM v
    QUALIFY row_number() OVER (
        PARTITION BY borger_key, startdato
        ORDER BY visitationstidspunkt DESC, visitation_id DESC
    ) = 1
),
chained AS (  -- R4(b)(c): one chain per citizen, ends at the next kept visitation
    SELECT *,
        coalesce(lead(startdato) OVER (PARTITION BY borger_key ORDER BY startdato),
                 DATE '9999-12-31') AS slutdato
    FROM kept
)
SELECT visitation_id AS forloeb_id, borger_key, kommunekode, startdato, slutdato,
       ydelsesgruppe, visitationskategori, visiterende_org_id
FROM chained
WHERE visitationskategori IS DISTINCT FROM 'Afmeldt'  -- R4(d)
"""

COURSE_WEEKS_SQL = f"""
WITH courses AS ({COURSES_SQL})
SELECT c.forloeb_id, c.borger_key, w.uge, w.maaned, w.kvartal, w.aar,
       c.kommunekode, c.ydelsesgruppe, c.visitationskategori, c.visiterende_org_id
FROM courses c
JOIN weeks w ON c.startdato <= w.uge_soendag AND c.slutdato > w.uge_mandag  -- R5
"""


def _arrow(frame: Any) -> pa.Table:
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if isinstance(frame, pl.DataFrame):
        return frame.to_arrow()
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatchReader):
        return frame.read_all()
    raise TypeError(f"expected an Arrow table or a polars frame, got {type(frame).__name__}")


def course_weeks_relation(
    con: duckdb.DuckDBPyConnection, visitations: Any, months: list[str]
) -> duckdb.DuckDBPyRelation:
    """Register the inputs on `con` and return the (lazy) course-week relation."""
    con.register("visitations", _arrow(visitations))
    con.register("weeks", week_frame(normalize_months(months)).to_arrow())
    return con.sql(COURSE_WEEKS_SQL)


def course_weeks_sql(visitations: Any, months: list[str]) -> pl.DataFrame:
    """R4 + R5 in DuckDB SQL: one row per (course, ISO week of `months`).

    `visitations` is an Arrow table or a polars (Lazy)DataFrame of R3-resolved visitations.
    Columns as `dfdg_assets.rules.COURSE_WEEK_COLUMNS`; row order is not defined.
    """
    con = duckdb.connect()
    try:
        return pl.from_arrow(course_weeks_relation(con, visitations, months).to_arrow_table())  # type: ignore[return-value]
    finally:
        con.close()


def courses_sql(visitations: Any) -> pl.DataFrame:
    """R4 only, in DuckDB SQL (columns as `dfdg_assets.rules.COURSE_COLUMNS`)."""
    con = duckdb.connect()
    try:
        con.register("visitations", _arrow(visitations))
        return pl.from_arrow(con.sql(COURSES_SQL).to_arrow_table())  # type: ignore[return-value]
    finally:
        con.close()


#: R5 over a materialized `courses` table and a registered `weeks` table (one or more months).
WEEKS_OF_COURSES_SQL = """
SELECT c.forloeb_id, c.borger_key, w.uge, w.maaned, w.kvartal, w.aar,
       c.kommunekode, c.ydelsesgruppe, c.visitationskategori, c.visiterende_org_id
FROM courses c
JOIN weeks w ON c.startdato <= w.uge_soendag AND c.slutdato > w.uge_mandag  -- R5
"""

#: The sort of the product's fct_visitation_uge partitions (row groups prune on municipality).
PARTITION_ORDER = "kommunekode, borger_key, uge"


def _quote(path: Any) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def load_courses(con: duckdb.DuckDBPyConnection, parquet: Any) -> int:
    """Read R3-resolved visitations from a parquet file and build the `courses` table (R4)."""
    con.execute(
        f"CREATE OR REPLACE TABLE visitations AS SELECT * FROM read_parquet({_quote(parquet)})"
    )
    con.execute(f"CREATE OR REPLACE TABLE courses AS {COURSES_SQL}")
    con.execute("DROP TABLE visitations")
    return con.execute("SELECT count(*) FROM courses").fetchall()[0][0]


def write_month_sql(con: duckdb.DuckDBPyConnection, month: str, target: Any) -> int:
    """R5 for one month over the `courses` table, sorted like the product's partitions and
    written with `COPY ... TO parquet` (zstd); returns the rows written."""
    con.register("weeks", week_frame(normalize_months([month])).to_arrow())
    try:
        res = con.execute(
            f"COPY ({WEEKS_OF_COURSES_SQL} ORDER BY {PARTITION_ORDER}) TO {_quote(target)} "
            "(FORMAT parquet, COMPRESSION zstd)"
        ).fetchall()
    finally:
        con.unregister("weeks")
    return int(res[0][0]) if res else 0
