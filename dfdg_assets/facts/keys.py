"""Key and foreign-key checks of the fact, bridge and dimension tables, as polars (counts only,
never values): `noegle_unik` (the key is unique and never null) and `fremmednoegler` (every
non-null foreign key resolves to a member of the table it refers to). Both are ERROR: a broken key
is wrong data the operator must act on (re-run the month, or report the delivery)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import dagster as dg
import polars as pl

from dfdg_assets.core.checks import ERROR, Verdict
from dfdg_assets.core.keysets import MemberSet, has_duplicates

FK = tuple[list[str], str, list[str]]  # (columns, referenced table, its columns)

# table -> (key columns, foreign keys)
KEYS: dict[str, tuple[list[str], list[FK]]] = {
    "fct_visitation_uge": (
        ["forloeb_id", "uge"],
        [
            (["borger_key"], "dim_borger", ["borger_key"]),
            (["kommunekode"], "dim_kommune", ["kommunekode"]),
            (["uge"], "dim_tid_uge", ["uge"]),
            (["forloeb_id"], "stg_visitationsforloeb", ["forloeb_id"]),
            (["visiterende_org_id"], "dim_organisation", ["org_id"]),
        ],
    ),
    "fct_aktivitet_uge": (
        ["aktivitet_id", "uge"],
        [
            (["borger_key"], "dim_borger", ["borger_key"]),
            (["kommunekode"], "dim_kommune", ["kommunekode"]),
            (["uge"], "dim_tid_uge", ["uge"]),
            (["ansvarlig_org_id"], "dim_organisation", ["org_id"]),
            (["aktiverende_org_id"], "dim_organisation", ["org_id"]),
            (
                ["uddannelseskode", "uddannelseskodetype"],
                "dim_uddannelse",
                ["uddannelseskode", "uddannelseskodetype"],
            ),
        ],
    ),
    "fct_samtale_uge": (
        ["samtale_id"],
        [
            (["borger_key"], "dim_borger", ["borger_key"]),
            (["kommunekode"], "dim_kommune", ["kommunekode"]),
            (["uge"], "dim_tid_uge", ["uge"]),
            (["indkaldende_org_id"], "dim_organisation", ["org_id"]),
        ],
    ),
    # derived from the two facts above, whose foreign keys are checked: its key only
    "fct_borger_maaned": (["kommunekode", "borger_key"], []),
    "bdg_samtale_deltager": (
        ["samtale_id", "deltagertype"],
        [(["samtale_id"], "fct_samtale_uge", ["samtale_id"])],
    ),
    "fct_borger_ydelse_uge": (
        ["borger_key", "uge", "beskaeftigelsesydelse"],
        [
            (["borger_key"], "dim_borger", ["borger_key"]),
            (["uge"], "dim_tid_uge", ["uge"]),
        ],
    ),
    # derived from fct_borger_ydelse_uge, whose foreign keys are checked: its key only
    "fct_borger_ydelse_maaned": (["borger_key", "maaned", "beskaeftigelsesydelse"], []),
    "fct_befolkning_16_66": (
        ["kommunekode"],
        [(["kommunekode"], "dim_kommune", ["kommunekode"])],
    ),
    "dim_tid_uge": (["uge"], []),
    "dim_tid_dag": (["dato"], [(["uge"], "dim_tid_uge", ["uge"])]),
    "dim_region": (["regionskode"], []),
    "dim_kommune": (["kommunekode"], [(["regionskode"], "dim_region", ["regionskode"])]),
    "dim_organisation": (["org_id"], [(["kommunekode"], "dim_kommune", ["kommunekode"])]),
    "dim_uddannelse": (["uddannelse_key"], []),
    "dim_borger": (["borger_key"], [(["kommunekode"], "dim_kommune", ["kommunekode"])]),
}

# Referenced tables read for the checked month only: a bridge row of month M refers to a
# conversation held in M.
SAME_MONTH = frozenset({"fct_samtale_uge"})


def duplicate_keys(df: pl.DataFrame, key: list[str]) -> int:
    """Rows beyond the first of each key."""
    return df.height - df.select(key).unique().height if has_duplicates(df, key) else 0


def null_keys(df: pl.DataFrame, key: list[str]) -> int:
    """Rows with a null in any key column."""
    return df.height - df.select(key).drop_nulls().height if df.height else 0


def members(dim: pl.DataFrame, cols: list[str], dim_cols: list[str]) -> pl.DataFrame | MemberSet:
    """The distinct members of a referenced table, named as the referring columns (a single
    column: a `MemberSet`, sorted once for the months to come)."""
    if len(cols) == 1:
        return MemberSet(dim[dim_cols[0]])
    return dim.select([pl.col(d).alias(c) for c, d in zip(cols, dim_cols, strict=True)]).unique()


def missing_references(df: pl.DataFrame, cols: list[str], known: pl.DataFrame | MemberSet) -> int:
    """Rows of `df` whose (non-null) foreign key `cols` is not among `known` (see `members`).

    The distinct values are matched first (a month of a fact holds a few distinct weeks or
    municipalities against a million rows); rows are counted only when a value is missing."""
    if isinstance(known, MemberSet):
        return known.missing_rows(df[cols[0]])
    present = df.select(cols).drop_nulls(cols[:1])
    if not present.height:
        return 0
    absent = present.unique().join(known, on=cols, how="anti", nulls_equal=True)
    if not absent.height:
        return 0
    return present.join(absent, on=cols, how="semi", nulls_equal=True).height


def orphans(df: pl.DataFrame, cols: list[str], dim: pl.DataFrame, dim_cols: list[str]) -> int:
    """Rows whose (non-null) foreign key has no member in the dimension."""
    return missing_references(df, cols, members(dim, cols, dim_cols))


def key_checks(name: str) -> list[dg.AssetCheckSpec]:
    """The check specs of a table in KEYS (per month when the table is monthly)."""
    key, fks = KEYS[name]
    specs = [
        dg.AssetCheckSpec(
            "noegle_unik",
            asset=name,
            description=f"ERROR when the key ({', '.join(key)}) is duplicated or null; names the month.",
        )
    ]
    if fks:
        targets = ", ".join(dict.fromkeys(t for _, t, _ in fks))
        specs.append(
            dg.AssetCheckSpec(
                "fremmednoegler",
                asset=name,
                description=f"ERROR when a foreign key has no member in {targets}; names the month.",
            )
        )
    return specs


Reader = Callable[[str, str | None, list[str]], pl.DataFrame | None]
"""`read(table, month, columns)`: those columns of a referenced table (one month of it, or all
months when month is None), None when it is not built."""


class KeyCheck:
    """`noegle_unik` and `fremmednoegler` of one table, month by month: `add(df, month)` counts,
    `verdicts()` gives each check's Verdict per month (counts only). An unpartitioned table is
    added under the month ""."""

    def __init__(self, name: str, read: Reader):
        self.name = name
        self.key, self.fks = KEYS[name]
        self._read = read
        self._whole: dict[str, pl.DataFrame | None] = {}
        self._members: dict[tuple, pl.DataFrame | MemberSet] = {}
        self._cols: dict[str, list[str]] = {}
        for _, table, ref_cols in self.fks:
            self._cols[table] = list(dict.fromkeys([*self._cols.get(table, []), *ref_cols]))
        self.unique: dict[str, Verdict] = {}
        self.foreign: dict[str, Verdict] = {}

    def _ref(self, table: str, month: str) -> pl.DataFrame | None:
        if table in SAME_MONTH:
            return self._read(table, month, self._cols[table])
        if table not in self._whole:
            self._whole[table] = self._read(table, None, self._cols[table])
        return self._whole[table]

    def _known(
        self, cols: list[str], table: str, ref_cols: list[str], month: str
    ) -> pl.DataFrame | MemberSet | None:
        """The members a foreign key may refer to; those of a whole table are found once."""
        ref = self._ref(table, month)
        if ref is None or table in SAME_MONTH:
            return None if ref is None else members(ref, cols, ref_cols)
        fk = (tuple(cols), table, tuple(ref_cols))
        if fk not in self._members:
            self._members[fk] = members(ref, cols, ref_cols)
        return self._members[fk]

    @property
    def columns(self) -> list[str]:
        """The columns the checks read: the key's, then the foreign keys'."""
        return list(dict.fromkeys([*self.key, *(c for cols, _, _ in self.fks for c in cols)]))

    def add(self, df: pl.DataFrame, month: str = "") -> pl.DataFrame:
        at = f"{month}: " if month else ""
        dups, nulls = duplicate_keys(df, self.key), null_keys(df, self.key)
        self.unique[month] = Verdict(
            passed=not (dups or nulls),
            severity=ERROR,
            description=None
            if not (dups or nulls)
            else f"{at}{dups} dubletnøgler, {nulls} rækker uden nøgle ({', '.join(self.key)})",
            metadata={
                "maaned": month,
                "raekker": df.height,
                "dubletter": dups,
                "uden_noegle": nulls,
            },
        )
        if self.fks:
            missing: dict[str, int] = {}
            for cols, table, ref_cols in self.fks:
                label = f"{'+'.join(cols)} -> {table}"
                known = self._known(cols, table, ref_cols, month)
                if known is None:
                    missing[label] = -1  # the referenced table is not built (for this month)
                elif n := missing_references(df, cols, known):
                    missing[label] = n
            shown = ", ".join(
                f"{k} ({'ikke bygget' if n < 0 else n})" for k, n in sorted(missing.items())
            )
            self.foreign[month] = Verdict(
                passed=not missing,
                severity=ERROR,
                description=None if not missing else f"{at}uopfyldte fremmednøgler: {shown}",
                metadata={"maaned": month, "raekker": df.height, "uopfyldte": missing},
            )
        return df

    def watch(
        self, frames: Iterable[tuple[str, pl.DataFrame]]
    ) -> Iterator[tuple[str, pl.DataFrame]]:
        """Pass (month, frame) pairs through, counting each month on the way."""
        for month, df in frames:
            yield month, self.add(df, month)

    def verdicts(self) -> dict[str, dict[str, Verdict]]:
        out = {"noegle_unik": self.unique}
        if self.fks:
            out["fremmednoegler"] = self.foreign
        return out


def warehouse_reader(wh) -> Reader:
    """Read referenced tables from the warehouse (None when not built)."""

    def read(table: str, month: str | None, cols: list[str]) -> pl.DataFrame | None:
        if month is None:
            return wh.scan(table).select(cols).collect() if wh.partitions(table) else None
        return wh.scan(table, [month]).select(cols).collect() if wh.has(table, month) else None

    return read
