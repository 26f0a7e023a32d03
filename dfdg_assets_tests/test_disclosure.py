"""Disclosure control of the benchmark table (dfdg_assets.cubes.disclosure)."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfdg_assets.cubes.disclosure import (
    COUNTS,
    KEY_FIGURES,
    KEYS,
    add_key_figures,
    audit,
    flag_name,
    suppress,
)
from dfdg_assets.rules.benefits import HELE_LANDET

B_, Y_, A_, F_ = COUNTS  # borgere, ydelsesmodtagere, aktiverede, forloeb
M = "2024-01"


def table(
    cells: dict[tuple[str, str, str, str], dict[str, int | None]], breakdowns=None
) -> pl.DataFrame:
    """A structurally complete benchmark table: every (maaned, breakdown, value) of `cells` (and
    of `breakdowns` {maaned: [(b, v), ...]}) for every kommune of `cells`, a total row per
    kommune-month, zeros filled; 16-66 only on total rows (0 unless given)."""
    months = sorted({k[0] for k in cells})
    kommuner = sorted({k[1] for k in cells})
    per_month = {m: {(k[2], k[3]) for k in cells if k[0] == m} | {("", "")} for m in months}
    for m, extra in (breakdowns or {}).items():
        per_month[m] |= set(extra)
    rows = []
    for m in months:
        for k in kommuner:
            for b, v in sorted(per_month[m]):
                given_ = cells.get((m, k, b, v), {})
                row = {"maaned": m, "kommune": k, "breakdown": b, "breakdown_vaerdi": v}
                for c in COUNTS:
                    default = (0 if b == "" else None) if c == B_ else 0
                    row[c] = given_.get(c, default)
                rows.append(row)
    return pl.DataFrame(
        rows, schema={**dict.fromkeys(KEYS, pl.String), **dict.fromkeys(COUNTS, pl.Int64)}
    )


def flags(out: pl.DataFrame, column: str) -> set[tuple[str, str, str, str]]:
    """The keys of the rows whose `column` is suppressed."""
    return {tuple(r) for r in out.filter(pl.col(flag_name(column))).select(KEYS).rows()}


def published(t: pl.DataFrame) -> pl.DataFrame:
    return add_key_figures(suppress(t))


# ------------------------------------------------------------------ hand-made tables
def test_single_small_count_with_its_line():
    """A 3 with total 10 and the other value 7: the 3 and the 7 (the smallest non-zero other cell
    of the municipality's line) are suppressed; the national line then needs a second cell."""
    by = "beskaeftigelsesydelse"
    t = table(
        {
            (M, "101", "", ""): {Y_: 10},
            (M, "101", by, "kontanthjaelp"): {Y_: 3},
            (M, "101", by, "dagpenge"): {Y_: 7},
            (M, "101", by, "sygedagpenge"): {Y_: 0},
            (M, "147", "", ""): {Y_: 50},
            (M, "147", by, "kontanthjaelp"): {Y_: 20},
            (M, "147", by, "dagpenge"): {Y_: 30},
            (M, HELE_LANDET, "", ""): {Y_: 60},
            (M, HELE_LANDET, by, "kontanthjaelp"): {Y_: 23},
            (M, HELE_LANDET, by, "dagpenge"): {Y_: 37},
        }
    )
    out = suppress(t)
    assert flags(out, Y_) == {
        (M, "101", by, "kontanthjaelp"),  # primary
        (M, "101", by, "dagpenge"),  # 101's line: 7 < 10
        (M, "147", by, "kontanthjaelp"),  # kontanthjaelp across municipalities: 20 < 23
        (M, "147", by, "dagpenge"),  # 147's line: 30 < 50; also repairs the dagpenge line
    }
    row = out.filter((pl.col("kommune") == "101") & (pl.col("breakdown") == ""))
    assert row[Y_].item() == 10 and not row[flag_name(Y_)].item()
    # the 0 is shown
    zero = out.filter(pl.col("breakdown_vaerdi") == "sygedagpenge", pl.col("kommune") == "101")
    assert zero[Y_].item() == 0 and not zero[flag_name(Y_)].item()
    # suppressed values are null, the other columns (all 0) untouched
    assert out.filter(pl.col(flag_name(Y_)))[Y_].null_count() == 4
    for c in (B_, A_, F_):
        assert not out[flag_name(c)].any()
    assert audit(add_key_figures(out)) == []


def test_zero_is_shown_and_zero_lines_untouched():
    t = table(
        {
            (M, "101", "", ""): {B_: 0, Y_: 0, A_: 0, F_: 0},
            (M, "147", "", ""): {B_: 100, Y_: 40, A_: 0, F_: 0},
            (M, HELE_LANDET, "", ""): {B_: 100, Y_: 40, A_: 0, F_: 0},
        }
    )
    out = suppress(t)
    for c in COUNTS:
        assert not out[flag_name(c)].any()
    assert out.sort(KEYS).select(COUNTS).equals(t.sort(KEYS).select(COUNTS))


def test_national_line_forces_second_suppression_elsewhere():
    """Total rows only: 101 has 2 (primary); across the municipalities the smallest non-zero
    other cell (151's 6) is suppressed, not 153's 0, not 147's 9 nor Hele landet."""
    t = table(
        {
            (M, "101", "", ""): {Y_: 2},
            (M, "147", "", ""): {Y_: 9},
            (M, "151", "", ""): {Y_: 6},
            (M, "153", "", ""): {Y_: 0},
            (M, HELE_LANDET, "", ""): {Y_: 17},
        }
    )
    out = suppress(t)
    assert flags(out, Y_) == {(M, "101", "", ""), (M, "151", "", "")}
    assert audit(add_key_figures(out)) == []


def test_ties_broken_by_key():
    t = table(
        {
            (M, "101", "", ""): {F_: 3},
            (M, "147", "", ""): {F_: 8},
            (M, "151", "", ""): {F_: 8},
            (M, HELE_LANDET, "", ""): {F_: 19},
        }
    )
    assert flags(suppress(t), F_) == {(M, "101", "", ""), (M, "147", "", "")}


def test_zero_fallback_when_no_nonzero_cell_is_left():
    """Across the municipalities 101 has 3 and all others 0 (Hele landet too, artificially): the
    smallest-key zero cell is hidden so the line holds two suppressed cells."""
    t = table(
        {
            (M, "101", "", ""): {F_: 3},
            (M, "147", "", ""): {F_: 0},
            (M, "151", "", ""): {F_: 0},
            (M, HELE_LANDET, "", ""): {F_: 0},
        }
    )
    out = suppress(t)
    assert flags(out, F_) == {(M, "101", "", ""), (M, "147", "", "")}
    assert audit(add_key_figures(out)) == []


def test_borgere_only_across_municipalities_and_null_not_suppressed():
    t = table(
        {
            (M, "101", "", ""): {B_: 4, Y_: 0},
            (M, "147", "", ""): {B_: 900},
            (M, "151", "", ""): {B_: 700},
            (M, HELE_LANDET, "", ""): {B_: 1604},
            (M, "101", "aktiveringstype", "x"): {},
            ("2024-02", "101", "", ""): {B_: None},
            ("2024-02", "147", "", ""): {B_: None},
            ("2024-02", "151", "", ""): {B_: None},
            ("2024-02", HELE_LANDET, "", ""): {B_: None},
        }
    )
    out = suppress(t)
    assert flags(out, B_) == {(M, "101", "", ""), (M, "151", "", "")}
    feb = out.filter(pl.col("maaned") == "2024-02")
    assert feb[B_].null_count() == feb.height and not feb[flag_name(B_)].any()
    assert not out.filter(pl.col("breakdown") != "")[flag_name(B_)].any()
    assert audit(add_key_figures(out)) == []


def test_aktiveringstype_coupling():
    at = "aktiveringstype"
    t = table(
        {
            (M, "101", "", ""): {Y_: 40, A_: 20},
            # ydelsesmodtagere 3 is primary; aktiverede 8 (artificially different) follows it
            (M, "101", at, "praktik"): {Y_: 3, A_: 8},
            (M, "101", at, "loentilskud"): {Y_: 12, A_: 12},
            (M, "147", "", ""): {Y_: 100, A_: 60},
            (M, "147", at, "praktik"): {Y_: 30, A_: 30},
            (M, "147", at, "loentilskud"): {Y_: 25, A_: 25},
            (M, HELE_LANDET, "", ""): {Y_: 140, A_: 80},
            (M, HELE_LANDET, at, "praktik"): {Y_: 33, A_: 38},
            (M, HELE_LANDET, at, "loentilskud"): {Y_: 37, A_: 37},
        }
    )
    out = suppress(t)
    ys, as_ = flags(out, Y_), flags(out, A_)
    assert (M, "101", at, "praktik") in ys and (M, "101", at, "praktik") in as_
    # the secondary ydelsesmodtagere cell of 101's line (12 < 40) drags aktiverede along
    assert (M, "101", at, "loentilskud") in ys and (M, "101", at, "loentilskud") in as_
    at_rows = out.filter(pl.col("breakdown") == at)
    assert at_rows[flag_name(Y_)].equals(at_rows[flag_name(A_)])
    assert audit(add_key_figures(out)) == []


def test_key_figures_follow_their_parts():
    t = table(
        {
            (M, "101", "", ""): {B_: 500, Y_: 3, A_: 0, F_: 0},
            (M, "147", "", ""): {B_: 800, Y_: 40, A_: 20, F_: 30},
            (M, "151", "", ""): {B_: 900, Y_: 45, A_: 20, F_: 25},
            (M, HELE_LANDET, "", ""): {B_: 2200, Y_: 88, A_: 40, F_: 55},
            (M, "101", "beskaeftigelsesydelse", "x"): {},
        }
    )
    out = published(t)
    r = {
        k: out.filter(pl.col("kommune") == k, pl.col("breakdown") == "").row(0, named=True)
        for k in ("101", "147", "151", HELE_LANDET)
    }
    # 101: ydelsesmodtagere suppressed -> andel and aktiveringsgrad hidden; forloeb 0/0 -> null, not hidden
    assert (
        r["101"]["andel_ydelsesmodtagere"] is None and r["101"]["andel_ydelsesmodtagere_undertrykt"]
    )
    assert r["101"]["aktiveringsgrad"] is None and r["101"]["aktiveringsgrad_undertrykt"]
    assert (
        r["101"]["forloeb_pr_aktiveret"] is None and not r["101"]["forloeb_pr_aktiveret_undertrykt"]
    )
    # 147 (40 < 45) is the second ydelsesmodtagere cell across the municipalities
    assert r["147"]["antal_ydelsesmodtagere_undertrykt"] and r["147"]["aktiveringsgrad_undertrykt"]
    assert r["147"]["forloeb_pr_aktiveret"] == pytest.approx(1.5)
    assert r["151"]["andel_ydelsesmodtagere"] == pytest.approx(45 / 900)
    assert r["151"]["aktiveringsgrad"] == pytest.approx(20 / 45)
    assert r[HELE_LANDET]["aktiveringsgrad"] == pytest.approx(40 / 88)
    # andel does not exist on breakdown rows
    b = out.filter(pl.col("breakdown") != "")
    assert (
        b["andel_ydelsesmodtagere"].null_count() == b.height
        and not b["andel_ydelsesmodtagere_undertrykt"].any()
    )
    for name in KEY_FIGURES:
        assert out[name].dtype == pl.Float64 and out[flag_name(name)].dtype == pl.Boolean
    assert audit(out) == []


def test_output_keeps_rows_order_and_columns():
    t = table(
        {
            (M, "101", "", ""): {Y_: 3},
            (M, "147", "", ""): {Y_: 9},
            (M, HELE_LANDET, "", ""): {Y_: 12},
        }
    )
    t = t.reverse()
    out = suppress(t)
    assert out.select(KEYS).equals(t.select(KEYS))
    assert out.columns == [*t.columns, *(flag_name(c) for c in COUNTS)]
    with pytest.raises(ValueError):
        suppress(pl.concat([t, t.head(1)]))
    with pytest.raises(ValueError):
        suppress(out)


# ------------------------------------------------------------------ audit negative controls
@pytest.fixture
def good() -> pl.DataFrame:
    at = "aktiveringstype"
    t = table(
        {
            (M, "101", "", ""): {B_: 300, Y_: 30, A_: 20, F_: 25},
            (M, "101", at, "praktik"): {Y_: 3, A_: 3, F_: 3},
            (M, "101", at, "loentilskud"): {Y_: 17, A_: 17, F_: 22},
            (M, "147", "", ""): {B_: 700, Y_: 60, A_: 40, F_: 50},
            (M, "147", at, "praktik"): {Y_: 15, A_: 15, F_: 20},
            (M, "147", at, "loentilskud"): {Y_: 25, A_: 25, F_: 30},
            (M, HELE_LANDET, "", ""): {B_: 1000, Y_: 90, A_: 60, F_: 75},
            (M, HELE_LANDET, at, "praktik"): {Y_: 18, A_: 18, F_: 23},
            (M, HELE_LANDET, at, "loentilskud"): {Y_: 42, A_: 42, F_: 52},
        }
    )
    out = published(t)
    assert audit(out) == []
    return out


def _at(out: pl.DataFrame, kommune: str, vaerdi: str) -> pl.Expr:
    return (pl.col("kommune") == kommune) & (pl.col("breakdown_vaerdi") == vaerdi)


def test_audit_primary_shown_small_count(good):
    bad = good.with_columns(
        pl.when(_at(good, "101", "praktik")).then(3).otherwise(pl.col(F_)).alias(F_),
        pl.when(_at(good, "101", "praktik"))
        .then(False)
        .otherwise(pl.col(flag_name(F_)))
        .alias(flag_name(F_)),
    )
    v = audit(bad)
    assert any("[primary]" in m and "kommune 101" in m and F_ in m for m in v)
    assert any("[secondary]" in m for m in v)  # the 101 line now has one suppressed cell
    assert not any(" 3" in m.split(":")[-1] for m in v)  # texts carry no values


def test_audit_primary_only_table_fails_secondary():
    t = table(
        {
            (M, "101", "", ""): {Y_: 2},
            (M, "147", "", ""): {Y_: 9},
            (M, HELE_LANDET, "", ""): {Y_: 11},
        }
    )
    primary_only = t.with_columns(
        *(pl.col(c).is_between(1, 4).fill_null(False).alias(flag_name(c)) for c in COUNTS)
    ).with_columns(
        pl.when(pl.col(flag_name(c))).then(None).otherwise(pl.col(c)).alias(c) for c in COUNTS
    )
    v = audit(add_key_figures(primary_only))
    assert (
        len(v) == 1 and "[secondary]" in v[0] and "across the municipalities" in v[0] and Y_ in v[0]
    )


def test_audit_coupling_violation(good):
    row = _at(good, HELE_LANDET, "loentilskud")
    assert not good.filter(row)[flag_name(A_)].item()
    bad = good.with_columns(
        pl.when(row).then(None).otherwise(pl.col(A_)).alias(A_),
        (pl.col(flag_name(A_)) | row).alias(flag_name(A_)),
    )
    v = audit(add_key_figures(bad.drop(*KEY_FIGURES, *(flag_name(k) for k in KEY_FIGURES))))
    assert any("[coupling]" in m and f"kommune {HELE_LANDET}" in m for m in v)


def test_audit_key_figure_shown_with_suppressed_part(good):
    row = _at(good, "101", "praktik")
    bad = good.with_columns(
        pl.when(row).then(1.0).otherwise(pl.col("aktiveringsgrad")).alias("aktiveringsgrad"),
        pl.when(row)
        .then(False)
        .otherwise(pl.col("aktiveringsgrad_undertrykt"))
        .alias("aktiveringsgrad_undertrykt"),
    )
    v = audit(bad)
    assert any("[key figure]" in m and "aktiveringsgrad" in m and "shown while" in m for m in v)


def test_audit_flag_inconsistent(good):
    row = (pl.col("kommune") == "147") & (pl.col("breakdown") == "")
    bad = good.with_columns(
        (pl.col(flag_name(F_)) | row).alias(flag_name(F_))
    )  # flagged, still shown
    v = audit(bad)
    assert any("[flag]" in m and "kommune 147" in m and F_ in m for m in v)
    bad2 = good.with_columns(
        pl.when(row).then(None).otherwise(pl.col(F_)).alias(F_)
    )  # hidden, unflagged
    assert any("missing without a suppression flag" in m for m in audit(bad2))
    assert any("[structure]" in m for m in audit(good.drop(flag_name(Y_))))


# ------------------------------------------------------------------ property tests
SMALL = [0, 0, 0, 1, 2, 3, 4, 5, 6, 10, 50]
BREAKDOWNS = ("aktiveringstype", "beskaeftigelsesydelse", "visitationskategori")


@st.composite
def tables(draw) -> pl.DataFrame:
    n_k = draw(st.integers(2, 6))
    kommuner = sorted(draw(st.sets(st.integers(101, 999).map(str), min_size=n_k, max_size=n_k)))
    months = [f"2024-{m:02d}" for m in range(1, draw(st.integers(1, 3)) + 1)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    zero_share = draw(st.sampled_from([0.0, 0.3, 0.7, 0.95]))
    tiny = set(draw(st.sets(st.sampled_from(kommuner), max_size=2)))
    equal_pairs = draw(st.booleans())

    def val(k: str) -> int:
        if rng.random() < zero_share:
            return 0
        if k in tiny:
            return rng.choice([0, 1, 2, 3, 4, 5])
        return rng.choice(SMALL) if rng.random() < 0.85 else rng.randint(0, 300)

    rows = []
    for m in months:
        present = [("", "")] + [
            (b, f"{b[:3]}{i}") for b in BREAKDOWNS for i in range(rng.randint(0, 3))
        ]
        delivered = rng.random() < 0.8
        per_k = {}
        for k in kommuner:
            for b, v in present:
                y, a, f = val(k), val(k), val(k)
                if b == "aktiveringstype" and equal_pairs:
                    a = y
                bo = (val(k) * rng.choice([1, 10]) if delivered else None) if b == "" else None
                per_k[(k, b, v)] = (bo, y, a, f)
                rows.append((m, k, b, v, bo, y, a, f))
        for b, v in present:  # Hele landet: >= every municipality, not necessarily their sum
            vals = [per_k[(k, b, v)] for k in kommuner]
            hl = []
            for j in range(4):
                col = [x[j] for x in vals]
                if col[0] is None:
                    hl.append(None)
                else:
                    hl.append(max(col) + rng.choice([0, 0, 1, 3, 20]))
            if b == "aktiveringstype" and equal_pairs:
                hl[2] = hl[1]
            rows.append((m, HELE_LANDET, b, v, *hl))
    return pl.DataFrame(
        rows,
        schema={**dict.fromkeys(KEYS, pl.String), **dict.fromkeys(COUNTS, pl.Int64)},
        orient="row",
    )


PROPS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPS
@given(t=tables(), shuffle_seed=st.integers(0, 2**32 - 1))
def test_properties(t, shuffle_seed):
    out = suppress(t)
    pub = add_key_figures(out)
    assert audit(pub) == []
    # no shown count in 1..4; shown values unchanged; null stays null, unflagged
    for c in COUNTS:
        f = out[flag_name(c)]
        assert not out[c].is_between(1, 4).fill_null(False).any()
        shown = ~f
        assert out[c].filter(shown).equals(t[c].filter(shown))
        assert out[c].filter(f).null_count() == int(f.sum())
        assert not (t[c].is_null() & f).any()
    # deterministic whatever the row order
    perm = np.random.default_rng(shuffle_seed).permutation(t.height)
    again = suppress(t[perm])
    assert again.sort(KEYS).equals(out.sort(KEYS))


# ------------------------------------------------------------------ scale
def national_table(months: int, seed: int = 0) -> pl.DataFrame:
    """98 municipalities + Hele landet, 1 total + 40 breakdown rows per municipality-month."""
    rng = np.random.default_rng(seed)
    kommuner = [f"{101 + i * 8:03d}" for i in range(98)]
    bds = (
        [("aktiveringstype", f"at{i:02d}") for i in range(14)]
        + [("beskaeftigelsesydelse", f"by{i:02d}") for i in range(13)]
        + [("visitationskategori", f"vk{i:02d}") for i in range(13)]
    )
    size = rng.lognormal(5, 1.2, len(kommuner))
    parts = []
    for m in range(months):
        mm = f"{2020 + m // 12}-{m % 12 + 1:02d}"
        lam = np.outer(size, rng.uniform(0.01, 1, len(bds)))
        y = rng.poisson(lam)
        a = np.where(np.array([b == "aktiveringstype" for b, _ in bds]), y, rng.binomial(y, 0.4))
        f = rng.poisson(a * 1.3)
        tot = (size * 10).astype(np.int64)
        k_col = np.repeat(kommuner, len(bds) + 1)
        b_col = np.tile(["", *(b for b, _ in bds)], len(kommuner))
        v_col = np.tile(["", *(v for _, v in bds)], len(kommuner))

        def wide(tot_vals, cells):
            return np.column_stack([tot_vals, cells]).ravel()

        parts.append(
            pl.DataFrame(
                {
                    "maaned": mm,
                    "kommune": k_col,
                    "breakdown": b_col,
                    "breakdown_vaerdi": v_col,
                    B_: pl.Series(wide(tot * 5, np.zeros_like(y)), dtype=pl.Int64),
                    Y_: wide(tot, y),
                    A_: wide((tot * 0.4).astype(np.int64), a),
                    F_: wide((tot * 0.6).astype(np.int64), f),
                }
            ).with_columns(
                pl.when(pl.col("breakdown") == "").then(pl.col(B_)).otherwise(None).alias(B_)
            )
        )
    df = pl.concat(parts).with_columns(pl.col(c).cast(pl.Int64) for c in COUNTS)
    nat = (
        df.group_by("maaned", "breakdown", "breakdown_vaerdi")
        .agg(pl.col(c).sum().cast(pl.Int64) for c in COUNTS)
        .with_columns(
            pl.lit(HELE_LANDET).alias("kommune"),
            pl.when(pl.col("breakdown") == "").then(pl.col(B_)).otherwise(None).alias(B_),
        )
    )
    return pl.concat([df, nat.select(df.columns)])


def test_national_scale_four_years():
    t = national_table(48)
    assert t.height == 48 * 99 * 41
    out = suppress(t)
    assert audit(add_key_figures(out)) == []
    # never a count 1-4 shown anywhere at national scale
    for c in ("antal_ydelsesmodtagere", "antal_aktiverede", "antal_aktiveringsforloeb"):
        assert out.filter(pl.col(c).is_between(1, 4)).height == 0
