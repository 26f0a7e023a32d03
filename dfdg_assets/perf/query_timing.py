"""The query step of `dfdg bench`: the product's partitions of the roll-out plus the dimensions
it needs in a bench data root and catalogue, then the typical cube query (`query_dfdg` and plain
DuckDB SQL, in a fresh process) and the same query through the CLI, each checked against the
roll-out's own group table."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dfdg_assets.perf.children import run_child
from dfdg_assets.perf.constants import QUERY_BY, QUERY_MEASURES


def year_range(fra: str, til: str) -> tuple[str, str]:
    """The last calendar year of the period (clipped to it)."""
    year = til[:4]
    return max(fra, f"{year}-01"), til


def _bench_catalogue(root: Path, months: list[str]) -> None:
    """The dimensions the query joins, and the catalogue, next to the product's partitions."""
    from dfdg_assets.core.settings import DataRoot
    from dfdg_assets.core.weeks import week_frame
    from dfdg_assets.dimensions.build import dim_kommune
    from dfdg_assets.storage.warehouse import Warehouse

    paths = DataRoot.of(root)
    wh = Warehouse(paths.warehouse)
    wh.write_many({("dim_tid_uge", m): week_frame([m]) for m in months})
    wh.write("dim_kommune", dim_kommune())
    wh.refresh_catalogue(paths.catalogue)


def _largest_municipality(in_year: Any) -> int:
    """The municipality with the most course-weeks in the query's year."""
    import polars as pl

    largest = (
        in_year.group_by("kommunekode")
        .agg(pl.col("rows").sum())
        .sort("rows", "kommunekode", descending=[True, False])
    )
    return int(largest["kommunekode"][0])


def _expected(in_year: Any, kommune: int) -> Any:
    """The query's answer from the product's own group table of the roll-out."""
    import polars as pl

    return (
        in_year.filter(pl.col("kommunekode") == kommune)
        .select(
            "maaned",
            "visitationskategori",
            pl.col("borgere").alias("antal_borgere"),
            pl.col("forloeb").alias("antal_visitationsforloeb"),
        )
        .sort("maaned", "visitationskategori", nulls_last=True)
    )


def _checked(info: dict[str, Any], expected: Any) -> dict[str, Any]:
    """A timed way of asking (`function`, `sql`) with whether its answer is the expected one."""
    import polars as pl

    info = dict(info)
    got = pl.read_parquet(info.pop("result"))
    got = got.with_columns(pl.col(c).cast(pl.Int64) for c in QUERY_MEASURES)
    info["matches_rollout"] = (
        got.select(expected.columns)
        .sort("maaned", "visitationskategori", nulls_last=True)
        .equals(expected)
    )
    info["sample"] = got.head(3).to_dicts()
    return info


def time_query(
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

    t0 = time.perf_counter()
    _bench_catalogue(root, months)
    q_fra, q_til = year_range(fra, til)
    groups = pl.read_parquet(full["groups"])
    in_year = groups.filter(pl.col("maaned").is_between(pl.lit(q_fra), pl.lit(q_til)))
    kommune = _largest_municipality(in_year)
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
    child = run_child(
        "query",
        {"root": str(root), "kommune": kommune, "fra": q_fra, "til": q_til, "out": str(qdir)},
    )
    res["python"] = {k: v for k, v in child.items() if k not in ("function", "sql")}
    expected = _expected(in_year, kommune)
    res["expected_shape"] = list(expected.shape)
    for name in ("function", "sql"):
        if name in child:
            res[name] = info = _checked(child[name], expected)
            say(
                f"  {name:<8}: første {info['first_s']:.3f} s, bedste af 3 {info['best_s']:.3f} s, "
                f"{info['shape'][0]} rækker, svarer til udrulningen: {info['matches_rollout']}"
            )
    if not child["ok"]:
        res["error"] = child.get("error")
    res["cli"] = _time_cli(root, kommune, q_fra, q_til, say)
    return res


def _time_cli(root: Path, kommune: int, fra: str, til: str, say: Callable[[str], Any]) -> dict:
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
