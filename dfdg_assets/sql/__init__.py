"""The SQL of the product as package data (`dfdg_assets/sql/*.sql`), and the one way to quote an
identifier or a literal where DuckDB cannot bind a parameter (view definitions, comments)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources


@cache
def statement(name: str) -> str:
    """The text of `dfdg_assets/sql/<name>.sql`."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


@cache
def template(name: str) -> str:
    """`dfdg_assets/sql/<name>.sql` without its comment lines and final newline: a piece that is
    formatted into a larger statement (its `{placeholders}` filled with checked identifiers and
    parameter names)."""
    lines = statement(name).splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--"))


class Params(dict[str, object]):
    """The parameters of one statement being built: `bind(value)` keeps the value and gives the
    placeholder (`$p0`, `$p1`, ...) to write into the SQL in its place."""

    def bind(self, value: object) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"${name}"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL literal, for the statements DuckDB cannot prepare (DDL): NULL, an int or a string."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        raise TypeError("no boolean attributes")
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def files_view(view: str, files: Iterable[object], temporary: bool = False) -> str:
    """The statement creating the view `view` over exactly these Parquet files
    (`catalogue_view.sql`; `temporary`: a view of the connection only)."""
    return statement("catalogue_view").format(
        scope="TEMP " if temporary else "",
        view=ident(view),
        files=", ".join(literal(str(f)) for f in files),
    )
