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
from dfdg_assets.sql import statement, template

# Each ends with a line break: a statement placed inside parentheses must not end in a comment.
COURSES_SQL = template("rollout_courses") + "\n"
#: R5 over a materialized `courses` table and a registered `weeks` table (one or more months).
WEEKS_OF_COURSES_SQL = template("rollout_weeks_of_courses") + "\n"
#: R4 + R5 in one statement over `visitations` and `weeks`.
COURSE_WEEKS_SQL = (
    template("rollout_course_weeks").format(
        courses=COURSES_SQL, weeks_of_courses=WEEKS_OF_COURSES_SQL
    )
    + "\n"
)


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


def load_visitations(con: duckdb.DuckDBPyConnection, parquet: Any) -> None:
    """The table `visitations` from a parquet file of R3-resolved visitations."""
    con.execute(statement("rollout_load_visitations"), {"path": str(parquet)})


def load_courses(con: duckdb.DuckDBPyConnection, parquet: Any) -> int:
    """Read R3-resolved visitations from a parquet file and build the `courses` table (R4)."""
    load_visitations(con, parquet)
    con.execute(template("rollout_create_courses").format(courses=COURSES_SQL))
    con.execute("DROP TABLE visitations")
    return con.execute("SELECT count(*) FROM courses").fetchall()[0][0]


def write_month_sql(con: duckdb.DuckDBPyConnection, month: str, target: Any) -> int:
    """R5 for one month over the `courses` table, sorted like the product's partitions and
    written with `COPY ... TO parquet` (zstd); returns the rows written."""
    con.register("weeks", week_frame(normalize_months([month])).to_arrow())
    try:
        sql = template("rollout_write_month").format(weeks_of_courses=WEEKS_OF_COURSES_SQL)
        res = con.execute(sql, {"target": str(target)}).fetchall()
    finally:
        con.unregister("weeks")
    return int(res[0][0]) if res else 0
