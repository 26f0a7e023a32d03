"""The child side of `dfdg bench`: every timed task runs in its own interpreter
(`python -m dfdg_assets.perf.children '<json>'` prints `RESULT <json>`), started by `run_child`
under `/usr/bin/time -v`.

Tasks: `generate` (the deliveries), `prepare` (visitation.csv -> checked rows -> R3 ->
borger_key -> parquet), `rollout` (one engine: compute, timed, then the agreement figures of what
it produced) and `query` (the typical cube query, first call and best of the repeats).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfdg_assets.perf.constants import (
    BENCH_SECRET,
    ENGINES,
    FACT,
    GROUP_KEYS,
    INBOX_MARKER,
    QUERY_BY,
    QUERY_MEASURES,
    SOURCE_ORDER,
    canonical_schema,
    empty_groups,
    group_exprs,
)
from dfdg_assets.perf.rollout_scale import TIME_BIN, _parse_time_v
from dfdg_assets.sql import statement, template


# ====================================================================== agreement figures
class Checker:
    """Accumulates the agreement figures over chunks of rows that do not share a month."""

    def __init__(self) -> None:
        self.rows = 0
        self.lo = 0
        self.hi = 0
        self.groups: list[Any] = []

    def add(self, df: Any) -> None:
        import polars as pl

        canon = canonical_schema()
        df = df.select([pl.col(c).cast(t) for c, t in canon.items()])
        h = df.hash_rows(seed=20201014).to_numpy()
        self.rows += df.height
        if df.height:  # two 32-bit halves: each sum fits in 64 bits below 2^32 rows
            self.lo += int((h & 0xFFFFFFFF).sum(dtype="uint64"))
            self.hi += int((h >> 32).sum(dtype="uint64"))
        self.groups.append(df.group_by(GROUP_KEYS).agg(group_exprs()))

    def digest(self) -> str:
        return f"{(self.lo + (self.hi << 32)) % (1 << 64):016x}"

    def write_groups(self, path: Path) -> None:
        import polars as pl

        frame = pl.concat(self.groups) if self.groups else empty_groups()
        frame.sort(GROUP_KEYS, nulls_last=True).write_parquet(path)


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


def _month_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.parquet") if len(p.stem) == 7)


# ====================================================================== roll-out engines
@dataclass
class Produced:
    """What an engine's compute leaves for the agreement figures: its rows in memory (pandas,
    product-mem), its group table (the -agg engines), or neither (the rows are in `out/FACT`)."""

    in_memory: Any = None
    groups: Any = None


@dataclass
class Rollout:
    engine: str
    src: Path
    out: Path
    months: list[str]
    res: dict[str, Any]


def _product_written(job: Rollout) -> None:
    """product, product-month, product-asset: courses once, then month by month written (the
    asset's body also validates each month with pandera)."""
    import polars as pl

    from dfdg_assets.rules import COURSE_COLUMNS, COURSE_WEEK_COLUMNS, build_courses, course_weeks
    from dfdg_assets.storage.warehouse import Warehouse

    check: Callable[[Any], Any] = lambda df: df  # noqa: E731
    if job.engine == "product-asset":
        from dfdg_assets.core.schemas import validate
        from dfdg_assets.facts.schemas import visitation_week_schema

        schema = visitation_week_schema()
        check = lambda df: validate(df, schema)  # noqa: E731
    t0 = time.perf_counter()
    courses = (
        build_courses(pl.scan_parquet(job.src)).select(COURSE_COLUMNS).sort(SOURCE_ORDER).collect()
    )
    job.res["courses"] = courses.height
    job.res["courses_s"] = time.perf_counter() - t0
    lazy = courses.lazy()
    wh = Warehouse(job.out)
    rows = 0
    for m in job.months:
        part = course_weeks(lazy, [m]).select(COURSE_WEEK_COLUMNS).collect()
        wh.write(FACT, check(part), m)
        rows += part.height
        del part
    job.res["rows"] = rows
    job.res["compute_s"] = time.perf_counter() - t0


def _product(job: Rollout) -> Produced:
    import polars as pl

    from dfdg_assets.rules import build_courses, course_weeks

    if job.engine not in ("product-mem", "product-agg"):
        _product_written(job)
        return Produced()
    t0 = time.perf_counter()
    weeks = course_weeks(build_courses(pl.scan_parquet(job.src)), job.months)
    if job.engine == "product-mem":  # in memory, like pandas: no sort, no write
        produced = Produced(in_memory=weeks.collect())
        job.res["rows"] = produced.in_memory.height
    else:
        groups = weeks.group_by(GROUP_KEYS).agg(group_exprs()).collect(engine="streaming")
        produced = Produced(groups=groups)
        job.res["rows"] = int(groups["rows"].sum())
    job.res["compute_s"] = time.perf_counter() - t0
    return produced


def _sql(job: Rollout) -> Produced:
    import duckdb

    from dfdg_assets.core.weeks import week_frame
    from dfdg_assets.perf import rollout_sql

    produced = Produced()
    t0 = time.perf_counter()
    con = duckdb.connect()
    if job.engine == "sql":
        job.res["courses"] = rollout_sql.load_courses(con, job.src)
        job.res["courses_s"] = time.perf_counter() - t0
        (job.out / FACT).mkdir(parents=True, exist_ok=True)
        job.res["rows"] = sum(
            rollout_sql.write_month_sql(con, m, job.out / FACT / f"{m}.parquet") for m in job.months
        )
    else:
        rollout_sql.load_visitations(con, job.src)
        con.register("weeks", week_frame(job.months).to_arrow())
        sql = template("bench_groups").format(course_weeks=rollout_sql.COURSE_WEEKS_SQL)
        produced.groups = con.sql(sql).pl()
        job.res["rows"] = int(produced.groups["rows"].sum())
    con.close()
    job.res["compute_s"] = time.perf_counter() - t0
    return produced


def _pandas(job: Rollout) -> Produced:
    import pandas as pd

    from dfdg_assets.perf.rollout_pandas import course_weeks_pandas

    t0 = time.perf_counter()
    produced = Produced(in_memory=course_weeks_pandas(pd.read_parquet(job.src), job.months))
    job.res["compute_s"] = time.perf_counter() - t0
    job.res["rows"] = len(produced.in_memory)
    job.res["pandas_version"] = pd.__version__
    return produced


_ENGINES: dict[str, Callable[[Rollout], Produced]] = {
    **{e: _product for e in ENGINES if e.startswith("product")},
    "sql": _sql,
    "sql-agg": _sql,
    "pandas": _pandas,
}


def _agreement_figures(job: Rollout, produced: Produced, groups_path: Path) -> None:
    """The group table (and, for row-producing engines, the digest) of what the engine made."""
    import polars as pl

    if produced.groups is not None:
        cast = {"kommunekode": pl.Int32, "rows": pl.Int64, "borgere": pl.Int64, "forloeb": pl.Int64}
        produced.groups.with_columns(pl.col(c).cast(t) for c, t in cast.items()).select(
            empty_groups().columns
        ).sort(GROUP_KEYS, nulls_last=True).write_parquet(groups_path)
        return
    checker = Checker()
    if produced.in_memory is not None:
        rows = produced.in_memory
        checker.add(rows if isinstance(rows, pl.DataFrame) else pl.from_pandas(rows))
        produced.in_memory = None
        del rows
    else:
        for f in _month_files(job.out / FACT):
            checker.add(pl.read_parquet(f))
    checker.write_groups(groups_path)
    job.res["digest"] = checker.digest()
    job.res["checked_rows"] = checker.rows


def child_rollout(p: dict[str, Any]) -> dict[str, Any]:
    """One engine: compute (timed), then the agreement figures of what it produced."""
    engine = p["engine"]
    if engine not in _ENGINES:
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    job = Rollout(engine, Path(p["input"]), Path(p["out"]), p["months"], {"engine": engine})
    job.out.mkdir(parents=True, exist_ok=True)
    produced = _ENGINES[engine](job)
    job.res["peak_compute_mib"] = _hwm_mib()
    # -------- agreement figures (not timed as compute; subtracted from the wall time)
    t1 = time.perf_counter()
    groups_path = Path(p.get("groups") or job.out / "groups.parquet")
    _agreement_figures(job, produced, groups_path)
    job.res["groups"] = str(groups_path)
    job.res["verify_s"] = time.perf_counter() - t1
    return job.res


# ====================================================================== the other tasks
def child_generate(p: dict[str, Any]) -> dict[str, Any]:
    from dfdg_assets.generate import generate

    out = Path(p["out"])
    t0 = time.perf_counter()
    summary = generate(out, **p["args"])
    seconds = time.perf_counter() - t0
    (out / INBOX_MARKER).write_text(
        json.dumps({**p["args"], "seconds": seconds, "rows": summary.rows}, sort_keys=True)
    )
    return {"seconds": seconds, "rows": summary.rows, "bytes": summary.bytes}


def _checked_visitations(inbox: Path, months: list[str]) -> tuple[Any, int, int]:
    """Every month's visitation.csv, checked against the manifest's SHA-256, parsed and
    row-checked as ingestion does: the rows that load, the rows delivered, the rows rejected."""
    import hashlib

    import polars as pl

    from dfdg_assets.ingest import contract
    from dfdg_assets.ingest.delivery import parse_csv
    from dfdg_assets.ingest.rows import check_rows

    spec = contract.FILES_BY_NAME["visitation"]
    parts, delivered, rejected = [], 0, 0
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
    return pl.concat(parts), delivered, rejected


def _prepare_visitations(inbox: Path, full: Path, res: dict[str, Any]) -> Any:
    """R3 across the data months and `cpr` replaced by `borger_key`, written to `full`."""
    from dfdg_assets.core.cpr import surrogate_keys
    from dfdg_assets.ingest.contract import RECORD_KEYS
    from dfdg_assets.ingest.delivery import delivery_months
    from dfdg_assets.staging.versions import latest_version

    t0 = time.perf_counter()
    months = delivery_months(inbox)
    versions, delivered, rejected = _checked_visitations(inbox, months)
    current = latest_version(versions.lazy(), list(RECORD_KEYS["visitation"])).collect()
    del versions
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
    return vis


def _subsets(vis: Any, out: Path, sizes: list[int]) -> dict[str, Any]:
    """The deterministic subsets of citizens (the n smallest keys: keys are keyed hashes, so
    this is a random sample), written once and reused."""
    import polars as pl

    subsets = {}
    for n in sizes:
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
    return subsets


def child_prepare(p: dict[str, Any]) -> dict[str, Any]:
    """visitation.csv of every month -> checked rows -> R3 -> borger_key -> visitations.parquet."""
    import polars as pl

    inbox, out = Path(p["inbox"]), Path(p["out"])
    out.mkdir(parents=True, exist_ok=True)
    full = out / "visitations.parquet"
    res: dict[str, Any] = {}
    vis = _prepare_visitations(inbox, full, res) if not full.is_file() else pl.read_parquet(full)
    res["visitations"] = vis.height
    res["citizens"] = vis["borger_key"].n_unique()
    res["subsets"] = _subsets(vis, out, p.get("subsets", []))
    res["path"] = str(full)
    return res


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, list[float]]:
    """The last result of `fn` and the seconds of its first call and of `repeats` more."""
    times = []
    df = None
    for _ in range(1 + repeats):
        t = time.perf_counter()
        df = fn()
        times.append(time.perf_counter() - t)
    return df, times


def child_query(p: dict[str, Any]) -> dict[str, Any]:
    """Time the typical cube query in a fresh process (first call and best of the repeats)."""
    import duckdb

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
            params = {"kommune": kommune, "fra": fra, "til": til}
            return con.sql(statement("bench_query"), params=params).pl()
        finally:
            con.close()

    runs: dict[str, Callable[[], Any]] = {"function": via_function, "sql": via_sql}
    for name, fn in runs.items():
        df, times = _timed(fn, int(p.get("repeats", 3)))
        result = Path(p["out"]) / f"query-{name}.parquet"
        df.write_parquet(result)
        res[name] = {"first_s": times[0], "best_s": min(times[1:] or times), "times": times}
        res[name].update(shape=list(df.shape), columns=df.columns, result=str(result))
    res["used"] = "function"
    res["dagster_imported"] = any(m == "dagster" or m.startswith("dagster.") for m in sys.modules)
    return res


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "rollout": child_rollout,
    "generate": child_generate,
    "prepare": child_prepare,
    "query": child_query,
}


# ====================================================================== the parent's end
def run_child(task: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one task in its own interpreter under /usr/bin/time -v; RESULT + wall + peak RSS."""
    cmd = [
        sys.executable,
        "-m",
        "dfdg_assets.perf.children",
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


def main(argv: list[str] | None = None) -> int:
    params = json.loads((argv if argv is not None else sys.argv[1:])[0])
    res = CHILDREN[params.pop("task")](params)
    print("RESULT " + json.dumps(res, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
