"""The benchmark's counts in DuckDB SQL (`cubes.benchmark_counts`) equal the polars reference
(`rules.benefits.benchmark_counts`) month by month: on hand-made months, on random months with
every overlap (several paying municipalities, benefits, activities and categories in one
citizen-week), and on the generated sample's warehouse."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dfdg_assets.cubes.assets.benchmark import SOURCE_TABLES, month_counts
from dfdg_assets.cubes.benchmark_counts import benchmark_counts_months
from dfdg_assets.dimensions import build
from dfdg_assets.facts.benefit_assets import POP_COLS
from dfdg_assets.facts.schemas import ACTIVITY_WEEK_COLS, VISITATION_WEEK_COLS
from dfdg_assets.raw.ingest import raw_table
from dfdg_assets.rules.benefits import benchmark_counts
from dfdg_assets.staging.benefits import YDELSE_COLS
from dfdg_assets.storage import Warehouse

KOMMUNER = pl.DataFrame(
    {"kommunekode": [101, 751, 825], "kommunenavn": ["København", "Aarhus", "Læsø"]}
)
WEEKS = {"2020-01": ["2020-W01", "2020-W02", "2020-W03", "2020-W04", "2020-W05"]}
WEEKS["2020-02"] = ["2020-W06", "2020-W07", "2020-W08", "2020-W09"]
WEEKS["2020-03"] = ["2020-W10", "2020-W11", "2020-W12", "2020-W13", "2020-W14"]


def _write(frames: dict[str, dict[str, pl.DataFrame]], tmp: Path) -> dict[str, dict[str, list]]:
    """Each (source, month) frame as a Parquet file, as the asset reads them."""
    out: dict[str, dict[str, list]] = {}
    for name, months in frames.items():
        for m, df in months.items():
            path = tmp / f"{name}-{m}.parquet"
            df.write_parquet(path)
            out.setdefault(name, {})[m] = [path]
    return out


def _reference(month, frames, residents):
    return benchmark_counts(
        month,
        frames["ydelse"][month],
        frames["aktivitet"][month],
        frames["visitation"][month],
        residents.get(month),
        KOMMUNER,
    )


def _random_month(rng: np.random.Generator, month: str, n: int) -> dict[str, pl.DataFrame]:
    weeks = WEEKS[month]
    citizens = rng.integers(1, 2**62, size=n // 3 + 1)

    def pick(k):
        return {
            "borger_key": rng.choice(citizens, size=k),
            "uge": rng.choice(weeks, size=k),
        }

    yr = pl.DataFrame(
        {
            **pick(n),
            "kommunekode": rng.choice([101, 751, 825], size=n).astype(np.int32),
            "beskaeftigelsesydelse": rng.choice(["Kontanthjælp", "A-dagpenge", "SU"], size=n),
        }
    )
    # an activity is one citizen's, of one type (fct_aktivitet_uge holds one version of each
    # aktivitet_id, R3), in force in one or more weeks
    pool = n // 2 + 1
    owner = rng.choice(citizens, size=pool)
    kind = rng.choice(["Mentor", "Nytteindsats", "Praktik"], size=pool)
    which = rng.integers(0, pool, size=n)
    acts = pl.DataFrame(
        {
            "borger_key": owner[which],
            "uge": rng.choice(weeks, size=n),
            "aktivitet_id": [f"A{i}" for i in which],
            "aktiveringstype": kind[which],
        }
    )
    courses = pl.DataFrame(
        {**pick(n), "visitationskategori": rng.choice(["Jobparat", "Aktivitetsparat"], size=n)}
    ).unique()
    return {"ydelse": yr, "aktivitet": acts, "visitation": courses}


def test_hand_made_months_equal_the_polars_reference(tmp_path):
    yr = pl.DataFrame(
        {
            "borger_key": [1, 1, 2, 3, 3],
            "uge": ["2020-W05", "2020-W06", "2020-W05", "2020-W05", "2020-W05"],
            "kommunekode": pl.Series([101, 751, 101, 751, 751], dtype=pl.Int32),
            "beskaeftigelsesydelse": [
                "Kontanthjælp",
                "Kontanthjælp",
                "A-dagpenge",
                "Kontanthjælp",
                "Løntilskud",
            ],
        }
    )
    acts = pl.DataFrame(
        {
            "borger_key": [1, 1, 2, 3],
            "uge": ["2020-W05", "2020-W09", "2020-W06", "2020-W05"],
            "aktivitet_id": ["A1", "A1", "A2", "A3"],
            "aktiveringstype": ["Mentor", "Mentor", "Nytteindsats", "Mentor"],
        }
    )
    courses = pl.DataFrame(
        {
            "borger_key": [1, 3, 3],
            "uge": ["2020-W05", "2020-W05", "2020-W05"],
            "visitationskategori": ["Jobparat", "Jobparat", "Aktivitetsparat"],
        }
    )
    empty = {
        "ydelse": yr.clear(),
        "aktivitet": acts.clear(),
        "visitation": courses.clear(),
    }
    frames = {
        "ydelse": {"2020-01": yr, "2020-02": empty["ydelse"]},
        "aktivitet": {"2020-01": acts, "2020-02": empty["aktivitet"]},
        "visitation": {"2020-01": courses, "2020-02": empty["visitation"]},
    }
    residents = {
        "2020-01": pl.DataFrame({"kommunekode": [101, 751], "antal_borgere_16_66": [100, 50]}),
        "2020-02": None,  # the month's delivery is missing
    }
    files = _write(frames, tmp_path)
    # 2020-03: no partition of any source at all
    months = ["2020-01", "2020-02", "2020-03"]
    out = benchmark_counts_months(months, files, residents, KOMMUNER)
    assert list(out) == months
    for m in ("2020-01", "2020-02"):
        assert out[m].equals(_reference(m, frames, residents)), m
    frames_03 = {k: {"2020-03": v} for k, v in empty.items()}
    assert out["2020-03"].equals(_reference("2020-03", frames_03, {}))
    # the numbers themselves (SPEC section 4): citizen 1 once in Hele landet
    row = out["2020-01"].filter((pl.col("kommune") == "Hele landet") & (pl.col("breakdown") == ""))
    assert row.select("antal_ydelsesmodtagere", "antal_aktiverede").row(0) == (3, 2)


@pytest.mark.parametrize("seed", range(6))
def test_random_months_equal_the_polars_reference(tmp_path, seed):
    rng = np.random.default_rng(seed)
    months = ["2020-01", "2020-02", "2020-03"]
    per_month = {m: _random_month(rng, m, int(rng.integers(5, 400))) for m in months}
    frames = {
        n: {m: per_month[m][n] for m in months} for n in ("ydelse", "aktivitet", "visitation")
    }
    residents = {
        "2020-01": pl.DataFrame(
            {"kommunekode": [101, 751, 825], "antal_borgere_16_66": [1000, 500, 3]}
        ),
        "2020-02": None,
        "2020-03": pl.DataFrame({"kommunekode": [825], "antal_borgere_16_66": [7]}),
    }
    out = benchmark_counts_months(months, _write(frames, tmp_path), residents, KOMMUNER)
    for m in months:
        assert out[m].equals(_reference(m, frames, residents)), (seed, m)


def test_the_generated_warehouse_equals_the_polars_reference(generated_loaded):
    wh = Warehouse(generated_loaded.root.warehouse)
    months = wh.partitions("cube_benchmark")
    assert months == ["2020-01", "2020-02"]
    assert set(SOURCE_TABLES.values()) <= set(wh.tables())
    out = month_counts(wh, months)
    for m in months:
        expected = benchmark_counts(
            m,
            wh.read("stg_ydelse", [m], schema=YDELSE_COLS),
            wh.read("fct_aktivitet_uge", [m], schema=ACTIVITY_WEEK_COLS),
            wh.read("fct_visitation_uge", [m], schema=VISITATION_WEEK_COLS),
            wh.read("fct_befolkning_16_66", [m], schema=POP_COLS)
            if wh.has(raw_table("borger"), m)
            else None,
            build.dim_kommune(),
        )
        assert expected["antal_ydelsesmodtagere"].sum() > 0
        assert out[m].equals(expected), m
