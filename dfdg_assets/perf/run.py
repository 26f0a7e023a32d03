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
   catalogue; `query_dfdg` (falls back to equivalent SQL while that module is missing) for the
   largest municipality, the last year, `antal_borgere, antal_visitationsforloeb` by
   `maaned, visitationskategori`, timed first call and best of 3 in a fresh process; the CLI
   `python -m dfdg_assets.cli query dfdg ...` when that subcommand exists, with `-X importtime`
   telling whether Dagster was imported.

Children: `python -m dfdg_assets.perf.run --child '<json>'` prints `RESULT <json>`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dfdg_assets.perf.rollout_scale import TIME_BIN, _parse_time_v

BENCH_SECRET = b"dfdg-bench-secret-not-for-production"
INBOX_MARKER = ".bench-args.json"
PREP_MARKER = ".prep.json"
FACT = "fct_visitation_uge"
ENGINES = (
    "product",
    "sql",
    "pandas",
    "product-mem",
    "product-agg",
    "sql-agg",
    "product-asset",
    "product-month",
)
#: engines run at the pandas size (with pandas itself)
PANDAS_SIZE_ENGINES = ("product", "sql", "pandas", "product-mem")
GROUP_KEYS = ["maaned", "visitationskategori", "kommunekode"]
PARTITION_SORT = ["kommunekode", "borger_key", "uge"]  # the order the SQL engine writes
SOURCE_ORDER = ["kommunekode", "borger_key", "startdato", "forloeb_id"]  # as the asset: sorted once
QUERY_MEASURES = ["antal_borgere", "antal_visitationsforloeb"]
QUERY_BY = ["maaned", "visitationskategori"]
PREP_VERSION = 1


# ====================================================================== child side
def _canonical() -> dict[str, Any]:
    import polars as pl

    return {
        "forloeb_id": pl.String,
        "borger_key": pl.Int64,
        "uge": pl.String,
        "maaned": pl.String,
        "kvartal": pl.String,
        "aar": pl.Int32,
        "kommunekode": pl.Int32,
        "ydelsesgruppe": pl.String,
        "visitationskategori": pl.String,
        "visiterende_org_id": pl.String,
    }


def _hwm_mib() -> float | None:
    """The process's peak resident memory so far (VmHWM), MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _group_exprs() -> list[Any]:
    import polars as pl

    return [
        pl.len().cast(pl.Int64).alias("rows"),
        pl.col("borger_key").n_unique().cast(pl.Int64).alias("borgere"),
        pl.col("forloeb_id").n_unique().cast(pl.Int64).alias("forloeb"),
    ]


class _Checker:
    """Accumulates the agreement figures over chunks of rows that do not share a month."""

    def __init__(self) -> None:
        self.rows = 0
        self.lo = 0
        self.hi = 0
        self.groups: list[Any] = []

    def add(self, df: Any) -> None:
        import polars as pl

        canon = _canonical()
        df = df.select([pl.col(c).cast(t) for c, t in canon.items()])
        h = df.hash_rows(seed=20201014).to_numpy()
        self.rows += df.height
        if df.height:  # two 32-bit halves: each sum fits in 64 bits below 2^32 rows
            self.lo += int((h & 0xFFFFFFFF).sum(dtype="uint64"))
            self.hi += int((h >> 32).sum(dtype="uint64"))
        self.groups.append(df.group_by(GROUP_KEYS).agg(_group_exprs()))

    def digest(self) -> str:
        return f"{(self.lo + (self.hi << 32)) % (1 << 64):016x}"

    def write_groups(self, path: Path) -> None:
        import polars as pl

        frame = pl.concat(self.groups) if self.groups else _empty_groups()
        frame.sort(GROUP_KEYS, nulls_last=True).write_parquet(path)


def _empty_groups() -> Any:
    import polars as pl

    return pl.DataFrame(
        schema={
            "maaned": pl.String,
            "visitationskategori": pl.String,
            "kommunekode": pl.Int32,
            "rows": pl.Int64,
            "borgere": pl.Int64,
            "forloeb": pl.Int64,
        }
    )


def _month_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.parquet") if len(p.stem) == 7)


def _child_rollout(p: dict[str, Any]) -> dict[str, Any]:
    """One engine: compute (timed), then the agreement figures of what it produced."""
    import polars as pl

    engine, months = p["engine"], p["months"]
    src, out = Path(p["input"]), Path(p["out"])
    out.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"engine": engine}
    in_memory: Any = None  # pandas and product-mem keep their result in memory
    groups_direct = None

    if engine in ("product", "product-month", "product-asset", "product-agg", "product-mem"):
        from dfdg_assets.rules import (
            COURSE_COLUMNS,
            COURSE_WEEK_COLUMNS,
            build_courses,
            course_weeks,
        )
        from dfdg_assets.storage.warehouse import Warehouse

        if engine == "product-asset":
            from dfdg_assets.core.schemas import validate
            from dfdg_assets.facts.schemas import visitation_week_schema

            schema = visitation_week_schema()
        t0 = time.perf_counter()
        if engine == "product-mem":  # in memory, like pandas: no sort, no write
            in_memory = course_weeks(build_courses(pl.scan_parquet(src)), months).collect()
            res["rows"] = in_memory.height
        elif engine == "product-agg":
            groups_direct = (
                course_weeks(build_courses(pl.scan_parquet(src)), months)
                .group_by(GROUP_KEYS)
                .agg(_group_exprs())
                .collect(engine="streaming")
            )
            res["rows"] = int(groups_direct["rows"].sum())
        else:
            courses = (
                build_courses(pl.scan_parquet(src))
                .select(COURSE_COLUMNS)
                .sort(SOURCE_ORDER)
                .collect()
            )
            res["courses"] = courses.height
            res["courses_s"] = time.perf_counter() - t0
            lazy = courses.lazy()
            wh = Warehouse(out)
            rows = 0
            if engine == "product-asset":  # the asset's body: month by month, validated, written
                for m in months:
                    df = course_weeks(lazy, [m]).select(COURSE_WEEK_COLUMNS).collect()
                    wh.write(FACT, validate(df, schema), m)
                    rows += df.height
                    del df
            else:
                for m in months:
                    part = course_weeks(lazy, [m]).select(COURSE_WEEK_COLUMNS).collect()
                    wh.write(FACT, part, m)
                    rows += part.height
                    del part
            res["rows"] = rows
        compute = time.perf_counter() - t0
    elif engine in ("sql", "sql-agg"):
        import duckdb

        from dfdg_assets.core.weeks import week_frame
        from dfdg_assets.perf import rollout_sql

        t0 = time.perf_counter()
        con = duckdb.connect()
        if engine == "sql":
            res["courses"] = rollout_sql.load_courses(con, src)
            res["courses_s"] = time.perf_counter() - t0
            rows = 0
            (out / FACT).mkdir(parents=True, exist_ok=True)
            for m in months:
                rows += rollout_sql.write_month_sql(con, m, out / FACT / f"{m}.parquet")
            res["rows"] = rows
        else:
            con.execute(
                f"CREATE TABLE visitations AS SELECT * FROM read_parquet({rollout_sql._quote(src)})"
            )
            con.register("weeks", week_frame(months).to_arrow())
            groups_direct = con.sql(
                f"SELECT maaned, visitationskategori, kommunekode, count(*) AS rows, "
                f"count(DISTINCT borger_key) AS borgere, count(DISTINCT forloeb_id) AS forloeb "
                f"FROM ({rollout_sql.COURSE_WEEKS_SQL}) GROUP BY ALL"
            ).pl()
            res["rows"] = int(groups_direct["rows"].sum())
        con.close()
        compute = time.perf_counter() - t0
    elif engine == "pandas":
        import pandas as pd

        from dfdg_assets.perf.rollout_pandas import course_weeks_pandas

        t0 = time.perf_counter()
        in_memory = course_weeks_pandas(pd.read_parquet(src), months)
        compute = time.perf_counter() - t0
        res["rows"] = len(in_memory)
        res["pandas_version"] = pd.__version__
    else:
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    res["compute_s"] = compute
    res["peak_compute_mib"] = _hwm_mib()

    # -------- agreement figures (not timed as compute; subtracted from the wall time)
    t1 = time.perf_counter()
    checker = _Checker()
    groups_path = Path(p.get("groups") or out / "groups.parquet")
    if groups_direct is not None:
        cast = {"kommunekode": pl.Int32, "rows": pl.Int64, "borgere": pl.Int64, "forloeb": pl.Int64}
        groups_direct.with_columns(pl.col(c).cast(t) for c, t in cast.items()).select(
            _empty_groups().columns
        ).sort(GROUP_KEYS, nulls_last=True).write_parquet(groups_path)
    else:
        if in_memory is not None:
            checker.add(
                in_memory if isinstance(in_memory, pl.DataFrame) else pl.from_pandas(in_memory)
            )
            del in_memory
        else:
            for f in _month_files(out / FACT):
                checker.add(pl.read_parquet(f))
        checker.write_groups(groups_path)
        res["digest"] = checker.digest()
        res["checked_rows"] = checker.rows
    res["groups"] = str(groups_path)
    res["verify_s"] = time.perf_counter() - t1
    return res


def _child_generate(p: dict[str, Any]) -> dict[str, Any]:
    from dfdg_assets.generate import generate

    out = Path(p["out"])
    t0 = time.perf_counter()
    summary = generate(out, **p["args"])
    seconds = time.perf_counter() - t0
    (out / INBOX_MARKER).write_text(
        json.dumps({**p["args"], "seconds": seconds, "rows": summary.rows}, sort_keys=True)
    )
    return {"seconds": seconds, "rows": summary.rows, "bytes": summary.bytes}


def _child_prepare(p: dict[str, Any]) -> dict[str, Any]:
    """visitation.csv of every month -> checked rows -> R3 -> borger_key -> visitations.parquet."""
    import hashlib

    import polars as pl

    from dfdg_assets.core.cpr import surrogate_keys
    from dfdg_assets.ingest import contract
    from dfdg_assets.ingest.delivery import delivery_months, parse_csv
    from dfdg_assets.ingest.rows import check_rows
    from dfdg_assets.staging.versions import latest_version

    inbox, out = Path(p["inbox"]), Path(p["out"])
    out.mkdir(parents=True, exist_ok=True)
    full = out / "visitations.parquet"
    res: dict[str, Any] = {}
    t0 = time.perf_counter()
    if not full.is_file():
        spec = contract.FILES_BY_NAME["visitation"]
        parts, delivered, rejected = [], 0, 0
        months = delivery_months(inbox)
        for month in months:
            folder = inbox / month
            manifest = json.loads((folder / contract.MANIFEST).read_text(encoding="utf-8-sig"))
            data = (folder / spec.filename).read_bytes()
            entry = manifest["files"][spec.filename]
            if hashlib.sha256(data).hexdigest() != entry["sha256"].lower():
                raise RuntimeError(f"{month}/{spec.filename}: SHA-256 passer ikke med manifestet")
            checked = check_rows(spec, month, parse_csv(month, spec, data))
            delivered += checked.delivered
            rejected += checked.rejected.height
            parts.append(checked.rows)
        versions = pl.concat(parts)
        current = latest_version(versions.lazy(), ["visitation_id"]).collect()
        del versions, parts
        keys = surrogate_keys(current["cpr"], BENCH_SECRET)
        vis = current.with_columns(keys.alias("borger_key")).select(
            "visitation_id",
            "borger_key",
            "kommunekode",
            "visitationstidspunkt",
            "ydelsesgruppe",
            "visitationskategori",
            "visiterende_org_id",
        )
        vis.write_parquet(full)
        res.update(
            delivered=delivered,
            rejected=rejected,
            data_months=[months[0], months[-1]] if months else [],
        )
        res["prepare_s"] = time.perf_counter() - t0
    else:
        vis = pl.read_parquet(full)
    res["visitations"] = vis.height
    res["citizens"] = vis["borger_key"].n_unique()
    subsets = {}
    for n in p.get("subsets", []):
        f = out / f"visitations-{n}.parquet"
        if not f.is_file():
            keep = vis.select(pl.col("borger_key").unique().sort().head(n))
            vis.join(keep, on="borger_key", how="semi").write_parquet(f)
        sub = pl.read_parquet(f)
        subsets[str(n)] = {
            "path": str(f),
            "visitations": sub.height,
            "citizens": sub["borger_key"].n_unique(),
        }
    res["subsets"] = subsets
    res["path"] = str(full)
    return res


def _child_query(p: dict[str, Any]) -> dict[str, Any]:
    """Time the typical cube query in a fresh process (first call and best of the repeats)."""
    import duckdb
    import polars as pl

    root, kommune, fra, til = Path(p["root"]), int(p["kommune"]), p["fra"], p["til"]
    catalogue = root / "warehouse" / "dfdg.duckdb"
    res: dict[str, Any] = {}
    t0 = time.perf_counter()
    from dfdg_assets.cubes.query import query_dfdg

    res["import_s"] = time.perf_counter() - t0

    def via_function() -> Any:
        return query_dfdg(root, QUERY_MEASURES, by=QUERY_BY, kommune=kommune, fra=fra, til=til)

    def via_sql() -> Any:
        con = duckdb.connect(str(catalogue), read_only=True)
        try:
            return con.sql(
                "SELECT maaned, visitationskategori, "
                "count(DISTINCT borger_key) AS antal_borgere, "
                "count(DISTINCT forloeb_id) AS antal_visitationsforloeb "
                f"FROM {FACT} WHERE kommunekode = {kommune} "
                f"AND maaned BETWEEN '{fra}' AND '{til}' "
                "GROUP BY ALL ORDER BY maaned, visitationskategori NULLS LAST"
            ).pl()
        finally:
            con.close()

    runs: dict[str, Callable[[], Any]] = {"function": via_function, "sql": via_sql}
    for name, fn in runs.items():
        times = []
        df = None
        for _ in range(1 + int(p.get("repeats", 3))):
            t = time.perf_counter()
            df = fn()
            times.append(time.perf_counter() - t)
        assert df is not None
        res[name] = {"first_s": times[0], "best_s": min(times[1:] or times), "times": times}
        df.write_parquet(Path(p["out"]) / f"query-{name}.parquet")
        res[name]["shape"] = list(df.shape)
        res[name]["columns"] = df.columns
        res[name]["result"] = str(Path(p["out"]) / f"query-{name}.parquet")
    res["used"] = "function"
    res["dagster_imported"] = any(m == "dagster" or m.startswith("dagster.") for m in sys.modules)
    _ = pl  # polars is what query_dfdg returns
    return res


_CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "rollout": _child_rollout,
    "generate": _child_generate,
    "prepare": _child_prepare,
    "query": _child_query,
}


# ====================================================================== parent side
def _run_child(task: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one task in its own interpreter under /usr/bin/time -v; RESULT + wall + peak RSS."""
    cmd = [
        sys.executable,
        "-m",
        "dfdg_assets.perf.run",
        "--child",
        json.dumps({**params, "task": task}),
    ]
    has_time = Path(TIME_BIN).exists()
    started = time.perf_counter()
    proc = subprocess.run(
        [TIME_BIN, "-v", *cmd] if has_time else cmd, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    result: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result.update(json.loads(line[7:]))
    wall_s, rss_mib = _parse_time_v(proc.stderr) if has_time else (None, None)
    result["process_wall_s"] = wall_s if wall_s is not None else elapsed
    result["process_peak_mib"] = rss_mib
    result["ok"] = proc.returncode == 0 and "error" not in result and bool(result)
    if not result["ok"]:
        lines = [
            ln
            for ln in proc.stderr.strip().splitlines()
            if ln.strip() and not ln.startswith("\t") and "Command exited" not in ln
        ]
        result["error"] = result.get("error") or (
            lines[-1][:300] if lines else f"exit {proc.returncode}"
        )
        result["returncode"] = proc.returncode
    return result


def _tag(kommuner: int | Sequence[int], borgere: int, fra: str, til: str, seed: int) -> str:
    k = kommuner if isinstance(kommuner, int) else "_".join(str(c) for c in kommuner)
    return f"k{k}-b{borgere}-{fra}-{til}-s{seed}"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


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


def _year_range(fra: str, til: str) -> tuple[str, str]:
    year = til[:4]
    return max(fra, f"{year}-01"), til


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

    say = out or (lambda _s: None)
    t_start = time.perf_counter()
    workdir = Path(workdir) if workdir else Path(os.environ.get("TMPDIR", "/tmp")) / "dfdg-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    pandas_n = min(borgere, 100_000) if pandas_borgere is None else min(pandas_borgere, borgere)
    gen_args = {"kommuner": kommuner, "borgere": borgere, "fra": fra, "til": til, "seed": seed}
    tag = _tag(kommuner, borgere, fra, til, seed)
    months = months_between(fra, til)
    result: dict[str, Any] = {
        "args": {**gen_args, "pandas_borgere": pandas_n, "workdir": str(workdir)},
        "machine": {
            "cpus": os.cpu_count(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
        },
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "months": len(months),
        "runs": [],
        "notes": [],
    }
    try:
        import duckdb
        import polars as pl

        result["machine"].update(polars=pl.__version__, duckdb=duckdb.__version__)
    except Exception:  # noqa: BLE001
        pass

    # ---------------------------------------------------------------- 1. dataset
    inbox = workdir / f"inbox-{tag}"
    marker = _read_json(inbox / INBOX_MARKER)
    reused = bool(
        reuse
        and marker is not None
        and all(marker.get(k) == v for k, v in gen_args.items() if k != "kommuner")
        and _same_kommuner(marker.get("kommuner"), kommuner)
    )
    if not reused:
        shutil.rmtree(inbox, ignore_errors=True)
        say(f"Genererer {borgere:,} borgere, {fra}..{til}, {kommuner} kommuner -> {inbox}")
        gen = _run_child("generate", {"out": str(inbox), "args": gen_args})
        if not gen["ok"]:
            raise RuntimeError(f"generate failed: {gen.get('error')}")
        result["generate"] = gen
    else:
        say(f"Genbruger leveringerne i {inbox}")
        result["generate"] = {"reused": True, "seconds": marker.get("seconds") if marker else None}

    prep_dir = workdir / f"prep-{tag}"
    prep_marker = _read_json(prep_dir / PREP_MARKER)
    if not (reuse and reused and prep_marker and prep_marker.get("version") == PREP_VERSION):
        shutil.rmtree(prep_dir, ignore_errors=True)
    subsets = [pandas_n] if pandas_n < borgere else []
    say("Forbereder visitationerne: visitation.csv -> kontrol -> R3 -> borger_key -> parquet")
    prep = _run_child("prepare", {"inbox": str(inbox), "out": str(prep_dir), "subsets": subsets})
    if not prep["ok"]:
        raise RuntimeError(f"prepare failed: {prep.get('error')}")
    (prep_dir / PREP_MARKER).write_text(json.dumps({"version": PREP_VERSION, **gen_args}))
    result["dataset"] = {
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
    say(
        f"  {prep['visitations']:,} visitationer (efter R3), {prep['citizens']:,} borgere med visitationer"
    )

    # ---------------------------------------------------------------- 2. roll-outs
    runs_dir = workdir / f"runs-{tag}"
    shutil.rmtree(runs_dir, ignore_errors=True)
    bench_root = workdir / f"root-{tag}"  # a data root: warehouse/ + catalogue
    shutil.rmtree(bench_root, ignore_errors=True)

    runs_dir.mkdir(parents=True)

    def run(
        engine: str, n: int, path: str, engine_months: list[str], out_dir: Path, rep: int = 0
    ) -> dict:
        say(f"  {engine:<14} {n:>10,} borgere ...")
        shutil.rmtree(out_dir, ignore_errors=True)
        groups = runs_dir / f"groups-{engine}-{n}-{rep}.parquet"
        r = _run_child(
            "rollout",
            {
                "engine": engine,
                "input": path,
                "months": engine_months,
                "out": str(out_dir),
                "groups": str(groups),
            },
        )
        if out_dir != bench_root / "warehouse":
            shutil.rmtree(out_dir, ignore_errors=True)  # large at national scale
        r.update(engine=engine, borgere=n, months=len(engine_months), rep=rep)
        r["visitations"] = (
            prep["visitations"] if n == borgere else prep["subsets"][str(n)]["visitations"]
        )
        if r["ok"]:
            r["wall_s"] = r["process_wall_s"] - r.get("verify_s", 0.0)
            r["peak_mib"] = r.get("peak_compute_mib") or r.get("process_peak_mib")
            say(
                f"  {engine:<14} {n:>10,} borgere: {r['rows']:,} rækker, beregning "
                f"{r['compute_s']:.1f} s, væg {r['wall_s']:.1f} s, top {r['peak_mib']:,.0f} MiB"
            )
        else:
            say(f"  {engine:<14} {n:>10,} borgere: FEJL {r.get('error')}")
        result["runs"].append(r)
        return r

    sizes: list[tuple[int, str, list[str]]] = []
    unknown = [e for e in extra_engines if e not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engines {unknown}; known: {', '.join(ENGINES)}")
    import importlib.util

    small_engines = list(PANDAS_SIZE_ENGINES)
    if importlib.util.find_spec("pandas") is None:  # pandas is a dev extra of the package
        small_engines.remove("pandas")
        result["notes"].append("pandas is not installed: the pandas reference was not run")
    main_engines = small_engines if pandas_n >= borgere else ["product", "sql"]
    sizes.append((borgere, prep["path"], main_engines))
    if pandas_n < borgere:
        sizes.append((pandas_n, prep["subsets"][str(pandas_n)]["path"], small_engines))
        result["notes"].append(
            f"pandas measured at {pandas_n:,} citizens (a deterministic subset), not {borgere:,}: "
            f"product and SQL were run at that size too, for a like-for-like ratio"
        )
    say(f"Udrulning af {len(months)} måneder, hver motor i sin egen proces")
    by_size: dict[int, dict[str, dict]] = {}  # the fastest run of each engine and size
    all_runs: dict[int, dict[str, list[dict]]] = {}
    plan = [(n, path, e, r) for n, path, es in sizes for r in range(max(1, repeat)) for e in es]
    plan += [(borgere, prep["path"], e, 0) for e in extra_engines if e not in main_engines]
    for n, path, engine, rep_ in plan:
        target = (
            bench_root / "warehouse"
            if (engine == "product" and n == borgere)
            else (runs_dir / f"{engine}-{n}-{rep_}")
        )
        r = run(engine, n, path, months, target, rep_)
        all_runs.setdefault(n, {}).setdefault(engine, []).append(r)
        best = by_size.setdefault(n, {}).get(engine)
        if best is None or (r["ok"] and (not best["ok"] or r["compute_s"] < best["compute_s"])):
            by_size[n][engine] = r

    # ---------------------------------------------------------------- 3. agreement
    agreement: dict[str, Any] = {}
    agree = True
    for n, engines in by_size.items():
        every = [r for rs in all_runs[n].values() for r in rs]
        good = {e: r for e, r in engines.items() if r["ok"]}
        failed = sorted({r["engine"] for r in every if not r["ok"]})
        groups_ok, notes = _compare_groups(
            {f"{r['engine']}#{r['rep']}": r["groups"] for r in every if r["ok"]}
        )
        digests = {e: r["digest"] for e, r in good.items() if "digest" in r}
        digest_ok = len({r["digest"] for r in every if r["ok"] and "digest" in r}) <= 1
        rows = {e: r["rows"] for e, r in good.items()}
        rows_ok = len({r["rows"] for r in every if r["ok"]}) <= 1
        size_ok = groups_ok and digest_ok and rows_ok and not failed and len(good) >= 2
        agree = agree and size_ok
        agreement[str(n)] = {
            "agree": size_ok,
            "engines": list(good),
            "runs": len(every),
            "failed": failed,
            "groups_equal": groups_ok,
            "digests": digests,
            "rows": rows,
            "groups": int(pl.read_parquet(next(iter(good.values()))["groups"]).height)
            if good
            else 0,
            "notes": notes,
        }
    result["agreement"] = agreement
    result["agree"] = agree
    say("Enighed: " + ("ja, alle motorer giver de samme rækker" if agree else "NEJ (se agreement)"))

    # ---------------------------------------------------------------- ratios
    result["best"] = {str(n): {e: r.get("rep") for e, r in es.items()} for n, es in by_size.items()}
    result["ratios"] = {}
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
        result["ratios"][str(n)] = ratios

    # ---------------------------------------------------------------- 4. incremental
    full = by_size[borgere].get("product")
    month = run("product-month", borgere, prep["path"], months[-1:], runs_dir / "product-month")
    inc: dict[str, Any] = {"month": months[-1], "one_month": _brief(month), "full": _brief(full)}
    if full and full["ok"] and month["ok"]:
        inc["compute_ratio"] = month["compute_s"] / full["compute_s"]
        inc["wall_ratio"] = month["wall_s"] / full["wall_s"]
        inc["peak_ratio"] = month["peak_mib"] / full["peak_mib"]
        if month.get("digest"):
            # the one-month roll-out must equal that month of the full roll-out
            f_groups = pl.read_parquet(full["groups"]).filter(pl.col("maaned") == months[-1])
            inc["equals_full_month"] = f_groups.equals(pl.read_parquet(month["groups"]))
            agree = agree and bool(inc["equals_full_month"])
            result["agree"] = agree
    result["incremental"] = inc

    # ---------------------------------------------------------------- 5. query
    if query and full and full["ok"]:
        result["query"] = _bench_query(bench_root, full, months, fra, til, runs_dir, say)
    elif query:
        result["query"] = {"skipped": "the product roll-out failed"}

    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"]["load_average_end"] = result["load_average_end"]
    result["total_s"] = time.perf_counter() - t_start
    if not keep_outputs:
        shutil.rmtree(runs_dir, ignore_errors=True)
        shutil.rmtree(bench_root, ignore_errors=True)
    return result


def _same_kommuner(a: Any, b: int | Sequence[int]) -> bool:
    if isinstance(b, int):
        return a == b
    return isinstance(a, list) and list(a) == list(b)


def _brief(r: dict | None) -> dict[str, Any] | None:
    if not r:
        return None
    keys = ("ok", "rows", "courses", "courses_s", "compute_s", "wall_s", "peak_mib", "error")
    return {k: r.get(k) for k in keys if k in r}


def _bench_query(
    root: Path,
    full: dict[str, Any],
    months: list[str],
    fra: str,
    til: str,
    runs_dir: Path,
    say: Callable[[str], Any],
) -> dict[str, Any]:
    """Dimensions + catalogue next to the product's partitions, then the typical query."""
    import polars as pl

    from dfdg_assets.core.settings import DataRoot
    from dfdg_assets.core.weeks import week_frame
    from dfdg_assets.dimensions.build import dim_kommune
    from dfdg_assets.storage.warehouse import Warehouse

    paths = DataRoot.of(root)
    wh = Warehouse(paths.warehouse)
    t0 = time.perf_counter()
    wh.write_many({("dim_tid_uge", m): week_frame([m]) for m in months})
    wh.write("dim_kommune", dim_kommune())
    wh.refresh_catalogue(paths.catalogue)
    q_fra, q_til = _year_range(fra, til)
    groups = pl.read_parquet(full["groups"])
    in_year = groups.filter(pl.col("maaned").is_between(pl.lit(q_fra), pl.lit(q_til)))
    largest = (
        in_year.group_by("kommunekode")
        .agg(pl.col("rows").sum())
        .sort("rows", "kommunekode", descending=[True, False])
    )
    kommune = int(largest["kommunekode"][0])
    res: dict[str, Any] = {
        "kommune": kommune,
        "fra": q_fra,
        "til": q_til,
        "measures": QUERY_MEASURES,
        "by": QUERY_BY,
        "catalogue_s": time.perf_counter() - t0,
        "fact_rows_in_scope": int(in_year.filter(pl.col("kommunekode") == kommune)["rows"].sum()),
        "fact_rows_total": int(groups["rows"].sum()),
    }
    say(
        f"Forespørgsel: kommune {kommune}, {q_fra}..{q_til}, {', '.join(QUERY_MEASURES)} efter "
        f"{', '.join(QUERY_BY)}"
    )
    qdir = runs_dir / "query"
    qdir.mkdir(parents=True, exist_ok=True)
    child = _run_child(
        "query",
        {"root": str(root), "kommune": kommune, "fra": q_fra, "til": q_til, "out": str(qdir)},
    )
    res["python"] = {k: v for k, v in child.items() if k not in ("function", "sql")}
    # the expected answer, from the product's own group table of the roll-out
    expected = (
        in_year.filter(pl.col("kommunekode") == kommune)
        .select(
            "maaned",
            "visitationskategori",
            pl.col("borgere").alias("antal_borgere"),
            pl.col("forloeb").alias("antal_visitationsforloeb"),
        )
        .sort("maaned", "visitationskategori", nulls_last=True)
    )
    res["expected_shape"] = list(expected.shape)
    for name in ("function", "sql"):
        if name not in child:
            continue
        info = dict(child[name])
        got = pl.read_parquet(info.pop("result"))
        got = got.with_columns(pl.col(c).cast(pl.Int64) for c in QUERY_MEASURES)
        info["matches_rollout"] = (
            got.select(expected.columns)
            .sort("maaned", "visitationskategori", nulls_last=True)
            .equals(expected)
        )
        info["sample"] = got.head(3).to_dicts()
        res[name] = info
        say(
            f"  {name:<8}: første {info['first_s']:.3f} s, bedste af 3 {info['best_s']:.3f} s, "
            f"{info['shape'][0]} rækker, svarer til udrulningen: {info['matches_rollout']}"
        )
    if not child["ok"]:
        res["error"] = child.get("error")
    res["cli"] = _bench_cli(root, kommune, q_fra, q_til, say)
    return res


def _bench_cli(root: Path, kommune: int, fra: str, til: str, say: Callable[[str], Any]) -> dict:
    """`python -m dfdg_assets.cli query dfdg ...`: wall time, Dagster imported?"""
    args = [
        "--data-root",
        str(root),
        "query",
        "dfdg",
        "--measure",
        ",".join(QUERY_MEASURES),
        "--by",
        ",".join(QUERY_BY),
        "--kommune",
        str(kommune),
        "--fra",
        fra,
        "--til",
        til,
        "--format",
        "csv",
    ]
    times, dagster, out_text, rc, err = [], None, "", 0, ""
    for i in range(4):
        cmd = [
            sys.executable,
            *(["-X", "importtime"] if i == 0 else []),
            "-m",
            "dfdg_assets.cli",
            *args,
        ]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t)
        rc = rc or proc.returncode
        if i == 0:
            mods = [
                ln.rsplit("|", 1)[-1].strip()
                for ln in proc.stderr.splitlines()
                if ln.startswith("import time:")
            ]
            dagster = any(m == "dagster" or m.startswith("dagster.") for m in mods)
            err = "\n".join(
                ln for ln in proc.stderr.splitlines() if not ln.startswith("import time:")
            )
            out_text = proc.stdout
    res = {
        "available": True,
        "returncode": rc,
        "first_s_importtime": times[0],
        "best_s": min(times[1:]),
        "times": times,
        "dagster_imported": dagster,
        "header": out_text.splitlines()[0] if out_text else "",
        "rows": max(len(out_text.splitlines()) - 1, 0),
    }
    if rc:
        res["error"] = err.strip().splitlines()[-1][:300] if err.strip() else f"exit {rc}"
    say(
        f"  CLI     : bedste af 3 {res['best_s']:.2f} s (hele processen), Dagster importeret: {dagster}"
    )
    return res


# ====================================================================== report
def _f(x: Any, fmt: str = ",.1f") -> str:
    return "-" if x is None else format(x, fmt)


def format_report(result: dict[str, Any]) -> str:
    """The figures of `run_bench` as a readable text report."""
    a, d = result["args"], result.get("dataset", {})
    m = result["machine"]
    lines = [
        f"dfdg bench: {a['borgere']:,} borgere, {a['kommuner']} kommuner, {a['fra']}..{a['til']} "
        f"({result['months']} måneder), seed {a['seed']}",
        f"maskine: {m.get('cpus')} kerner, {m.get('mem_gib')} GiB; load average "
        f"{m.get('load_average_start')} ved start, {m.get('load_average_end')} ved slut; "
        f"polars {m.get('polars')}, duckdb {m.get('duckdb')}",
        f"data: {d.get('visitations', 0):,} visitationer efter R3 ({d.get('citizens', 0):,} borgere med visitationer)"
        + "".join(
            f"; delmængde {int(n):,}: {s['visitations']:,} visitationer"
            for n, s in d.get("subsets", {}).items()
        ),
        "",
    ]
    head = (
        f"{'motor':<16} {'borgere':>10} {'visit.':>10} {'rækker ud':>12} {'væg s':>8} "
        f"{'beregn s':>9} {'top MiB':>8} {'prod/sql':>9} {'pandas/prod':>11}"
    )
    lines += [head, "-" * len(head)]
    repeated = any(r.get("rep", 0) > 0 for r in result["runs"])
    for r in result["runs"]:
        n = r["borgere"]
        name = r["engine"]
        if repeated and r["engine"] != "product-month":
            best = result.get("best", {}).get(str(n), {}).get(r["engine"]) == r.get("rep")
            name = f"{name}#{r.get('rep', 0) + 1}{'*' if best else ''}"
        if not r.get("ok"):
            lines.append(f"{name:<16} {n:>10,} FEJL: {r.get('error')}")
            continue
        ratios = result.get("ratios", {}).get(str(n), {})
        if repeated and not best:
            ratios = {}
        ps = (
            ratios.get("product_over_sql")
            if r["engine"] == "product"
            else (ratios.get("product_agg_over_sql_agg") if r["engine"] == "product-agg" else None)
        )
        pp = ratios.get("pandas_over_product") if r["engine"] == "pandas" else None
        if r["engine"] == "product-mem" and ratios.get("pandas_over_product_mem"):
            pp = ratios["pandas_over_product_mem"]  # pandas / this in-memory run
        lines.append(
            f"{name:<16} {n:>10,} {r['visitations']:>10,} {r['rows']:>12,} "
            f"{r['wall_s']:>8.1f} {r['compute_s']:>9.1f} {r['peak_mib']:>8,.0f} "
            f"{_f(ps, '.2f'):>9} {_f(pp, '.1f'):>11}"
        )
    lines += [
        "",
        "beregn s = indlæsning af input til sidste partition skrevet (opstart og import "
        "fraregnet); væg s = hele processen under /usr/bin/time minus enighedstjekket; top = "
        "processens højeste RSS ved beregningens slut. Forholdstal er af beregningstiden. "
        "product-mem = produktets regler i hukommelsen uden sortering og skrivning (som pandas); "
        "dens pandas/prod-tal er pandas / product-mem."
        + (" #k = k-te kørsel, * = den hurtigste (den der tæller)." if repeated else ""),
    ]
    for n, rs in result.get("ratios", {}).items():
        if rs:
            parts = [f"{k} {v:.2f}" for k, v in rs.items()]
            lines.append(f"  ved {int(n):,}: " + ", ".join(parts))
    lines += [""] + [f"NB: {note}" for note in result.get("notes", [])]
    lines.append("")
    lines.append("Enighed: " + ("ja" if result.get("agree") else "NEJ"))
    for n, ag in result.get("agreement", {}).items():
        lines.append(
            f"  {int(n):,} borgere: {'enige' if ag['agree'] else 'UENIGE'} ({', '.join(ag['engines'])}); "
            f"{ag['groups']:,} grupper (måned x kategori x kommune) ens: {ag['groups_equal']}; "
            f"digest {', '.join(f'{e}={h}' for e, h in ag['digests'].items())}"
            + (f"; fejlede: {', '.join(ag['failed'])}" if ag["failed"] else "")
        )
        lines += [f"    {note}" for note in ag.get("notes", [])]
    inc = result.get("incremental")
    if inc and inc.get("one_month") and inc.get("full"):
        o, f = inc["one_month"], inc["full"]
        lines += [
            "",
            f"Én ny måned ({inc['month']}: kurser af hele historikken + én måneds uger) mod hele "
            f"historikken: beregning {_f(o.get('compute_s'))} s mod {_f(f.get('compute_s'))} s "
            f"({_f(inc.get('compute_ratio'), '.0%')}), væg {_f(o.get('wall_s'))} s mod "
            f"{_f(f.get('wall_s'))} s, top {_f(o.get('peak_mib'), ',.0f')} mod "
            f"{_f(f.get('peak_mib'), ',.0f')} MiB; kurser alene {_f(o.get('courses_s'))} s"
            + (
                f"; måneden lig den fulde udrulnings: {inc.get('equals_full_month')}"
                if "equals_full_month" in inc
                else ""
            ),
        ]
    q = result.get("query")
    if q and "kommune" in q:
        lines += [
            "",
            f"Forespørgsel: kommune {q['kommune']}, {q['fra']}..{q['til']}, "
            f"{', '.join(q['measures'])} efter {', '.join(q['by'])} "
            f"({q['fact_rows_in_scope']:,} af {q['fact_rows_total']:,} faktarækker i spil)",
        ]
        for name, label in (("function", "query_dfdg (Python)"), ("sql", "ren DuckDB-SQL")):
            if name in q:
                i = q[name]
                lines.append(
                    f"  {label:<20} første {i['first_s']:.3f} s, bedste af 3 {i['best_s']:.3f} s, "
                    f"{i['shape'][0]} rækker x {i['shape'][1]} kolonner, = udrulningen: "
                    f"{i['matches_rollout']}"
                )
        py = q.get("python", {})
        lines.append(f"  Dagster importeret af Python-funktionen: {py.get('dagster_imported')}")
        cli = q.get("cli", {})
        if cli.get("available"):
            lines.append(
                f"  CLI (hele processen)  bedste af 3 {cli['best_s']:.2f} s, første (med -X importtime) "
                f"{cli['first_s_importtime']:.2f} s, {cli['rows']} rækker, Dagster importeret: "
                f"{cli['dagster_imported']}"
                + (f", FEJL: {cli.get('error')}" if cli.get("returncode") else "")
            )
    elif q:
        lines.append(f"Forespørgsel: {q}")
    lines.append(f"\nI alt {result.get('total_s', 0):.0f} s.")
    return "\n".join(lines)


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


def report(result: dict, json_path: Path | None = None) -> int:
    """Print the report, write the result dict as JSON to `json_path` (when given), and return
    the exit code: 0 when the engines agree, 1 when they do not."""
    print(format_report(result))
    if json_path:
        json_path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 0 if result["agree"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dfdg_assets.perf.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
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
    if args.child:
        params = json.loads(args.child)
        res = _CHILDREN[params.pop("task")](params)
        print("RESULT " + json.dumps(res, default=str), flush=True)
        return 0
    return bench_and_report(
        args,
        reuse=not args.no_reuse,
        extra_engines=tuple(e for e in args.extra.split(",") if e),
        repeat=args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
