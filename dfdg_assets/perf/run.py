"""`dfdg bench`: the product's visitation roll-out against plain DuckDB SQL and pandas, on the
product's own synthetic deliveries, plus the incremental cost of a month and a cube query.

    from dfdg_assets.perf.run import run_bench, format_report
    result = run_bench(borgere=1_000_000, workdir=Path("/tmp/dfdg-bench"))
    print(format_report(result))

Steps (SPEC R3-R5, section 4):

1. Dataset. `dfdg_assets.generate.generate` writes deliveries to `workdir/inbox-<args>` (reused
   when its marker file `.bench-args.json` holds the same arguments). Every month's
   `visitation.csv` is checked against the manifest's SHA-256, parsed and row-checked as ingestion
   does (`parse_csv` + `check_rows`: the rows that load), R3 is applied across data months
   (`latest_version`), and `cpr` is replaced by `borger_key` (`surrogate_keys`, fixed bench
   secret). The result is `workdir/prep-<args>/visitations.parquet` (reused when present), plus a
   deterministic subset of citizens (the `pandas_borgere` smallest keys; keys are keyed hashes,
   so this is a random sample) for pandas.
2. Roll-out. Each engine runs in its own subprocess under `/usr/bin/time -v`:
   - `product`: `build_courses` once, then per month `course_weeks(...).sort(kommunekode,
     borger_key, uge).collect()` written with `Warehouse.write` (as `fct_visitation_uge` does,
     one month at a time; the pandera validation of the asset is left out);
   - `sql`: DuckDB, the courses as a table, then per month `COPY (... ORDER BY same) TO parquet`;
   - `pandas`: vectorized pandas, in memory (`rollout_pandas`);
   - `product-mem`: the product's rules collected in memory, no sort and no write (what pandas
     does), run with pandas, so `pandas_over_product_mem` is like for like;
   - extras: `product-agg` / `sql-agg` compute only the per-group counts (no rows written);
     `product-asset` is the asset's own body (month by month: roll out, validate with pandera, write).
   `repeat=k` runs each engine k times, alternating, and counts the fastest (busy machines).
   Compute time = reading the input to the last partition written (interpreter start-up and
   imports excluded); wall = the process under /usr/bin/time minus the agreement check that runs
   after the compute; peak = the process's high-water RSS at the end of the compute (VmHWM).
3. Agreement. After its compute, each child reads its own rows back and computes, per
   (maaned, visitationskategori, kommunekode), the rows, distinct citizens and distinct courses,
   and an order-independent digest of all rows: the sum mod 2^64 of polars' `hash_rows` over the
   rows cast to one canonical schema (the same polars in every child, so the hash is the same
   function). Engines of one size agree when the group tables and (for row-producing engines) the
   digests and row counts are equal.
4. Incremental: `product-month` = courses from all visitations + `course_weeks` of the last month.
5. Query: the product's partitions plus `dim_tid_uge` and `dim_kommune` in a bench warehouse and
   catalogue; `query_dfdg` and the same query in plain DuckDB SQL (`sql/bench_query.sql`) for the
   largest municipality, the last year, `antal_borgere, antal_visitationsforloeb` by
   `maaned, visitationskategori`, timed first call and best of 3 in a fresh process; the CLI
   `python -m dfdg_assets.cli query dfdg ...` when that subcommand exists, with `-X importtime`
   telling whether Dagster was imported.

Modules: this one runs the steps (`run_bench`) in the parent; `perf.children` holds the timed
tasks, each run in its own interpreter; `perf.query_timing` the query step; `perf.report` the
text report; `perf.constants` what both sides agree on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfdg_assets.perf.children import Checker as _Checker
from dfdg_assets.perf.children import run_child
from dfdg_assets.perf.constants import (
    ENGINES,
    GROUP_KEYS,
    INBOX_MARKER,
    PANDAS_SIZE_ENGINES,
    PREP_MARKER,
    PREP_VERSION,
)
from dfdg_assets.perf.query_timing import time_query
from dfdg_assets.perf.report import format_report, report

__all__ = ["_Checker", "bench_and_report", "format_report", "main", "report", "run_bench"]


@dataclass
class _Bench:
    """One run of the benchmark: its arguments, its folders and the result being filled in."""

    borgere: int
    kommuner: int | Sequence[int]
    fra: str
    til: str
    seed: int
    workdir: Path
    pandas_n: int
    months: list[str]
    say: Callable[[str], Any]
    result: dict[str, Any] = field(default_factory=dict)
    prep: dict[str, Any] = field(default_factory=dict)

    @property
    def gen_args(self) -> dict[str, Any]:
        return {
            "kommuner": self.kommuner,
            "borgere": self.borgere,
            "fra": self.fra,
            "til": self.til,
            "seed": self.seed,
        }

    @property
    def tag(self) -> str:
        k = self.kommuner
        k_text = k if isinstance(k, int) else "_".join(str(c) for c in k)
        return f"k{k_text}-b{self.borgere}-{self.fra}-{self.til}-s{self.seed}"

    @property
    def runs_dir(self) -> Path:
        return self.workdir / f"runs-{self.tag}"

    @property
    def bench_root(self) -> Path:  # a data root: warehouse/ + catalogue
        return self.workdir / f"root-{self.tag}"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _same_kommuner(a: Any, b: int | Sequence[int]) -> bool:
    if isinstance(b, int):
        return a == b
    return isinstance(a, list) and list(a) == list(b)


def _brief(r: dict | None) -> dict[str, Any] | None:
    if not r:
        return None
    keys = ("ok", "rows", "courses", "courses_s", "compute_s", "wall_s", "peak_mib", "error")
    return {k: r.get(k) for k in keys if k in r}


def _machine() -> dict[str, Any]:
    machine = {
        "cpus": os.cpu_count(),
        "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import duckdb
        import polars as pl

        machine.update(polars=pl.__version__, duckdb=duckdb.__version__)
    except Exception:  # noqa: BLE001
        pass
    return machine


# ---------------------------------------------------------------- 1. dataset
def _deliveries(b: _Bench, reuse: bool) -> tuple[Path, bool]:
    """The generated deliveries (reused when its marker holds the same arguments)."""
    inbox = b.workdir / f"inbox-{b.tag}"
    marker = _read_json(inbox / INBOX_MARKER)
    reused = bool(
        reuse
        and marker is not None
        and all(marker.get(k) == v for k, v in b.gen_args.items() if k != "kommuner")
        and _same_kommuner(marker.get("kommuner"), b.kommuner)
    )
    if not reused:
        shutil.rmtree(inbox, ignore_errors=True)
        b.say(
            f"Genererer {b.borgere:,} borgere, {b.fra}..{b.til}, {b.kommuner} kommuner -> {inbox}"
        )
        gen = run_child("generate", {"out": str(inbox), "args": b.gen_args})
        if not gen["ok"]:
            raise RuntimeError(f"generate failed: {gen.get('error')}")
        b.result["generate"] = gen
    else:
        b.say(f"Genbruger leveringerne i {inbox}")
        b.result["generate"] = {
            "reused": True,
            "seconds": marker.get("seconds") if marker else None,
        }
    return inbox, reused


def _dataset(b: _Bench, reuse: bool) -> None:
    """The deliveries, then the prepared visitations (and the pandas subset) in `b.prep`."""
    inbox, reused = _deliveries(b, reuse)
    prep_dir = b.workdir / f"prep-{b.tag}"
    prep_marker = _read_json(prep_dir / PREP_MARKER)
    if not (reuse and reused and prep_marker and prep_marker.get("version") == PREP_VERSION):
        shutil.rmtree(prep_dir, ignore_errors=True)
    subsets = [b.pandas_n] if b.pandas_n < b.borgere else []
    b.say("Forbereder visitationerne: visitation.csv -> kontrol -> R3 -> borger_key -> parquet")
    prep = run_child("prepare", {"inbox": str(inbox), "out": str(prep_dir), "subsets": subsets})
    if not prep["ok"]:
        raise RuntimeError(f"prepare failed: {prep.get('error')}")
    (prep_dir / PREP_MARKER).write_text(json.dumps({"version": PREP_VERSION, **b.gen_args}))
    b.prep = prep
    b.result["dataset"] = {
        "inbox": str(inbox),
        "visitations": prep["visitations"],
        "citizens": prep["citizens"],
        "path": prep["path"],
        "prepare": {
            k: prep.get(k)
            for k in ("prepare_s", "delivered", "rejected", "process_wall_s", "process_peak_mib")
        },
        "subsets": prep["subsets"],
    }
    b.say(
        f"  {prep['visitations']:,} visitationer (efter R3), {prep['citizens']:,} borgere med visitationer"
    )


# ---------------------------------------------------------------- 2. roll-outs
def _run_engine(
    b: _Bench, engine: str, n: int, path: str, months: list[str], out_dir: Path, rep: int = 0
) -> dict:
    """One engine at one size in its own process; its figures are added to the result."""
    b.say(f"  {engine:<14} {n:>10,} borgere ...")
    shutil.rmtree(out_dir, ignore_errors=True)
    groups = b.runs_dir / f"groups-{engine}-{n}-{rep}.parquet"
    r = run_child(
        "rollout",
        {
            "engine": engine,
            "input": path,
            "months": months,
            "out": str(out_dir),
            "groups": str(groups),
        },
    )
    if out_dir != b.bench_root / "warehouse":
        shutil.rmtree(out_dir, ignore_errors=True)  # large at national scale
    r.update(engine=engine, borgere=n, months=len(months), rep=rep)
    subsets = b.prep["subsets"]
    r["visitations"] = b.prep["visitations"] if n == b.borgere else subsets[str(n)]["visitations"]
    if r["ok"]:
        r["wall_s"] = r["process_wall_s"] - r.get("verify_s", 0.0)
        r["peak_mib"] = r.get("peak_compute_mib") or r.get("process_peak_mib")
        b.say(
            f"  {engine:<14} {n:>10,} borgere: {r['rows']:,} rækker, beregning "
            f"{r['compute_s']:.1f} s, væg {r['wall_s']:.1f} s, top {r['peak_mib']:,.0f} MiB"
        )
    else:
        b.say(f"  {engine:<14} {n:>10,} borgere: FEJL {r.get('error')}")
    b.result["runs"].append(r)
    return r


def _plan(b: _Bench, extra_engines: Sequence[str], repeat: int) -> list[tuple[int, str, str, int]]:
    """The runs (size, input, engine, repetition): product and SQL (and pandas, product-mem at
    the pandas size) `repeat` times, alternating, then the extra engines once."""
    import importlib.util

    unknown = [e for e in extra_engines if e not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engines {unknown}; known: {', '.join(ENGINES)}")
    small_engines = list(PANDAS_SIZE_ENGINES)
    if importlib.util.find_spec("pandas") is None:  # pandas is a dev extra of the package
        small_engines.remove("pandas")
        b.result["notes"].append("pandas is not installed: the pandas reference was not run")
    main_engines = small_engines if b.pandas_n >= b.borgere else ["product", "sql"]
    sizes: list[tuple[int, str, list[str]]] = [(b.borgere, b.prep["path"], main_engines)]
    if b.pandas_n < b.borgere:
        sizes.append((b.pandas_n, b.prep["subsets"][str(b.pandas_n)]["path"], small_engines))
        b.result["notes"].append(
            f"pandas measured at {b.pandas_n:,} citizens (a deterministic subset), not {b.borgere:,}: "
            f"product and SQL were run at that size too, for a like-for-like ratio"
        )
    plan = [(n, path, e, r) for n, path, es in sizes for r in range(max(1, repeat)) for e in es]
    plan += [(b.borgere, b.prep["path"], e, 0) for e in extra_engines if e not in main_engines]
    return plan


def _rollouts(
    b: _Bench, plan: list[tuple[int, str, str, int]]
) -> tuple[dict[int, dict[str, dict]], dict[int, dict[str, list[dict]]]]:
    """Every planned run; the fastest run of each engine and size, and all runs."""
    b.say(f"Udrulning af {len(b.months)} måneder, hver motor i sin egen proces")
    by_size: dict[int, dict[str, dict]] = {}  # the fastest run of each engine and size
    all_runs: dict[int, dict[str, list[dict]]] = {}
    for n, path, engine, rep_ in plan:
        target = (
            b.bench_root / "warehouse"
            if (engine == "product" and n == b.borgere)
            else (b.runs_dir / f"{engine}-{n}-{rep_}")
        )
        r = _run_engine(b, engine, n, path, b.months, target, rep_)
        all_runs.setdefault(n, {}).setdefault(engine, []).append(r)
        best = by_size.setdefault(n, {}).get(engine)
        if best is None or (r["ok"] and (not best["ok"] or r["compute_s"] < best["compute_s"])):
            by_size[n][engine] = r
    return by_size, all_runs


# ---------------------------------------------------------------- 3. agreement
def _compare_groups(paths: dict[str, str]) -> tuple[bool, list[str]]:
    """Are the per-group tables of these engines equal? (and a few lines saying where not)"""
    import polars as pl

    frames = {e: pl.read_parquet(p) for e, p in paths.items()}
    if len(frames) < 2:
        return True, []
    names = list(frames)
    base = frames[names[0]]
    notes = []
    ok = True
    for e in names[1:]:
        other = frames[e]
        if base.equals(other):
            continue
        ok = False
        j = base.join(
            other, on=GROUP_KEYS, how="full", nulls_equal=True, suffix="_o", coalesce=True
        )
        diff = j.filter(
            pl.any_horizontal(
                pl.col(c).ne_missing(pl.col(f"{c}_o")) for c in ("rows", "borgere", "forloeb")
            )
        )
        notes.append(
            f"{names[0]} vs {e}: {diff.height} groups differ, e.g. {diff.head(3).to_dicts()}"
        )
    return ok, notes


def _size_agreement(engines: dict[str, dict], every: list[dict]) -> dict[str, Any]:
    """Do the runs of one size agree (group tables, digests, row counts)?"""
    import polars as pl

    good = {e: r for e, r in engines.items() if r["ok"]}
    failed = sorted({r["engine"] for r in every if not r["ok"]})
    groups_ok, notes = _compare_groups(
        {f"{r['engine']}#{r['rep']}": r["groups"] for r in every if r["ok"]}
    )
    digest_ok = len({r["digest"] for r in every if r["ok"] and "digest" in r}) <= 1
    rows_ok = len({r["rows"] for r in every if r["ok"]}) <= 1
    return {
        "agree": groups_ok and digest_ok and rows_ok and not failed and len(good) >= 2,
        "engines": list(good),
        "runs": len(every),
        "failed": failed,
        "groups_equal": groups_ok,
        "digests": {e: r["digest"] for e, r in good.items() if "digest" in r},
        "rows": {e: r["rows"] for e, r in good.items()},
        "groups": int(pl.read_parquet(next(iter(good.values()))["groups"]).height) if good else 0,
        "notes": notes,
    }


def _ratios(by_size: dict[int, dict[str, dict]]) -> dict[str, dict[str, float]]:
    out = {}
    for n, engines in by_size.items():
        ratios: dict[str, float] = {}
        g = engines.get
        for name, a, b in (
            ("product_over_sql", g("product"), g("sql")),
            ("pandas_over_product", g("pandas"), g("product")),
            ("pandas_over_product_mem", g("pandas"), g("product-mem")),
            ("product_agg_over_sql_agg", g("product-agg"), g("sql-agg")),
        ):
            if a and b and a["ok"] and b["ok"]:
                ratios[name] = a["compute_s"] / b["compute_s"]
                ratios[name + "_wall"] = a["wall_s"] / b["wall_s"]
        out[str(n)] = ratios
    return out


# ---------------------------------------------------------------- 4. incremental
def _incremental(b: _Bench, full: dict | None) -> dict[str, Any]:
    """The last month alone (courses from all visitations + one month's weeks) against the
    full roll-out; it must equal that month of the full roll-out."""
    import polars as pl

    months = b.months
    month = _run_engine(
        b, "product-month", b.borgere, b.prep["path"], months[-1:], b.runs_dir / "product-month"
    )
    inc: dict[str, Any] = {"month": months[-1], "one_month": _brief(month), "full": _brief(full)}
    if full and full["ok"] and month["ok"]:
        inc["compute_ratio"] = month["compute_s"] / full["compute_s"]
        inc["wall_ratio"] = month["wall_s"] / full["wall_s"]
        inc["peak_ratio"] = month["peak_mib"] / full["peak_mib"]
        if month.get("digest"):
            f_groups = pl.read_parquet(full["groups"]).filter(pl.col("maaned") == months[-1])
            inc["equals_full_month"] = f_groups.equals(pl.read_parquet(month["groups"]))
            b.result["agree"] = b.result["agree"] and bool(inc["equals_full_month"])
    return inc


def _compare(
    b: _Bench, by_size: dict[int, dict[str, dict]], all_runs: dict[int, dict[str, list[dict]]]
) -> None:
    """Record whether every size's engines agree, the best run of each engine and the ratios
    between them, and announce the agreement."""
    result = b.result
    result["agreement"] = {
        str(n): _size_agreement(engines, [r for rs in all_runs[n].values() for r in rs])
        for n, engines in by_size.items()
    }
    result["agree"] = agree = all(a["agree"] for a in result["agreement"].values())
    b.say(
        "Enighed: " + ("ja, alle motorer giver de samme rækker" if agree else "NEJ (se agreement)")
    )
    result["best"] = {str(n): {e: r.get("rep") for e, r in es.items()} for n, es in by_size.items()}
    result["ratios"] = _ratios(by_size)


def _query(b: _Bench, full: dict[str, Any] | None) -> dict[str, Any]:
    """Time the query on the full product roll-out's output, or say why it was skipped."""
    if full and full["ok"]:
        return time_query(b.bench_root, full, b.months, b.fra, b.til, b.runs_dir, b.say)
    return {"skipped": "the product roll-out failed"}


def _finish(b: _Bench, t_start: float, keep_outputs: bool) -> None:
    """Record the load average at the end and the total time; delete the engine outputs unless
    they are to be kept."""
    result = b.result
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"]["load_average_end"] = result["load_average_end"]
    result["total_s"] = time.perf_counter() - t_start
    if not keep_outputs:
        shutil.rmtree(b.runs_dir, ignore_errors=True)
        shutil.rmtree(b.bench_root, ignore_errors=True)


def run_bench(
    *,
    borgere: int,
    kommuner: int | Sequence[int] = 98,
    fra: str = "2017-01",
    til: str = "2020-12",
    seed: int = 1,
    workdir: Path | None = None,
    reuse: bool = True,
    pandas_borgere: int | None = None,
    extra_engines: Sequence[str] = ("product-agg", "sql-agg"),
    repeat: int = 1,
    query: bool = True,
    keep_outputs: bool = False,
    out: Callable[[str], Any] | None = print,
) -> dict[str, Any]:
    """Generate (or reuse) a dataset, time the three roll-outs, check they agree, time a query.

    Returns a dict with every figure (see `format_report`); `result["agree"]` is the agreement
    flag. `pandas_borgere` (default min(borgere, 100_000)): the citizens pandas runs at; when it is
    below `borgere`, product and SQL run at that size too, so the pandas ratio is like for like.
    `extra_engines`: also run these at the full size (`product-agg`, `sql-agg`,
    `product-asset`). `repeat`: run product, SQL (and pandas, product-mem) that many times,
    alternating, and report the fastest run of each (all runs are kept in `runs` and must agree);
    use 2 or more on a busy machine. `workdir` defaults to `$TMPDIR/dfdg-bench`; the engine outputs are deleted
    after the run unless `keep_outputs` (the generated inbox and prepared parquet stay for reuse).
    """
    from dfdg_assets.core.weeks import months_between

    t_start = time.perf_counter()
    workdir = Path(workdir) if workdir else Path(os.environ.get("TMPDIR", "/tmp")) / "dfdg-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    pandas_n = min(borgere, 100_000) if pandas_borgere is None else min(pandas_borgere, borgere)
    months = months_between(fra, til)
    say = out or (lambda _s: None)
    b = _Bench(borgere, kommuner, fra, til, seed, workdir, pandas_n, months, say)
    result = b.result
    result.update(
        args={**b.gen_args, "pandas_borgere": pandas_n, "workdir": str(workdir)},
        machine=_machine(),
        started=dt.datetime.now().isoformat(timespec="seconds"),
        months=len(months),
        runs=[],
        notes=[],
    )
    _dataset(b, reuse)
    shutil.rmtree(b.runs_dir, ignore_errors=True)
    shutil.rmtree(b.bench_root, ignore_errors=True)
    b.runs_dir.mkdir(parents=True)
    by_size, all_runs = _rollouts(b, _plan(b, extra_engines, repeat))
    _compare(b, by_size, all_runs)
    full = by_size[borgere].get("product")
    result["incremental"] = _incremental(b, full)
    if query:
        result["query"] = _query(b, full)
    _finish(b, t_start, keep_outputs)
    return result


# ====================================================================== entry point
def bench_and_report(args: argparse.Namespace, **options: Any) -> int:
    """`run_bench` with the sizes, period and paths of a command line (`dfdg bench`, or this
    module's own) and the other `options`, then `report`."""
    result = run_bench(
        borgere=args.borgere,
        kommuner=args.kommuner,
        fra=args.fra,
        til=args.til,
        seed=args.seed,
        workdir=Path(args.workdir) if args.workdir else None,
        pandas_borgere=args.pandas_borgere,
        **options,
    )
    return report(result, Path(args.json) if args.json else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dfdg_assets.perf.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--borgere", type=int, default=1_000_000)
    parser.add_argument("--kommuner", type=int, default=98)
    parser.add_argument("--fra", default="2017-01")
    parser.add_argument("--til", default="2020-12")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--pandas-borgere", type=int)
    parser.add_argument("--no-reuse", action="store_true")
    parser.add_argument("--extra", default="product-agg,sql-agg")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the result dict here")
    args = parser.parse_args(argv)
    return bench_and_report(
        args,
        reuse=not args.no_reuse,
        extra_engines=tuple(e for e in args.extra.split(",") if e),
        repeat=args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
