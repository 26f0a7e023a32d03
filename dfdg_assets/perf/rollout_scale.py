"""Scale measurement of R4 + R5 (visitation courses rolled out to weeks): polars vs DuckDB SQL
vs pandas.

A synthetic, national-scale visitation table (default 1,000,000 citizens, ~3,000,000
visitations, 2017-01..2020-12, numpy random, fixed seed) is written to parquet once; every
engine then runs in its own subprocess under `/usr/bin/time -v`, which gives the wall time and
the peak resident memory of that process. The child also reports the time of the computation
itself (reading the input included, interpreter start-up and imports excluded).

Engines (what a run computes, all months at once unless said otherwise):

- `polars-agg`: the roll-out streamed into per-month row and distinct-citizen counts (the
  computation without writing 10^8 rows; streaming engine).
- `sql-agg`: the same counts over the DuckDB SQL roll-out.
- `polars-sink`: `course_weeks(build_courses(scan), months).sink_parquet(...)` (streaming).
- `polars-monthly`: courses collected once, then one `course_weeks` per month collected and
  written, as the monthly Dagster partitions do.
- `polars`: the same as one in-memory `collect()`.
- `sql-copy`: the DuckDB SQL of `rollout_sql` written with `COPY ... TO parquet` (streaming).
- `sql`: `course_weeks_sql(...)`, fetched into one polars DataFrame.
- `pandas`: `course_weeks_pandas(...)`, in memory.

In-memory results of all 48 months at 1M citizens are on the order of 10^8 rows, so the
in-memory engines run at a smaller size (`small_citizens`, default 100,000).

Run: `python -m dfdg_assets.perf.rollout_scale [--citizens N] [--small-citizens N]`
(a later `dfdg bench` calls `measure`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dfdg_assets.core.weeks import month_first_day, month_last_day, months_between

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
FIRST_MONTH, LAST_MONTH = "2017-01", "2020-12"
ENGINES = (
    "polars-agg",
    "polars-sink",
    "polars-monthly",
    "polars",
    "sql-agg",
    "sql-copy",
    "sql",
    "pandas",
)
LARGE_ENGINES = ("polars-agg", "sql-agg", "polars-sink", "sql-copy", "polars-monthly")
SMALL_ENGINES = ("polars", "sql", "pandas")
TIME_BIN = "/usr/bin/time"


def _timestamps(
    rng: np.random.Generator,
    per_citizen: np.ndarray,
    first_month: str,
    last_month: str,
) -> np.ndarray:
    """The visitation times: uniform inside a spell per citizen, with same-day (and same-time)
    repeats of the citizen's previous visitation."""
    n_citizens, total = len(per_citizen), int(per_citizen.sum())
    first = month_first_day(first_month)
    span = (month_last_day(last_month) - first).days + 1
    epoch_first = (first - dt.date(1970, 1, 1)).days
    pos = np.arange(total) - np.repeat(np.cumsum(per_citizen) - per_citizen, per_citizen)
    spell_start = rng.integers(0, span, n_citizens)
    spell_len = np.minimum(rng.integers(30, 731, n_citizens), span - spell_start)
    day = np.repeat(spell_start, per_citizen) + (
        rng.random(total) * np.repeat(spell_len, per_citizen)
    ).astype(np.int64)
    seconds = rng.integers(7 * 3600, 16 * 3600, total)
    same_day = (pos > 0) & (rng.random(total) < 0.06)
    day[1:][same_day[1:]] = day[:-1][same_day[1:]]
    same_time = same_day & (rng.random(total) < 1 / 6)
    seconds[1:][same_time[1:]] = seconds[:-1][same_time[1:]]
    return (epoch_first + day).astype("datetime64[D]").astype("datetime64[us]") + seconds.astype(
        "timedelta64[s]"
    )


def _places_and_categories(
    rng: np.random.Generator, per_citizen: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(municipality, benefit group, category) of each visitation: the citizen's own
    municipality but for 5 % movers, a category fitting the group, 15 % Afmeldt."""
    pairs = pl.read_csv(REFERENCE / "visitationskategorier.csv")
    pairs = pairs.filter(pl.col("visitationskategori") != "Afmeldt")
    kommuner = pl.read_csv(REFERENCE / "kommuner.csv")["kommunekode"].to_numpy()
    n_citizens, total = len(per_citizen), int(per_citizen.sum())
    home = rng.choice(kommuner, n_citizens)
    kommune = np.repeat(home, per_citizen)
    movers = rng.random(total) < 0.05
    kommune[movers] = rng.choice(kommuner, int(movers.sum()))
    pair = rng.integers(0, pairs.height, total)
    ydelsesgruppe = pairs["ydelsesgruppe"].to_numpy()[pair]
    kategori = pairs["visitationskategori"].to_numpy()[pair].astype(object)
    afmeldt = rng.random(total) < 0.15
    kategori[afmeldt] = "Afmeldt"
    ydelsesgruppe = np.where(afmeldt, "Alle", ydelsesgruppe).astype(object)
    return kommune, ydelsesgruppe, kategori


def make_visitations(
    n_citizens: int = 1_000_000,
    seed: int = 20201014,
    first_month: str = FIRST_MONTH,
    last_month: str = LAST_MONTH,
) -> pl.DataFrame:
    """A synthetic R3-resolved visitation table, ~3 visitations per citizen (grain: visitation).

    Each citizen has a spell starting uniformly in the period and up to two years long; the
    visitations fall uniformly inside it. About 6 % share a date with another visitation of the
    citizen (same-day rule), 1 % also the exact time; 15 % are Afmeldt; 5 % are visited by a
    municipality other than the citizen's own (movers). Categories fit the benefit group.
    """
    rng = np.random.default_rng(seed)
    per_citizen = 1 + rng.poisson(2.0, n_citizens)
    total = int(per_citizen.sum())
    borger = np.repeat(np.arange(n_citizens, dtype=np.int64), per_citizen)
    timestamp = _timestamps(rng, per_citizen, first_month, last_month)
    kommune, ydelsesgruppe, kategori = _places_and_categories(rng, per_citizen)
    ids = rng.permutation(total)
    frame = pl.DataFrame(
        {
            "visitation_id": ids,
            "borger_key": borger,
            "kommunekode": kommune.astype(np.int32),
            "visitationstidspunkt": timestamp,
            "ydelsesgruppe": pl.Series(ydelsesgruppe, dtype=pl.String),
            "visitationskategori": pl.Series(kategori, dtype=pl.String),
            "org_null": rng.random(total) < 0.03,
        }
    )
    return frame.select(
        pl.format("V{}", pl.col("visitation_id")).alias("visitation_id"),
        "borger_key",
        "kommunekode",
        pl.col("visitationstidspunkt").cast(pl.Datetime("us")),
        "ydelsesgruppe",
        "visitationskategori",
        pl.when(pl.col("org_null"))
        .then(None)
        .otherwise(pl.format("JC{}", pl.col("kommunekode")))
        .alias("visiterende_org_id"),
    )


def _polars_rows(engine: str, input_path: Path, months: list[str], out_dir: Path) -> int:
    from dfdg_assets.rules import build_courses, course_weeks

    scan = pl.scan_parquet(input_path)
    if engine == "polars-agg":
        counts = (
            course_weeks(build_courses(scan), months)
            .group_by("maaned")
            .agg(pl.len().alias("n"), pl.col("borger_key").n_unique().alias("borgere"))
            .collect(engine="streaming")
        )
        return int(counts["n"].sum())
    if engine == "polars-sink":
        target = out_dir / "course_weeks.parquet"
        course_weeks(build_courses(scan), months).sink_parquet(target, compression="zstd")
        return pl.scan_parquet(target).select(pl.len()).collect().item()
    if engine == "polars-monthly":
        courses = build_courses(scan).collect().lazy()
        rows = 0
        for month in months:
            part = course_weeks(courses, [month]).collect()
            part.write_parquet(out_dir / f"{month}.parquet", compression="zstd")
            rows += part.height
            del part
        return rows
    if engine == "polars":
        return course_weeks(build_courses(scan), months).collect().height
    raise ValueError(engine)


def _sql_rows(engine: str, input_path: Path, months: list[str], out_dir: Path) -> int:
    import duckdb
    import pyarrow.parquet as pq

    from dfdg_assets.perf.rollout_sql import (
        COURSE_WEEKS_SQL,
        course_weeks_relation,
        course_weeks_sql,
    )
    from dfdg_assets.sql import template

    table = pq.read_table(input_path)
    if engine == "sql-agg":
        con = duckdb.connect()
        course_weeks_relation(con, table, months)  # registers the inputs
        sql = template("scale_month_counts").format(course_weeks=COURSE_WEEKS_SQL)
        month_counts = con.sql(sql).fetchall()
        con.close()
        return sum(r[1] for r in month_counts)
    if engine == "sql-copy":
        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
        target = out_dir / "course_weeks.parquet"
        course_weeks_relation(con, table, months).write_parquet(str(target), compression="zstd")
        con.close()
        return pl.scan_parquet(target).select(pl.len()).collect().item()
    if engine == "sql":
        return course_weeks_sql(table, months).height
    raise ValueError(engine)


def _pandas_rows(engine: str, input_path: Path, months: list[str], out_dir: Path) -> int:
    import pandas as pd

    from dfdg_assets.perf.rollout_pandas import course_weeks_pandas

    return len(course_weeks_pandas(pd.read_parquet(input_path), months))


def run_engine(engine: str, input_path: Path, months: list[str], out_dir: Path) -> dict[str, Any]:
    """Run one engine in this process; returns rows produced and compute seconds (the engine's
    imports included)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if engine.startswith("polars"):
        rows = _polars_rows(engine, input_path, months, out_dir)
    elif engine.startswith("sql"):
        rows = _sql_rows(engine, input_path, months, out_dir)
    elif engine == "pandas":
        rows = _pandas_rows(engine, input_path, months, out_dir)
    else:
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    return {"engine": engine, "rows": int(rows), "compute_s": time.perf_counter() - started}


def _parse_time_v(stderr: str) -> tuple[float | None, float | None]:
    """(wall seconds, max RSS MiB) from `/usr/bin/time -v` output."""
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr)
    wall_s = None
    if wall:
        parts = [float(p) for p in wall.group(1).split(":")]
        wall_s = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return wall_s, (int(rss.group(1)) / 1024 if rss else None)


def _run_child(engine: str, input_path: Path, months: list[str], out_dir: Path) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "dfdg_assets.perf.rollout_scale",
        "--child",
        engine,
        "--input",
        str(input_path),
        "--out",
        str(out_dir),
        "--months",
        f"{months[0]}..{months[-1]}",
    ]
    has_time = Path(TIME_BIN).exists()
    started = time.perf_counter()
    proc = subprocess.run(
        [TIME_BIN, "-v", *cmd] if has_time else cmd, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    result: dict[str, Any] = {"engine": engine}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result.update(json.loads(line[7:]))
    wall_s, rss_mib = _parse_time_v(proc.stderr) if has_time else (elapsed, None)
    result.update(
        wall_s=wall_s if wall_s is not None else elapsed,
        max_rss_mib=rss_mib if rss_mib is not None else result.get("child_max_rss_mib"),
        ok=proc.returncode == 0 and "rows" in result,
    )
    if not result["ok"]:
        result["error"] = (proc.stderr.strip().splitlines() or ["?"])[-1][:300]
    shutil.rmtree(out_dir, ignore_errors=True)
    return result


def measure(
    citizens: int = 1_000_000,
    small_citizens: int = 100_000,
    months: tuple[str, str] = (FIRST_MONTH, LAST_MONTH),
    large_engines: tuple[str, ...] = LARGE_ENGINES,
    small_engines: tuple[str, ...] = SMALL_ENGINES,
    workdir: Path | None = None,
    seed: int = 20201014,
) -> list[dict[str, Any]]:
    """Generate the inputs, run every engine in its own subprocess, return one dict per run.

    Keys: engine, citizens, visitations, rows, compute_s, wall_s, max_rss_mib, ok.
    """
    month_list = months_between(*months)
    own_tmp = workdir is None
    root = Path(tempfile.mkdtemp(prefix="dfdg-bench-")) if workdir is None else Path(workdir)
    root.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    try:
        for n, engines in ((citizens, large_engines), (small_citizens, small_engines)):
            if not engines or n <= 0:
                continue
            vis = make_visitations(n, seed=seed, first_month=months[0], last_month=months[1])
            input_path = root / f"visitations_{n}.parquet"
            vis.write_parquet(input_path)
            n_vis = vis.height
            del vis
            for engine in engines:
                res = _run_child(engine, input_path, month_list, root / f"out_{engine}_{n}")
                res.update(citizens=n, visitations=n_vis, months=len(month_list))
                results.append(res)
    finally:
        if own_tmp:
            shutil.rmtree(root, ignore_errors=True)
    return results


def format_results(results: list[dict[str, Any]]) -> str:
    head = f"{'engine':<15} {'citizens':>9} {'visits':>9} {'rows':>12} {'compute s':>10} {'wall s':>8} {'peak MiB':>9}"
    lines = [head, "-" * len(head)]
    for r in results:
        if not r.get("ok"):
            lines.append(f"{r['engine']:<15} {r.get('citizens', 0):>9} FAILED: {r.get('error')}")
            continue
        lines.append(
            f"{r['engine']:<15} {r['citizens']:>9} {r['visitations']:>9} {r['rows']:>12} "
            f"{r['compute_s']:>10.1f} {r['wall_s']:>8.1f} {r['max_rss_mib'] or float('nan'):>9.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--small-citizens", type=int, default=100_000)
    parser.add_argument("--months", default=f"{FIRST_MONTH}..{LAST_MONTH}")
    parser.add_argument("--large-engines", default=",".join(LARGE_ENGINES))
    parser.add_argument("--small-engines", default=",".join(SMALL_ENGINES))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    first, _, last = args.months.partition("..")
    last = last or first

    if args.child:
        res = run_engine(args.child, args.input, months_between(first, last), args.out)
        import resource

        res["child_max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("RESULT " + json.dumps(res), flush=True)
        return 0

    results = measure(
        citizens=args.citizens,
        small_citizens=args.small_citizens,
        months=(first, last),
        large_engines=tuple(e for e in args.large_engines.split(",") if e),
        small_engines=tuple(e for e in args.small_engines.split(",") if e),
        workdir=args.workdir,
    )
    print(json.dumps(results, indent=2) if args.json else format_results(results))
    return 0 if all(r.get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
