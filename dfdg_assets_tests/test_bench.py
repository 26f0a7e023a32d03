"""`dfdg bench` (dfdg_assets.perf.run) on a tiny generated dataset.

Asserts that the product's roll-out, the DuckDB-SQL and the pandas implementations agree, that
every figure is present and positive, and that the timed query answers what the roll-out holds.
Never asserts a time.
"""

from __future__ import annotations

import importlib.util

import polars as pl
import pytest

from dfdg_assets.perf.run import _Checker, format_report, run_bench

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pandas") is None, reason="the pandas reference needs pandas"
)

BORGERE, PANDAS_BORGERE = 300, 150


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bench")
    lines: list[str] = []
    result = run_bench(
        borgere=BORGERE,
        kommuner=2,
        fra="2019-11",
        til="2020-02",
        seed=3,
        workdir=workdir,
        pandas_borgere=PANDAS_BORGERE,
        keep_outputs=True,
        out=lines.append,
    )
    return result, lines, workdir


def test_three_implementations_agree(bench):
    result, _, _ = bench
    assert result["agree"] is True
    sizes = result["agreement"]
    assert set(sizes) == {str(BORGERE), str(PANDAS_BORGERE)}
    full, small = sizes[str(BORGERE)], sizes[str(PANDAS_BORGERE)]
    assert {"product", "sql", "product-agg", "sql-agg"} <= set(full["engines"])
    assert set(small["engines"]) == {"product", "sql", "pandas", "product-mem"}
    for ag in (full, small):
        assert ag["agree"] and ag["groups_equal"] and not ag["failed"]
        assert len(set(ag["rows"].values())) == 1 and next(iter(ag["rows"].values())) > 0
        assert len(set(ag["digests"].values())) == 1 and len(ag["digests"]) >= 2
        assert ag["groups"] > 0
    # the subset is smaller, and it is the same subset for all three engines
    assert next(iter(small["rows"].values())) < next(iter(full["rows"].values()))


def test_figures_present_and_positive(bench):
    result, lines, _ = bench
    d = result["dataset"]
    assert d["visitations"] > 0 and 0 < d["citizens"] <= BORGERE
    assert 0 < d["subsets"][str(PANDAS_BORGERE)]["citizens"] <= PANDAS_BORGERE
    runs = {(r["engine"], r["borgere"]): r for r in result["runs"]}
    expected = {
        ("product", BORGERE),
        ("sql", BORGERE),
        ("product-agg", BORGERE),
        ("sql-agg", BORGERE),
        ("product", PANDAS_BORGERE),
        ("sql", PANDAS_BORGERE),
        ("pandas", PANDAS_BORGERE),
        ("product-mem", PANDAS_BORGERE),
        ("product-month", BORGERE),
    }
    assert expected <= set(runs)
    for r in runs.values():
        assert r["ok"], r.get("error")
        for key in ("compute_s", "wall_s", "peak_mib", "rows"):
            assert r[key] > 0, (r["engine"], key)
    for size in (str(BORGERE), str(PANDAS_BORGERE)):
        assert result["ratios"][size]["product_over_sql"] > 0
    assert result["ratios"][str(PANDAS_BORGERE)]["pandas_over_product"] > 0
    assert result["ratios"][str(PANDAS_BORGERE)]["pandas_over_product_mem"] > 0
    inc = result["incremental"]
    assert inc["equals_full_month"] is True
    assert 0 < inc["one_month"]["rows"] < inc["full"]["rows"]
    assert inc["compute_ratio"] > 0 and inc["wall_ratio"] > 0
    report = format_report(result)
    assert "product" in report and "pandas" in report and "Enighed: ja" in report
    assert f"{PANDAS_BORGERE}" in report  # the pandas size is said
    assert lines  # progress was reported


def test_query_result_shape(bench):
    result, _, workdir = bench
    q = result["query"]
    assert q["fra"] == "2020-01" and q["til"] == "2020-02"
    assert q["fact_rows_in_scope"] > 0
    timed = [name for name in ("function", "sql") if name in q]
    assert "sql" in timed
    for name in timed:
        info = q[name]
        rows, cols = info["shape"]
        assert cols == 4 and rows == q["expected_shape"][0] > 0
        assert info["columns"] == [
            "maaned",
            "visitationskategori",
            "antal_borgere",
            "antal_visitationsforloeb",
        ]
        assert info["matches_rollout"] is True
        assert info["first_s"] > 0 and info["best_s"] > 0
        assert {s["maaned"] for s in info["sample"]} <= {"2020-01", "2020-02"}
    assert q["python"]["dagster_imported"] is False
    # the bench warehouse holds the product's partitions and the catalogue
    root = next(workdir.glob("root-*"))
    assert (root / "warehouse" / "dfdg.duckdb").is_file()
    assert sorted(
        p.stem for p in (root / "warehouse" / "fct_visitation_uge").glob("*.parquet")
    ) == [
        "2019-11",
        "2019-12",
        "2020-01",
        "2020-02",
    ]


def test_reuses_the_generated_dataset(bench, tmp_path):
    result, _, workdir = bench
    again = run_bench(
        borgere=BORGERE,
        kommuner=2,
        fra="2019-11",
        til="2020-02",
        seed=3,
        workdir=workdir,
        pandas_borgere=BORGERE,
        extra_engines=(),
        query=False,
        out=None,
    )
    assert again["generate"].get("reused") is True
    assert again["agree"] is True
    assert again["dataset"]["visitations"] == result["dataset"]["visitations"]
    ag = again["agreement"][str(BORGERE)]
    assert set(ag["engines"]) == {"product", "sql", "pandas", "product-mem"}
    # same data, same rows: the digest equals the first run's
    assert set(ag["digests"].values()) == set(result["agreement"][str(BORGERE)]["digests"].values())


def test_digest_is_order_independent_and_sensitive():
    df = pl.DataFrame(
        {
            "forloeb_id": ["V1", "V2", "V3"],
            "borger_key": [1, 2, 2],
            "uge": ["2020-W01", "2020-W01", "2020-W02"],
            "maaned": ["2020-01"] * 3,
            "kvartal": ["2020K1"] * 3,
            "aar": [2020] * 3,
            "kommunekode": [101, 101, 751],
            "ydelsesgruppe": ["Kontanthjælp"] * 3,
            "visitationskategori": ["Jobparat", None, "Jobparat"],
            "visiterende_org_id": [None, "JC101", "JC751"],
        }
    )

    def digest(frame: pl.DataFrame) -> str:
        c = _Checker()
        c.add(frame)
        return c.digest()

    assert digest(df) == digest(df.reverse())
    assert digest(df) == digest(df.with_columns(pl.col("kommunekode").cast(pl.Int64)))
    assert digest(df) != digest(df.with_columns(pl.col("borger_key").replace(2, 3)))
    assert digest(df) != digest(pl.concat([df, df.head(1)]))  # a duplicated row counts


def test_endtoend_reads_the_loaders_own_lines():
    from dfdg_assets.perf.endtoend import _loader_figures

    out = "\n".join(
        [
            "[1/3] 2020-10 indlæst (2.5 s)",
            "[2/3] 2020-11 indlæst (1.5 s)",
            "[3/3] 2020-12 indlæst (1.0 s)",
            "Udruller 2020-01..2020-12 (12 måneder) i én kørsel …",
            "Udrulning færdig (30.5 s)",
        ]
    )
    assert _loader_figures(out) == {
        "ingest_s": 5.0,
        "deliveries": 3,
        "rollout_s": 30.5,
        "rollout_months": 12,
        "rollout_range": "2020-01..2020-12",
        "failed": False,
    }
    assert _loader_figures("[1/1] 2020-10 AFVIST: fejl")["failed"] is True


def test_endtoend_reads_the_ingest_steps_from_the_instance(worked_loaded, tmp_path):
    from dfdg_assets.perf.endtoend import ingest_steps

    steps = ingest_steps(worked_loaded.root.root)
    assert {"raw_levering", "stg_visitation", "dim_borger"} <= steps.keys()
    assert all(v >= 0 for v in steps.values()) and steps["raw_levering"] > 0
    assert ingest_steps(tmp_path / "tom") == {}  # no ingest run yet


def test_endtoend_measures_a_child_process():
    import sys

    from dfdg_assets.perf.endtoend import measure

    held = b"\x01" * (600 * 1024 * 1024)  # the measuring process's own memory must not count
    r = measure([sys.executable, "-c", "b = bytearray(200 * 1024 * 1024); print('ok')"])
    assert r["rc"] == 0 and r["output"].strip() == "ok"
    assert 0.19 < r["peak_rss_gib"] < 0.5, r["peak_rss_gib"]  # the child's own high-water mark
    del held
    assert measure([sys.executable, "-c", "import sys; sys.exit(3)"])["rc"] == 3


@pytest.mark.slow  # a whole operation at a tiny size (generate, 3 loads, queries): 2-7 min
def test_endtoend_bench_runs_the_whole_operation(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "e2e.json"
    res = subprocess.run(
        [
            sys.executable, "-m", "dfdg_assets.cli", "bench", "--ende-til-ende",
            "--borgere", "200", "--kommuner", "2", "--fra", "2019-12", "--til", "2020-12",
            "--workdir", str(tmp_path / "w"), "--json", str(out),
        ],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "månedlig opdatering (2020-12)" in res.stdout and "sidste / 12. måned" in res.stdout
    r = json.loads(out.read_text())
    assert r["history"]["deliveries"] == 12 and r["refresh_last"]["deliveries"] == 1
    assert r["refresh_12th"]["deliveries"] == 1 and not r["history"]["failed"]
    assert r["refresh_12th"]["maaned"] == "2020-11" and r["refresh_12th"]["med_yr"]
    assert "ingen YR" not in res.stdout
    assert r["refresh_ratio"] > 0 and r["copy_floor"]["wall_s"] > 0
    assert r["refresh_last"]["fact_rows"] > 0 and r["refresh_12th"]["csv_bytes"] > 0
    assert r["refresh_ratio_per_work"]["rollout_per_row"] > 0 and "pr. arbejde" in res.stdout
    assert r["refresh_last"]["ingest_steps_s"]["raw_levering"] > 0
    assert r["raw_ingest_over_floor"] > 0 and "rå indlæsning" in res.stdout
    assert r["copy_floor_12th"]["wall_s"] > 0 and "gulv (DuckDB COPY)" in res.stdout
    queries = ("readme_dfdg", "readme_ydelsesaktivitet", "alle_kommuner_maaned")
    assert all(r["queries"][q]["rows"] > 0 for q in queries)
    # one delivery carrying all 13 months, loaded on a fresh root: every month rolled out
    whole = r["hele_historikken"]
    assert whole["deliveries"] == 1 and whole["rollout_months"] >= 13 and not whole["failed"]
    assert whole["peak_rss_gib"] > 0 and whole["csv_mb"] > 0
    assert "én levering med hele historikken" in res.stdout


def test_refresh_work_counts_the_rolled_out_fact_rows(worked_loaded):
    """The work of a refresh: its delivery's CSV and the fact and bridge rows of the months it
    rolled out, counted from the footers, equal to the rows DuckDB reads."""
    import duckdb

    from dfdg_assets.core.weeks import months_between
    from dfdg_assets.perf.endtoend import per_work, refresh_work

    root = worked_loaded.root.root
    months = sorted(p.name for p in (root / "inbox").iterdir() if p.is_dir())
    wh = root / "warehouse"
    first, last = months[0], months[-1]
    expected = sum(
        duckdb.sql(f"SELECT count(*) FROM '{f}'").fetchall()[0][0]
        for d in wh.iterdir()
        if d.name.startswith(("fct_", "bdg_"))
        for m in months_between(first, last)
        if (f := d / f"{m}.parquet").is_file()
    )
    assert expected > 0
    work = refresh_work(root, last, f"{first}..{last}")
    assert work["fact_rows"] == expected
    csv = sum(f.stat().st_size for f in (root / "inbox" / last).glob("*.csv"))
    assert work["csv_bytes"] == csv > 0
    assert refresh_work(root, last, None)["fact_rows"] == 0  # nothing rolled out
    assert refresh_work(root, last, f"{last}..{last}")["fact_rows"] < expected
    # twice the cost for twice the work is 1.0x per unit; the same work at twice the cost is 2x
    a = {"ingest_s": 2.0, "csv_bytes": 200, "rollout_s": 20.0, "fact_rows": 60}
    b = {"ingest_s": 1.0, "csv_bytes": 100, "rollout_s": 10.0, "fact_rows": 60}
    assert per_work(a, b) == {"ingest_per_mb": 1.0, "rollout_per_row": 2.0}


def test_endtoend_table_says_when_the_12th_month_is_before_yr():
    """A 12th month before YR's first builds no YR and no benchmark: the table says so under
    the ratio and names the like-for-like history."""
    from dfdg_assets.perf.endtoend import format_endtoend

    load = {"wall_s": 1.0, "peak_rss_gib": 0.1, "ingest_s": 0.5, "rollout_s": 0.4}
    result = {
        "args": {"borgere": 10, "kommuner": 2, "fra": "2017-01", "til": "2020-12"},
        "load_average_end": [0.0, 0.0, 0.0],
        "history": {**load, "deliveries": 47, "rollout_months": 47},
        "refresh_last": {**load, "deliveries": 1, "rollout_months": 15},
        "refresh_12th": {**load, "deliveries": 1, "maaned": "2017-12", "med_yr": False},
        "copy_floor": {"wall_s": 1.0, "peak_rss_gib": 0.1, "csv_mb": 1.0},
        "refresh_ratio": 1.0,
        "ingest_over_floor": 1.0,
        "queries": {},
        "total_s": 1.0,
    }
    text = format_endtoend(result)
    assert "2017-12, er før 2020-01: ingen YR og intet benchmark" in text
    assert "--fra 2020-01" in text
    result["refresh_12th"].update(maaned="2020-12", med_yr=True)
    assert "ingen YR" not in format_endtoend(result)
    assert "pr. arbejde" not in format_endtoend(result)  # no work figures, no line
    result["refresh_last"].update(csv_bytes=190e6, fact_rows=60.3e6)
    result["refresh_12th"].update(csv_bytes=136e6, fact_rows=26.2e6)
    result["refresh_ratio_per_work"] = {"ingest_per_mb": 1.01, "rollout_per_row": 0.86}
    result["copy_floor_12th"] = {"wall_s": 0.8, "peak_rss_gib": 0.1, "csv_mb": 0.5}
    text = format_endtoend(result)
    assert "gulv (DuckDB COPY) 1.00 / 0.80 s (1.25×)" in text
    assert "levering 190 / 136 MB (1.40×), faktarækker udrullet 60.3 / 26.2 mio. (2.30×)" in text
    assert "indlæsning pr. MB 1.01×, udrulning pr. faktarække 0.86×" in text
