"""Disclosure control of the published benchmark table (SPEC section 4, "Disclosure control").

Pure polars (and a little numpy) functions, no Dagster import:

- `suppress(df)`: primary and secondary cell suppression of the four count columns. Returns the
  same rows in the same order, each suppressed count set to null, plus a boolean
  `<count>_undertrykt` column per count.
- `add_key_figures(df)`: the three key figures (Float64) with their `<name>_undertrykt` flags,
  computed on a suppressed table, so a figure whose numerator or denominator is suppressed is
  null and flagged.
- `audit(df)`: checks a published table (after `suppress` and `add_key_figures`) against every
  rule and returns human-readable violation texts naming only where (month, municipality,
  breakdown, breakdown value, column) and which rule, never a value. An empty list passes.

Input grain: one row per (`maaned`, `kommune`, `breakdown`, `breakdown_vaerdi`); `kommune` is a
3-digit code or `Hele landet`; total rows have `breakdown == ''` and `breakdown_vaerdi == ''`.
`antal_borgere_16_66` exists on total rows only (null elsewhere, null in a month without its
delivery); the other three counts are non-negative Int64 on every row.

Rules
-----
(a) Primary: every count 1-4 is suppressed. 0 is shown. A null stays null and is not suppressed.

(b) Secondary, per count column, over two kinds of *lines* of linked cells:

    (i)  "kommune line": for each (maaned, kommune, breakdown != ''), the rows of that breakdown
         of that municipality together with the municipality's total row of that month (the total
         row is in each breakdown's line). `Hele landet` has such lines too.
    (ii) "landet line": for each (maaned, breakdown, breakdown_vaerdi), including the total rows
         (breakdown ''), the municipalities together with `Hele landet`.

    `antal_borgere_16_66` exists on total rows only, so only its type (ii) lines of the total
    rows apply. Every line must hold no suppressed cell or at least two.

(c) `antal_ydelsesmodtagere` and `antal_aktiverede` are equal by definition on the
    `aktiveringstype` rows and are suppressed together there: if either is, both are.

Algorithm
---------
The table is melted to one *cell* per (row, count column) with a non-null value; null cells
take part in nothing. Every cell gets a fixed priority: non-zero before zero, then the smaller
value, then the row key (maaned, kommune, breakdown, breakdown_vaerdi, column) ascending. Cells
are numbered in this order, so "the preferred cell of a set" is simply its smallest cell number
and the result does not depend on the input row order. A membership table (line, cell) is built
once (a total row is in one type (i) line per breakdown present for that municipality-month,
plus its type (ii) line).

Primary suppression and the coupling (c) are applied, then a fixpoint loop runs, each round
fully vectorized (numpy gather + polars group_by over the membership table):

1. count the suppressed cells per line; the *deficient* lines are those with exactly one;
2. each deficient line nominates its preferred unsuppressed cell (smallest non-zero value first,
   ties by key; a zero cell, smallest key first, only when no non-zero unsuppressed cell is left
   in the line);
3. a nomination is dropped for this round when a nomination with a smaller cell number lands in
   the same line (that smaller cell may already repair the line; if it does not, the line is
   still deficient in the next round and nominates again). The globally smallest nomination is
   always kept, so every round makes progress;
4. the kept nominations are suppressed, the coupling (c) is re-applied, and the loop repeats
   until no line is deficient (or no deficient line has any cell left to hide, which cannot
   happen for a table with the structure above; `audit` would report it).

Decisions
---------
- Zero fallback: the specification prefers hiding non-zero cells ("hiding a 0 protects
  nothing"). But a line whose only other cells are 0 still needs a second suppressed cell to
  satisfy the audit rule "none or at least two", so then the smallest-key zero cell of the line
  is hidden. In real data this is rare (the coupling can suppress a 0 of a line that is
  otherwise empty, or a total that is not the sum of its breakdown values).
- The coupling (c) is applied irrespective of the partner's value, also to a 0.
- Secondary suppression never changes a shown value; it only hides cells.
- `andel_ydelsesmodtagere` has no parts on breakdown rows: it is null there with flag false
  (nothing is hidden, the figure does not exist on such rows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from dfdg_assets.rules.benefits import COUNTS

AKTIVERINGSTYPE = "aktiveringstype"
KEYS = ("maaned", "kommune", "breakdown", "breakdown_vaerdi")
BORGERE, YDELSESMODTAGERE, AKTIVEREDE, FORLOEB = range(4)  # indices into COUNTS
FLAG = "_undertrykt"

# key figure -> (numerator, denominator, only on total rows)
KEY_FIGURES: dict[str, tuple[str, str, bool]] = {
    "andel_ydelsesmodtagere": ("antal_ydelsesmodtagere", "antal_borgere_16_66", True),
    "aktiveringsgrad": ("antal_aktiverede", "antal_ydelsesmodtagere", False),
    "forloeb_pr_aktiveret": ("antal_aktiveringsforloeb", "antal_aktiverede", False),
}

# line kinds
_KOMMUNE_LINE = "kommune"  # (i) breakdown values of one (maaned, kommune, breakdown) + total row
_LANDET_LINE = "landet"  # (ii) one (maaned, breakdown, breakdown_vaerdi) across municipalities

_MAX_ROUNDS = 100_000  # a safety net only: every round suppresses at least one more cell


def flag_name(column: str) -> str:
    """The name of the boolean suppression flag of `column`."""
    return column + FLAG


# ------------------------------------------------------------------ shared helpers
def _check_input(df: pl.DataFrame) -> None:
    missing = [c for c in (*KEYS, *COUNTS) if c not in df.columns]
    if missing:
        raise ValueError(f"benchmark table lacks column(s) {missing}")
    for c in ("maaned", "kommune", "breakdown"):
        if df[c].null_count():
            raise ValueError(f"benchmark table has null in key column {c!r}")
    if df.select(pl.struct(*KEYS).is_duplicated().any()).item():
        raise ValueError(
            "benchmark table has duplicate (maaned, kommune, breakdown, breakdown_vaerdi) rows"
        )
    for c in COUNTS:
        if df[c].dtype == pl.Null:
            continue
        if not df[c].dtype.is_integer():
            raise ValueError(f"count column {c!r} is {df[c].dtype}, not an integer type")
        if (df[c] < 0).any():
            raise ValueError(f"count column {c!r} has negative values")


def _long(df: pl.DataFrame, with_flags: bool) -> pl.DataFrame:
    """One row per (table row, count column): rid, keys, kolonne (index into COUNTS), value
    (and `flag` from the `_undertrykt` column when `with_flags`)."""
    base = df.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("rid"),
        *KEYS,
        *COUNTS,
        *([flag_name(c) for c in COUNTS] if with_flags else []),
    )
    parts = []
    for k, c in enumerate(COUNTS):
        cols = [
            "rid",
            *KEYS,
            pl.lit(k, dtype=pl.UInt8).alias("kolonne"),
            pl.col(c).cast(pl.Int64).alias("value"),
        ]
        if with_flags:
            cols.append(pl.col(flag_name(c)).alias("flag"))
        parts.append(base.select(cols))
    return pl.concat(parts)


def _line_members(cells: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """The (line, cell) memberships of the long `cells` frame.

    Adds the line key columns `linje` (kind), `l_kommune`, `l_breakdown`, `l_vaerdi`; a line is
    identified by (linje, maaned, l_kommune, l_breakdown, l_vaerdi, kolonne). `rows` is the
    wide table (for the breakdowns present per municipality-month).
    """
    # (ii) one (maaned, breakdown, breakdown_vaerdi) across all municipalities and Hele landet;
    # antal_borgere_16_66 only on the total rows.
    landet = cells.filter(
        (pl.col("kolonne") != BORGERE) | (pl.col("breakdown") == "")
    ).with_columns(
        pl.lit(_LANDET_LINE).alias("linje"),
        pl.lit(None, dtype=pl.String).alias("l_kommune"),
        pl.col("breakdown").alias("l_breakdown"),
        pl.col("breakdown_vaerdi").alias("l_vaerdi"),
    )
    # (i) the breakdown rows of one (maaned, kommune, breakdown) with the total row
    not_borgere = pl.col("kolonne") != BORGERE
    breakdown_cells = cells.filter(not_borgere & (pl.col("breakdown") != "")).with_columns(
        pl.lit(_KOMMUNE_LINE).alias("linje"),
        pl.col("kommune").alias("l_kommune"),
        pl.col("breakdown").alias("l_breakdown"),
        pl.lit(None, dtype=pl.String).alias("l_vaerdi"),
    )
    present = (
        rows.filter(pl.col("breakdown") != "")
        .select("maaned", "kommune", pl.col("breakdown").alias("l_breakdown"))
        .unique()
    )
    total_cells = (
        cells.filter(not_borgere & (pl.col("breakdown") == ""))
        .join(present, on=["maaned", "kommune"], how="inner")
        .with_columns(
            pl.lit(_KOMMUNE_LINE).alias("linje"),
            pl.col("kommune").alias("l_kommune"),
            pl.lit(None, dtype=pl.String).alias("l_vaerdi"),
        )
    )
    cols = [*cells.columns, "linje", "l_kommune", "l_breakdown", "l_vaerdi"]
    return pl.concat([landet.select(cols), breakdown_cells.select(cols), total_cells.select(cols)])


LINE_KEY = ("linje", "maaned", "l_kommune", "l_breakdown", "l_vaerdi", "kolonne")


# ------------------------------------------------------------------ suppression
def _numbered_cells(df: pl.DataFrame) -> pl.DataFrame:
    """The cells with a value, numbered (`cell`) by priority: non-zero first, smaller value, then
    the key."""
    return (
        _long(df, with_flags=False)
        .filter(pl.col("value").is_not_null())
        .sort(
            [(pl.col("value") == 0), "value", *KEYS, "kolonne"],
            nulls_last=True,
            maintain_order=True,
        )
        .with_row_index("cell")
    )


def _coupled_pairs(cells: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Coupling (c): the (ydelsesmodtagere, aktiverede) cell pairs of the aktiveringstype rows."""
    pair_cells = cells.filter(
        (pl.col("breakdown") == AKTIVERINGSTYPE)
        & pl.col("kolonne").is_in([YDELSESMODTAGERE, AKTIVEREDE])
    )
    pairs = (
        pair_cells.filter(pl.col("kolonne") == YDELSESMODTAGERE)
        .select("rid", pl.col("cell").alias("a"))
        .join(
            pair_cells.filter(pl.col("kolonne") == AKTIVEREDE).select(
                "rid", pl.col("cell").alias("b")
            ),
            on="rid",
        )
    )
    return pairs["a"].to_numpy(), pairs["b"].to_numpy()


def _memberships(cells: pl.DataFrame, df: pl.DataFrame) -> pl.DataFrame:
    """(line, cell) for every line a cell is in, lines numbered."""
    return (
        _line_members(cells.select("cell", "rid", *KEYS, "kolonne"), df)
        .group_by(list(LINE_KEY))
        .agg(pl.col("cell"))
        .select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("line"), "cell")
        .explode("cell")
    )


def _nominations(frame: pl.DataFrame) -> np.ndarray | None:
    """One round's cells to hide (steps 1-3 of the module docstring); None when no line is
    deficient or no deficient line has a cell left to hide."""
    deficient = (
        frame.group_by("line")
        .agg(
            pl.col("s").sum().alias("n"),
            pl.col("cell").filter(~pl.col("s")).min().alias("pick"),
        )
        .filter(pl.col("n") == 1)
    )
    picks = deficient.filter(pl.col("pick").is_not_null()).select("line", "pick")
    if picks.height == 0:
        return None  # nothing (left) to hide in the deficient lines; audit reports them
    # drop a nomination when a smaller nominated cell lands in the same line this round
    landing = (
        frame.join(picks.select(pl.col("pick").alias("cell")).unique(), on="cell", how="semi")
        .join(picks.select("line"), on="line", how="semi")
        .group_by("line")
        .agg(pl.col("cell").min().alias("smallest"))
    )
    return (
        picks.join(landing, on="line", how="left")
        .filter(pl.col("pick") <= pl.col("smallest"))
        .get_column("pick")
        .unique()
        .to_numpy()
    )


def _secondary(sup: np.ndarray, members: pl.DataFrame, couple: Callable[[], None]) -> None:
    """The fixpoint loop: hide the nominated cells, re-apply the coupling, until no line is
    deficient (`sup` is updated in place)."""
    m_line = members["line"]
    m_cell = members["cell"]
    m_cell_np = m_cell.to_numpy()
    for _ in range(_MAX_ROUNDS):
        kept = _nominations(pl.DataFrame({"line": m_line, "cell": m_cell, "s": sup[m_cell_np]}))
        if kept is None:
            return
        sup[kept] = True
        couple()
    raise RuntimeError("secondary suppression did not reach a fixpoint")  # pragma: no cover


def _flagged(df: pl.DataFrame, cells: pl.DataFrame, sup: np.ndarray) -> pl.DataFrame:
    """Back to the wide rows: a `_undertrykt` flag per count, the suppressed counts null."""
    rid = cells["rid"].to_numpy()
    kolonne = cells["kolonne"].to_numpy()
    flags = []
    for k, c in enumerate(COUNTS):
        flag = np.zeros(df.height, dtype=bool)
        flag[rid[(kolonne == k) & sup]] = True
        flags.append(pl.Series(flag_name(c), flag, dtype=pl.Boolean))
    return df.with_columns(flags).with_columns(
        pl.when(pl.col(flag_name(c))).then(None).otherwise(pl.col(c)).alias(c) for c in COUNTS
    )


def suppress(df: pl.DataFrame) -> pl.DataFrame:
    """Primary and secondary suppression of the four count columns (see the module docstring).

    Returns the rows of `df` in the same order with every suppressed count set to null and a
    boolean `<count>_undertrykt` column appended per count column.
    """
    _check_input(df)
    if any(flag_name(c) in df.columns for c in COUNTS):
        raise ValueError("table already carries _undertrykt columns (suppress it only once)")
    cells = _numbered_cells(df)
    sup = ((cells["value"] >= 1) & (cells["value"] <= 4)).to_numpy().copy()  # primary
    pair_a, pair_b = _coupled_pairs(cells)

    def couple() -> None:
        both = sup[pair_a] | sup[pair_b]
        sup[pair_a] = both
        sup[pair_b] = both

    couple()
    _secondary(sup, _memberships(cells, df), couple)
    return _flagged(df, cells, sup)


# ------------------------------------------------------------------ key figures
def add_key_figures(df: pl.DataFrame) -> pl.DataFrame:
    """Add `andel_ydelsesmodtagere`, `aktiveringsgrad`, `forloeb_pr_aktiveret` (Float64) and
    their `_undertrykt` flags to a suppressed table.

    A figure is null where its denominator is 0 or null, and null with flag true where its
    numerator or denominator is suppressed. `andel_ydelsesmodtagere` exists on total rows only
    (null, flag false, on breakdown rows).
    """
    missing = [
        c for c in (*COUNTS, *(flag_name(c) for c in COUNTS), "breakdown") if c not in df.columns
    ]
    if missing:
        raise ValueError(f"add_key_figures needs a suppressed table; missing {missing}")
    exprs = []
    for name, (num, den, total_only) in KEY_FIGURES.items():
        applies = (pl.col("breakdown") == "") if total_only else pl.lit(True)
        hidden = applies & (
            pl.col(flag_name(num)).fill_null(False) | pl.col(flag_name(den)).fill_null(False)
        )
        d = pl.col(den).cast(pl.Float64)
        value = (
            pl.when(applies & ~hidden & d.is_not_null() & (d != 0))
            .then(pl.col(num).cast(pl.Float64) / d)
            .otherwise(None)
            .cast(pl.Float64)
        )
        exprs += [value.alias(name), hidden.alias(flag_name(name))]
    return df.with_columns(exprs)


# ------------------------------------------------------------------ audit
def _where() -> pl.Expr:
    """'maaned 2024-01, kommune 101, aktiveringstype=X' for a row."""
    b = pl.col("breakdown")
    return pl.concat_str(
        pl.lit("maaned "),
        pl.col("maaned"),
        pl.lit(", kommune "),
        pl.col("kommune"),
        pl.lit(", "),
        pl.when(b == "")
        .then(pl.lit("total row"))
        .otherwise(pl.concat_str(b, pl.lit("="), pl.col("breakdown_vaerdi").fill_null("<null>"))),
    )


def _col_name(kolonne: pl.Expr) -> pl.Expr:
    return kolonne.replace_strict(list(range(len(COUNTS))), list(COUNTS), return_dtype=pl.String)


_SHOWN = pl.col("value").is_not_null()
_FLAGGED = pl.col("flag").fill_null(False)

#: The rules on single cells of the long table: (the cells breaking it, the text after the
#: cell's place and column, naming the rule).
CELL_RULES: tuple[tuple[pl.Expr, str], ...] = (
    (pl.col("flag").is_null(), "flag is null [flag]"),
    (pl.col("value").is_between(1, 4), "shown count in 1..4 [primary]"),
    (_FLAGGED & _SHOWN, "flagged as suppressed but shown [flag]"),
    (
        ~_FLAGGED & pl.col("value").is_null() & (pl.col("kolonne") != BORGERE),
        "missing without a suppression flag [flag]",
    ),
    (
        (pl.col("kolonne") == BORGERE) & (pl.col("breakdown") != "") & _SHOWN,
        "shown on a breakdown row [structure]",
    ),
)

_LINE_VALUE = (
    pl.when(pl.col("l_breakdown") == "")
    .then(pl.lit("total rows"))
    .otherwise(
        pl.concat_str(pl.col("l_breakdown"), pl.lit("="), pl.col("l_vaerdi").fill_null("<null>"))
    )
)
#: Where a line with exactly one suppressed cell is, per kind of line [secondary].
LINE_PLACES: dict[str, list[pl.Expr]] = {
    _LANDET_LINE: [
        pl.lit("maaned "),
        pl.col("maaned"),
        pl.lit(", "),
        _LINE_VALUE,
        pl.lit(", across the municipalities with Hele landet, "),
    ],
    _KOMMUNE_LINE: [
        pl.lit("maaned "),
        pl.col("maaned"),
        pl.lit(", kommune "),
        pl.col("l_kommune"),
        pl.lit(", breakdown "),
        pl.col("l_breakdown"),
        pl.lit(" values with the total row, "),
    ],
}


def _flag(column: str) -> pl.Expr:
    return pl.col(flag_name(column)).fill_null(False)


def row_rules() -> list[tuple[pl.Expr, str]]:
    """The rules on rows of the wide table: (the rows breaking it, the text after the row's
    place, naming the rule): the coupling, then four per key figure."""
    fy, fa = _flag(COUNTS[YDELSESMODTAGERE]), _flag(COUNTS[AKTIVEREDE])
    rules = [
        (
            (pl.col("breakdown") == AKTIVERINGSTYPE) & (fy != fa),
            ": only one of antal_ydelsesmodtagere/antal_aktiverede suppressed [coupling]",
        )
    ]
    for name, (num, den, total_only) in KEY_FIGURES.items():
        applies = (pl.col("breakdown") == "") if total_only else pl.lit(True)
        parts = _flag(num) | _flag(den)
        flag, shown = pl.col(flag_name(name)), pl.col(name).is_not_null()
        rules += [
            (
                applies & parts & shown,
                f", {name}: shown while its numerator or denominator is suppressed [key figure]",
            ),
            (
                flag.is_null() | (flag.fill_null(False) & shown),
                f", {name}: flag null or flagged as suppressed but shown [flag]",
            ),
            (
                applies & flag.is_not_null() & (flag != parts),
                f", {name}: flag differs from its numerator/denominator flags [key figure]",
            ),
        ]
        if total_only:
            rules.append((~applies & shown, f", {name}: shown on a breakdown row [structure]"))
    return rules


def _texts(frame: pl.DataFrame, rules: Sequence[tuple[pl.Expr, str]], *place: pl.Expr) -> list[str]:
    """The violation texts of `rules` on `frame`: the place, then the rule's text."""
    out: list[str] = []
    for broken, text in rules:
        message = pl.concat_str(*place, pl.lit(text)).alias("m")
        out += frame.filter(broken).select(message)["m"].to_list()
    return out


def audit(df: pl.DataFrame) -> list[str]:
    """Check a published benchmark table against every disclosure rule.

    Returns one text per violation (where and which rule, never a value); empty means it passes.
    Rules checked: a shown count in 1..4 [primary]; a line with exactly one suppressed cell
    [secondary]; an aktiveringstype row with exactly one of ydelsesmodtagere/aktiverede suppressed
    [coupling]; a key figure shown while its numerator or denominator is suppressed, or its flag
    differing from its parts' flags [key figure]; a flag inconsistent with the value [flag];
    a value where the table has none (16-66 count or share on a breakdown row) [structure].
    """
    needed = [*KEYS, *COUNTS, *(flag_name(c) for c in COUNTS)]
    needed += [x for k in KEY_FIGURES for x in (k, flag_name(k))]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        return [f"table lacks column {c} [structure]" for c in missing]
    if df.height == 0:
        return []
    long = _long(df, with_flags=True).with_columns(_col_name(pl.col("kolonne")).alias("kol"))
    out = _texts(long, CELL_RULES, _where(), pl.lit(", "), pl.col("kol"), pl.lit(": "))
    # secondary: lines with exactly one suppressed cell
    lines = (
        _line_members(long.select("rid", *KEYS, "kolonne", "kol", _FLAGGED), df)
        .group_by(list(LINE_KEY))
        .agg(pl.col("kol").first(), pl.col("flag").sum().alias("n"))
        .filter(pl.col("n") == 1)
    )
    for kind, place in LINE_PLACES.items():
        rule = (pl.col("linje") == kind, ": exactly one suppressed cell in the line [secondary]")
        out += _texts(lines, [rule], *place, pl.col("kol"))
    out += _texts(df, row_rules(), _where())
    return sorted(out)


def suppressed_cells(df: pl.DataFrame, columns: Sequence[str] = COUNTS) -> int:
    """The number of suppressed cells of a suppressed table (for metadata and logs)."""
    return int(sum(df[flag_name(c)].sum() for c in columns))
