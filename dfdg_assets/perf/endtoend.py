"""`dfdg bench --ende-til-ende`: the monthly operation as an operator runs it, measured whole.

Steps, each a separate `dfdg` process timed from outside (wall clock and the process's peak RSS,
read by a small interpreter between the bench and the process; see `measure`):

1. Deliveries: `generate` writes `fra..til` into `workdir/e2e-inbox-<args>` (reused when its
   marker holds the same arguments).
2. Floor: DuckDB `COPY (SELECT * FROM read_csv(...)) TO parquet` of every file of the last
   delivery: what reading one month costs at the least.
3. History: `dfdg load --through <til - 1>` on a fresh data root (every ingest, the roll-out, the
   benchmark, the catalogue).
4. Refresh: `dfdg load` of the last month on top of it (ingest, roll-out of the months it
   affects, benchmark, catalogue); the ingest and roll-out times are the loader's own lines, the
   ingest run's step times (`raw_levering`, the raw ingest with every R12 check, against the
   floor as well as the whole ingest run) from the data root's Dagster instance.
5. The 12th month against the last: a second data root loads `fra..fra+10`, then the 12th month
   as a refresh; `refresh_ratio` = refresh of the last month / refresh of the 12th. Beside it,
   each refresh's work (`refresh_work`: the delivery's bytes, the fact rows of the months it rolled
   out) and the ratio per unit of that work (`refresh_ratio_per_work`), since later months of a
   synthetic history are larger and correct further back.
6. Queries as whole processes (best of 3): the README's `dfdg query dfdg` (the largest
   municipality) and `dfdg query ydelsesaktivitet` (national, by month and benefit), the
   benchmark, and every municipality by month.
7. One delivery carrying all history (`perf/allhistory.py`: the latest version of every record
   of `fra..til`, as the last month's delivery) loaded into a fresh data root: its ingest, the
   roll-out of every month and the benchmark, with the peak RSS of the whole load.

The figures print as a table and are written as JSON (`--json`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dfdg_assets.core.weeks import months_between
from dfdg_assets.ingest.contract import YR_FIRST_MONTH
from dfdg_assets.perf.allhistory import build_all_history

GIB = 1024**3
MARKER = ".e2e-args.json"


# Runs the measured command as its own child and reports that child's peak RSS on a pipe. A
# child the bench starts directly inherits the starter's high-water mark: Linux records the old
# memory's peak at exec, and with vfork (what subprocess uses) that memory is the starter's. A
# small interpreter in between keeps the figure the command's own.
_TRAMPOLINE = (
    "import os, resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "os.write(int(sys.argv[1]), b'%d' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(rc if rc >= 0 else 128 - rc)\n"
)


def measure(cmd: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `cmd`; its wall time, peak RSS (its own and its waited-for children's) and output."""
    r, w = os.pipe()
    t = time.perf_counter()
    try:
        with subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, str(w), *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            pass_fds=(w,),
        ) as p:
            os.close(w)
            w = -1
            output = p.stdout.read() if p.stdout else ""
            p.wait()
        wall = time.perf_counter() - t
        with os.fdopen(r, "rb") as f:
            r = -1
            peak_kib = int(f.read() or 0)
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)
    return {
        "wall_s": round(wall, 2),
        "peak_rss_gib": round(peak_kib * 1024 / GIB, 3),
        "rc": p.returncode,
        "output": output,
    }


def _dfdg(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dfdg_assets.cli", "--data-root", str(root), *args]


def _loader_figures(output: str) -> dict[str, Any]:
    """The loader's own lines: per-delivery ingest times, the roll-out time, the total."""
    ingests = [float(s) for s in re.findall(r"\] \d{4}-\d{2} indlæst \(([\d.]+) s\)", output)]
    rollout = re.search(r"Udrulning færdig \(([\d.]+) s\)", output)
    months = re.search(r"Udruller (\S+) \((\d+) måneder\)", output)
    return {
        "ingest_s": round(sum(ingests), 2),
        "deliveries": len(ingests),
        "rollout_s": float(rollout.group(1)) if rollout else None,
        "rollout_months": int(months.group(2)) if months else 0,
        "rollout_range": months.group(1) if months else None,
        "failed": "AFVIST" in output or "FEJLEDE" in output,
    }


def refresh_work(root: Path, month: str, rollout_range: str | None) -> dict[str, Any]:
    """What one refresh had to do: the delivery's CSV (bytes) and the fact and bridge rows of the
    months it rolled out, as they stand after it, read from the Parquet footers. The refresh's
    cost divided by these is its cost per unit of work."""
    import duckdb

    from dfdg_assets.core.settings import DataRoot
    from dfdg_assets.storage.warehouse import Warehouse

    data_root = DataRoot.of(root)
    csv_bytes = sum(f.stat().st_size for f in (data_root.inbox / month).glob("*.csv"))
    files: list[str] = []
    if rollout_range:
        wh = Warehouse(data_root.warehouse)
        files = [
            str(wh.partition_file(t, m))
            for t in wh.tables()
            if t.startswith(("fct_", "bdg_"))
            for m in months_between(*rollout_range.split(".."))
            if wh.has(t, m)
        ]
    rows = 0
    if files:
        con = duckdb.connect()
        try:
            got = con.execute("SELECT sum(num_rows) FROM parquet_file_metadata(?)", [files])
            rows = int((got.fetchone() or [0])[0] or 0)
        finally:
            con.close()
    return {"csv_bytes": csv_bytes, "fact_rows": rows}


def per_work(last: dict[str, Any], twelfth: dict[str, Any]) -> dict[str, float]:
    """The last month's refresh against the 12th per unit of work: ingest per delivered byte,
    roll-out per fact row rewritten. 1.0 means the cost follows the work exactly; above it, the
    same work costs more later in the history."""

    def ratio(cost: str, work: str) -> float:
        a = (last.get(cost) or 0) / max(last.get(work) or 0, 1e-9)
        b = (twelfth.get(cost) or 0) / max(twelfth.get(work) or 0, 1e-9)
        return round(a / b, 2) if b else 0.0

    return {
        "ingest_per_mb": ratio("ingest_s", "csv_bytes"),
        "rollout_per_row": ratio("rollout_s", "fact_rows"),
    }


def _link_inbox(source: Path, root: Path, months: Sequence[str]) -> None:
    """A data root whose inbox holds `months` as links to the generated deliveries."""
    (root / "inbox").mkdir(parents=True, exist_ok=True)
    for m in months:
        target = root / "inbox" / m
        if not target.exists():
            shutil.copytree(source / m, target, copy_function=os.link)


def _deliveries(args: dict[str, Any], workdir: Path, say: Callable[[str], Any]) -> dict:
    key = "-".join(str(args[k]) for k in ("borgere", "kommuner", "fra", "til", "seed"))
    inbox = workdir / f"e2e-inbox-{key}"
    marker = inbox / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == args:
        say(f"Genbruger leveringerne i {inbox}")
        return {"inbox": str(inbox), "reused": True}
    shutil.rmtree(inbox, ignore_errors=True)
    say(f"Genererer {args['fra']}..{args['til']} for {args['borgere']:,} borgere …")
    cmd = [sys.executable, "-m", "dfdg_assets.cli", "generate", "--out", str(inbox)]
    for k in ("borgere", "kommuner", "fra", "til", "seed"):
        cmd += [f"--{k}", str(args[k])]
    res = measure(cmd)
    if res["rc"] != 0:
        raise RuntimeError(f"generate fejlede: {res['output'][-500:]}")
    marker.write_text(json.dumps(args))
    size = sum(f.stat().st_size for f in inbox.rglob("*.csv"))
    return {"inbox": str(inbox), "reused": False, "wall_s": res["wall_s"], "csv_gib": size / GIB}


def copy_floor(delivery: Path, out: Path) -> dict[str, Any]:
    """DuckDB COPY of every CSV of one delivery to Parquet, in its own process."""
    out.mkdir(parents=True, exist_ok=True)
    script = (
        "import duckdb, sys, pathlib\n"
        "src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
        "con = duckdb.connect()\n"
        "for f in sorted(src.glob('*.csv')):\n"
        "    con.execute(\"COPY (SELECT * FROM read_csv(?, delim=';', header=true, "
        "all_varchar=true)) TO '\" + str(dst / (f.stem + '.parquet')) + \"' (FORMAT parquet)\", "
        "[str(f)])\n"
    )
    res = measure([sys.executable, "-c", script, str(delivery), str(out)])
    shutil.rmtree(out, ignore_errors=True)
    size = sum(f.stat().st_size for f in delivery.glob("*.csv"))
    return {"wall_s": res["wall_s"], "peak_rss_gib": res["peak_rss_gib"], "csv_mb": size / 1e6}


def ingest_steps(root: Path) -> dict[str, float]:
    """Step durations (s) of the newest ingest run of a data root, read from its Dagster
    instance: `raw_levering` is the raw ingest alone (reading, typing and checking the files, R12),
    the rest are staging, dimensions and the catalogue."""
    import warnings

    import dagster as dg

    from dfdg_assets.core.settings import DataRoot
    from dfdg_assets.orchestration.instance import open_instance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the definitions' beta/preview notices
        from dfdg_assets.orchestration.jobs import INGEST_JOB

    instance = open_instance(DataRoot.of(root))
    try:
        runs = instance.get_run_records(dg.RunsFilter(job_name=INGEST_JOB), limit=1)
        if not runs:
            return {}
        stats = instance.get_run_step_stats(runs[0].dagster_run.run_id)
    finally:
        instance.dispose()
    return {
        s.step_key: round(s.end_time - s.start_time, 2)
        for s in stats
        if s.start_time and s.end_time
    }


def _load(root: Path, through: str | None = None) -> dict[str, Any]:
    res = measure(_dfdg(root, "load", *(["--through", through] if through else [])))
    if res["rc"] != 0:
        raise RuntimeError(f"dfdg load fejlede: {res['output'][-800:]}")
    return {
        **_loader_figures(res["output"]),
        "wall_s": res["wall_s"],
        "peak_rss_gib": res["peak_rss_gib"],
    }


def _all_history(inbox: Path, months: Sequence[str], workdir: Path) -> dict[str, Any]:
    """`dfdg load` of one delivery carrying all of `months` on a fresh data root."""
    built, root = workdir / "e2e-hele-historikken-indbakke", workdir / "e2e-hele-historikken"
    for d in (built, root):
        shutil.rmtree(d, ignore_errors=True)
    t0 = time.perf_counter()
    folder = build_all_history(inbox, months, built)
    build_s = time.perf_counter() - t0
    csv_mb = sum(f.stat().st_size for f in folder.glob("*.csv")) / 1e6
    _link_inbox(built, root, [months[-1]])
    result = {**_load(root), "csv_mb": round(csv_mb, 1), "build_s": round(build_s, 1)}
    for d in (built, root):
        shutil.rmtree(d, ignore_errors=True)
    return result


def _queries(root: Path, fra: str, til: str) -> dict[str, Any]:
    year = til[:4]
    kommune = _largest_municipality(root)
    cases = {
        "readme_dfdg": [
            "query", "dfdg", "--measure", "antal_borgere,antal_visitationsforloeb",
            "--by", "maaned,visitationskategori", "--kommune", str(kommune),
            "--fra", f"{year}-01", "--til", til,
        ],
        "readme_ydelsesaktivitet": [
            "query", "ydelsesaktivitet", "--measure", "antal_borgere",
            "--by", "maaned,beskaeftigelsesydelse", "--fra", f"{year}-01",
        ],
        "benchmark": ["query", "benchmark", "--fra", f"{year}-01", "--til", til],
        "alle_kommuner_maaned": [
            "query", "dfdg", "--measure", "antal_borgere",
            "--by", "maaned,kommunekode", "--fra", fra, "--til", til,
        ],
    }  # fmt: skip
    out: dict[str, Any] = {"kommune": kommune}
    for name, args in cases.items():
        runs = [measure(_dfdg(root, *args, "--format", "csv")) for _ in range(3)]
        bad = [r for r in runs if r["rc"] != 0]
        if bad:
            out[name] = {"error": bad[0]["output"][-300:]}
            continue
        out[name] = {
            "best_s": min(r["wall_s"] for r in runs),
            "rows": max(0, runs[0]["output"].count("\n") - 1),
        }
    return out


def _largest_municipality(root: Path) -> int:
    import duckdb

    con = duckdb.connect(str(root / "warehouse" / "dfdg.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT kommunekode FROM fct_visitation_uge GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 101


def run_endtoend(
    *,
    borgere: int,
    kommuner: int | Sequence[int] = 98,
    fra: str = "2017-01",
    til: str = "2020-12",
    seed: int = 1,
    workdir: Path | None = None,
    out: Callable[[str], Any] | None = print,
) -> dict[str, Any]:
    say = out or (lambda _s: None)
    workdir = Path(workdir) if workdir else Path(os.environ.get("TMPDIR", "/tmp")) / "dfdg-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    months = months_between(fra, til)
    if len(months) < 13:
        raise ValueError("ende-til-ende kræver mindst 13 måneder (den 12. måned mod den sidste)")
    kom = kommuner if isinstance(kommuner, int) else ",".join(str(k) for k in kommuner)
    args = {"borgere": borgere, "kommuner": kom, "fra": fra, "til": til, "seed": seed}
    result: dict[str, Any] = {
        "args": args,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "started": dt.datetime.now().isoformat(timespec="seconds"),
    }
    t0 = time.perf_counter()
    result["deliveries"] = d = _deliveries(args, workdir, say)
    inbox = Path(d["inbox"])

    say("Gulv: DuckDB COPY af den sidste levering …")
    result["copy_floor"] = copy_floor(inbox / til, workdir / "e2e-floor")
    # the 12th month's floor: what reading its (smaller) delivery costs at the least
    result["copy_floor_12th"] = copy_floor(inbox / months[11], workdir / "e2e-floor")

    history = workdir / "e2e-historik"
    shutil.rmtree(history, ignore_errors=True)
    _link_inbox(inbox, history, months)
    say(f"Indlæser {fra}..{months[-2]} ({len(months) - 1} leveringer) …")
    result["history"] = _load(history, months[-2])
    say(f"Månedlig opdatering: {til} …")
    result["refresh_last"] = last = _load(history)
    last.update(refresh_work(history, til, last["rollout_range"]))

    twelfth = workdir / "e2e-maaned12"
    shutil.rmtree(twelfth, ignore_errors=True)
    _link_inbox(inbox, twelfth, months[:12])
    say(f"Den 12. måned ({months[11]}) som opdatering …")
    _load(twelfth, months[10])
    result["refresh_12th"] = at12 = _load(twelfth)
    # before YR's first month the 12th month has no YR rows and no benchmark month to build
    at12.update(maaned=months[11], med_yr=months[11] >= YR_FIRST_MONTH)
    at12.update(refresh_work(twelfth, months[11], at12["rollout_range"]))
    result["refresh_ratio"] = round(last["wall_s"] / max(at12["wall_s"], 1e-9), 2)
    result["refresh_ratio_per_work"] = per_work(last, at12)
    per_delivery = [
        result["refresh_last"]["ingest_s"] / max(result["refresh_last"]["deliveries"], 1),
        result["history"]["ingest_s"] / max(result["history"]["deliveries"], 1),
    ]
    result["ingest_over_floor"] = round(per_delivery[0] / result["copy_floor"]["wall_s"], 2)
    steps = ingest_steps(history)  # the refresh's ingest run: the raw step alone against the floor
    result["refresh_last"]["ingest_steps_s"] = steps
    if "raw_levering" in steps:
        result["raw_ingest_over_floor"] = round(
            steps["raw_levering"] / result["copy_floor"]["wall_s"], 2
        )
    result["history_ingest_per_delivery_s"] = round(per_delivery[1], 2)

    say("Forespørgsler …")
    result["queries"] = _queries(history, fra, til)
    shutil.rmtree(twelfth, ignore_errors=True)
    say("Én levering med hele historikken …")
    result["hele_historikken"] = _all_history(inbox, months, workdir)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["total_s"] = round(time.perf_counter() - t0, 1)
    result["history_root"] = str(history)
    return result


def format_endtoend(r: dict[str, Any]) -> str:
    a = r["args"]
    h, last, twelfth, floor = r["history"], r["refresh_last"], r["refresh_12th"], r["copy_floor"]
    q = r["queries"]

    def row(what: str, wall: Any, peak: Any = "", goal: str = "") -> str:
        w = f"{wall:,.1f} s" if isinstance(wall, (int, float)) else str(wall)
        p = f"{peak:.2f} GiB" if isinstance(peak, (int, float)) else str(peak)
        return f"  {what:<46} {w:>11} {p:>10}  {goal}"

    lines = [
        f"dfdg bench --ende-til-ende: {a['borgere']:,} borgere, {a['kommuner']} kommuner, "
        f"{a['fra']}..{a['til']}  (load ved slut {r['load_average_end']})",
        f"  {'':<46} {'tid':>11} {'top RSS':>10}  mål",
        row(f"historik: {h['deliveries']} leveringer + udrulning", h["wall_s"], h["peak_rss_gib"], "≤ 600 s, ≤ 4 GiB"),
        row("  heraf indlæsning", h["ingest_s"]),
        row(f"  heraf udrulning ({h['rollout_months']} måneder)", h["rollout_s"]),
        row(f"månedlig opdatering ({a['til']})", last["wall_s"], last["peak_rss_gib"], "≤ 60 s"),
        row("  heraf indlæsning", last["ingest_s"]),
        row(f"  heraf udrulning ({last['rollout_months']} måneder)", last["rollout_s"]),
        row("den 12. måned som opdatering", twelfth["wall_s"], twelfth["peak_rss_gib"]),
        row("sidste / 12. måned", f"{r['refresh_ratio']:.2f}×", "", "≤ 1.2×"),
        *_without_yr(twelfth),
        *_per_work(last, twelfth, r.get("refresh_ratio_per_work"), floor, r.get("copy_floor_12th")),
        row(f"gulv: DuckDB COPY af én levering ({floor['csv_mb']:.0f} MB)", floor["wall_s"], floor["peak_rss_gib"]),
        row("rå indlæsning (raw_levering, R12) / gulv", f"{r.get('raw_ingest_over_floor', '?')}×", "", "≤ 3×"),
        row("  hele indlæsningskørslen / gulv", f"{r['ingest_over_floor']:.2f}×"),
    ]  # fmt: skip
    if whole := r.get("hele_historikken"):
        lines += [
            row(f"én levering med hele historikken ({whole['csv_mb']:,.0f} MB)", whole["wall_s"], whole["peak_rss_gib"], "≤ 4 GiB"),
            row("  heraf indlæsning", whole["ingest_s"]),
            row(f"  heraf udrulning ({whole['rollout_months']} måneder)", whole["rollout_s"]),
        ]  # fmt: skip
    for name, goal in (
        ("readme_dfdg", "≤ 0.5 s"),
        ("readme_ydelsesaktivitet", "≤ 0.5 s"),
        ("benchmark", "≤ 0.5 s"),
        ("alle_kommuner_maaned", "≤ 2 s"),
    ):
        v = q.get(name, {})
        lines.append(row(f"forespørgsel {name}", v.get("best_s", v.get("error", "?")), "", goal))  # fmt: skip
    lines.append(f"  i alt {r['total_s']:,.0f} s")
    return "\n".join(lines)


def _without_yr(twelfth: dict[str, Any]) -> list[str]:
    """A note under the ratio when the 12th month is before YR: it builds no YR and no
    benchmark month, so the two refreshes do different work."""
    if twelfth.get("med_yr", True):
        return []
    return [
        f"    (den 12. måned, {twelfth.get('maaned', '?')}, er før {YR_FIRST_MONTH}: ingen YR og "
        f"intet benchmark; samme slags arbejde: --fra {YR_FIRST_MONTH})"
    ]


def _per_work(
    last: dict, twelfth: dict, ratios: dict | None, floor: dict, floor12: dict | None
) -> list[str]:
    """Under the ratio: how much more work the last month was than the 12th (its delivery, the
    fact rows it rolled out, the COPY floor of each delivery), and the ratio per unit of it."""
    if not ratios or "csv_bytes" not in last or "csv_bytes" not in twelfth:
        return []

    def times(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if b else "?"

    lines = [
        f"    arbejde: levering {last['csv_bytes'] / 1e6:,.0f} / {twelfth['csv_bytes'] / 1e6:,.0f} MB "
        f"({times(last['csv_bytes'], twelfth['csv_bytes'])}), faktarækker udrullet "
        f"{last['fact_rows'] / 1e6:,.1f} / {twelfth['fact_rows'] / 1e6:,.1f} mio. "
        f"({times(last['fact_rows'], twelfth['fact_rows'])})",
    ]
    if floor12:
        lines.append(
            f"    gulv (DuckDB COPY) {floor['wall_s']:.2f} / {floor12['wall_s']:.2f} s "
            f"({times(floor['wall_s'], floor12['wall_s'])})"
        )
    lines.append(
        f"    pr. arbejde: indlæsning pr. MB {ratios['ingest_per_mb']:.2f}×, "
        f"udrulning pr. faktarække {ratios['rollout_per_row']:.2f}×"
    )
    return lines


def endtoend_and_report(args: Any) -> int:
    result = run_endtoend(
        borgere=args.borgere,
        kommuner=args.kommuner,
        fra=args.fra,
        til=args.til,
        seed=args.seed,
        workdir=Path(args.workdir) if args.workdir else None,
    )
    print(format_endtoend(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 0
