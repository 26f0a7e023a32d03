"""The text report of `dfdg bench` (`format_report`), and `report`: print it, keep the figures
as JSON, and the exit code (0 when the engines agree)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _f(x: Any, fmt: str = ",.1f") -> str:
    return "-" if x is None else format(x, fmt)


def _head(result: dict[str, Any]) -> list[str]:
    a, d = result["args"], result.get("dataset", {})
    m = result["machine"]
    return [
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


def _run_line(result: dict[str, Any], r: dict[str, Any], repeated: bool) -> str:
    """One engine run: its figures and the ratios it is the numerator of."""
    n = r["borgere"]
    name = r["engine"]
    best = False
    if repeated and r["engine"] != "product-month":
        best = result.get("best", {}).get(str(n), {}).get(r["engine"]) == r.get("rep")
        name = f"{name}#{r.get('rep', 0) + 1}{'*' if best else ''}"
    if not r.get("ok"):
        return f"{name:<16} {n:>10,} FEJL: {r.get('error')}"
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
    return (
        f"{name:<16} {n:>10,} {r['visitations']:>10,} {r['rows']:>12,} "
        f"{r['wall_s']:>8.1f} {r['compute_s']:>9.1f} {r['peak_mib']:>8,.0f} "
        f"{_f(ps, '.2f'):>9} {_f(pp, '.1f'):>11}"
    )


def _runs(result: dict[str, Any]) -> list[str]:
    head = (
        f"{'motor':<16} {'borgere':>10} {'visit.':>10} {'rækker ud':>12} {'væg s':>8} "
        f"{'beregn s':>9} {'top MiB':>8} {'prod/sql':>9} {'pandas/prod':>11}"
    )
    repeated = any(r.get("rep", 0) > 0 for r in result["runs"])
    lines = [head, "-" * len(head), *(_run_line(result, r, repeated) for r in result["runs"])]
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
    return lines


def _agreement(result: dict[str, Any]) -> list[str]:
    lines = [""] + [f"NB: {note}" for note in result.get("notes", [])]
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
    return lines


def _incremental(result: dict[str, Any]) -> list[str]:
    inc = result.get("incremental")
    if not (inc and inc.get("one_month") and inc.get("full")):
        return []
    o, f = inc["one_month"], inc["full"]
    return [
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


def _query(result: dict[str, Any]) -> list[str]:
    q = result.get("query")
    if not q:
        return []
    if "kommune" not in q:
        return [f"Forespørgsel: {q}"]
    lines = [
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
    return lines


def format_report(result: dict[str, Any]) -> str:
    """The figures of `run_bench` as a readable text report."""
    lines = [
        *_head(result),
        *_runs(result),
        *_agreement(result),
        *_incremental(result),
        *_query(result),
    ]
    lines.append(f"\nI alt {result.get('total_s', 0):.0f} s.")
    return "\n".join(lines)


def report(result: dict, json_path: Path | None = None) -> int:
    """Print the report, write the result dict as JSON to `json_path` (when given), and return
    the exit code: 0 when the engines agree, 1 when they do not."""
    print(format_report(result))
    if json_path:
        json_path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 0 if result["agree"] else 1
