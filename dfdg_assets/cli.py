"""The `dfdg` command line: generate, load, query, export, bench.

Heavy imports happen inside each command, so a command never pays for another's start-up.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from dfdg_assets.core.privacy import PersonalDataSafeError, redact
from dfdg_assets.core.settings import DataRoot


class CliError(Exception):
    """An error shown to the user as one line, exit code 2."""


def _month(text: str) -> str:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"ugyldig måned {text!r}: brug YYYY-MM")
    return text


def _kommuner(text: str) -> int | list[int]:
    if "," in text or len(text) == 3:
        return [int(x) for x in text.split(",") if x.strip()]
    return int(text)


def cmd_generate(args: argparse.Namespace) -> int:
    from dfdg_assets.generate import generate
    from dfdg_assets.generate.run import default_period

    out = Path(args.out) if args.out else DataRoot.of(args.data_root).inbox
    fra, til = default_period(args.fra, args.til)
    summary = generate(
        out,
        kommuner=args.kommuner,
        borgere=args.borgere,
        fra=fra,
        til=til,
        seed=args.seed,
        fejlrate=args.fejlrate,
    )
    print(
        f"Genereret {summary.months} leveringer {fra}..{til} i {out} ({summary.bytes / 1e6:.1f} MB, {summary.seconds:.1f} s)"
    )
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from dfdg_assets.orchestration.ui import serve

    return serve(DataRoot.of(args.data_root), port=args.port, host=args.host)


def _print_failing_checks(root: DataRoot, held: Sequence[str] = ()) -> None:
    """The checks whose latest result failed, with their months (ERROR before WARN). A month
    before the retention start of the newest month `held` that the warehouse no longer holds was
    pruned with its data, and is left out."""
    import warnings

    from dfdg_assets.core.checks import failing
    from dfdg_assets.core.partitions import retention_start
    from dfdg_assets.orchestration.instance import open_instance

    since = retention_start(held[-1]) if held else ""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from dfdg_assets.definitions import defs

        keys = sorted(defs.resolve_asset_graph().asset_check_keys, key=str)
        bad = failing(open_instance(root), keys)
    lines = []
    for severity in ("ERROR", "WARN"):
        for name, results in bad.items():
            months = [
                m or "-" for m, s in results if s == severity and (not m or m >= since or m in held)
            ]
            if months:
                shown = ", ".join(months[:8]) + (
                    f" … ({len(months)} i alt)" if len(months) > 8 else ""
                )
                lines.append(f"  {severity:5} {name}: {shown}")
    if not lines:
        print("Tjek: alle bestået")
        return
    print("Tjek der fejler (se assettets Checks-fane, driftshåndbogen: 'A check failed'):")
    print("\n".join(lines))


def cmd_status(args: argparse.Namespace) -> int:
    """What the warehouse holds, rejected rows counted, and what to do next."""
    from dfdg_assets.storage import Warehouse

    root = DataRoot.of(args.data_root)
    wh = Warehouse(root.warehouse)
    months = wh.partitions("raw_visitation") if root.warehouse.exists() else []
    if not months:
        print(
            f"Lageret i {root.root} er tomt: kør `make demo` (eller `dfdg generate` og `dfdg load`)."
        )
        return 0
    rejected = {
        m: wh.read("raw_afviste_raekker", [m]).height for m in wh.partitions("raw_afviste_raekker")
    }
    print(f"Lageret holder {len(months)} leveringsmåneder: {months[0]}..{months[-1]}")
    print(
        f"Afviste rækker: {sum(rejected.values())} i {sum(1 for n in rejected.values() if n)} "
        "leveringer (se raw_afviste_raekker: fil, linje, årsag)"
    )
    _print_failing_checks(root, months)
    first, last = max(months[0], "2020-01"), months[-1]
    print("Næste skridt:")
    print("  make ui                      # Dagster UI på http://localhost:3000 (Ctrl-C stopper)")
    print(
        "  .venv/bin/dfdg query dfdg --measure antal_borgere,antal_visitationsforloeb "
        f"--by maaned --fra {first} --til {last}"
    )
    print(
        "  docs/operations.md           # driftshåndbog: afviste, forfaldne og rettede leveringer"
    )
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    root = DataRoot.of(args.data_root)
    if not root.inbox.is_dir():
        raise CliError(
            f"ingen inbox i {root.root}: kør først `dfdg generate` eller læg leveringer i {root.inbox}"
        )
    from dfdg_assets.orchestration.loader import load
    from dfdg_assets.storage.lock import Busy

    try:
        report = load(
            root,
            through=args.through,
            accept=set(args.accepter or []),
            wait=not getattr(args, "ingen_vent", False),
        )
    except Busy as e:
        print(
            f"En anden indlæsning kører allerede på {root.root} ({e}); afbryder.", file=sys.stderr
        )
        return 3
    return 0 if report.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    from dfdg_assets.exports.packages import export_package, read_manifest

    path = export_package(
        DataRoot.of(args.data_root),
        args.kommune,
        args.niveau,
        args.fra,
        args.til,
        out=Path(args.out) if args.out else None,
    )
    tables = read_manifest(path)["tables"]
    print(f"Datapakke skrevet: {path}")
    width = max(len(t) for t in tables)
    for name, t in tables.items():
        print(f"  {name:<{width}}  {t['rows']:>9} rækker")
    return 0


CUBES = ("dfdg", "ydelsesaktivitet", "benchmark")


def _split(values: list[str] | None) -> list[str]:
    """`--measure a,b --measure c` -> [a, b, c]."""
    return [x.strip() for v in values or [] for x in v.split(",") if x.strip()]


def _where(values: list[str] | None) -> dict[str, list[str]]:
    """`--where A=V` (repeatable; repeating an attribute keeps several values; `A=` = null group)."""
    out: dict[str, list[str]] = {}
    for item in values or []:
        attr, sep, value = item.partition("=")
        if not sep or not attr.strip():
            raise CliError(
                f"--where skal have formen ATTRIBUT=VÆRDI, ikke {redact(repr(item), 60)}"
            )
        out.setdefault(attr.strip(), []).append(value.strip())
    return out


def _emit(text: str, fmt: str) -> None:
    raw = getattr(sys.stdout, "buffer", None)
    if raw is not None and fmt != "table":  # csv and json are UTF-8 whatever the locale
        sys.stdout.flush()
        raw.write(text.encode("utf-8"))
        raw.flush()
    else:
        sys.stdout.write(text)


def _period(args: argparse.Namespace) -> dict[str, Any]:
    """The municipality and period arguments every cube query takes."""
    return {"kommune": args.kommune, "fra": args.fra, "til": args.til}


def _output(args: argparse.Namespace, df: Any, fmt: Callable, write: Callable) -> int:
    """A query result to `--out` (any format, through `write`) or to stdout (through `fmt`)."""
    if args.out:
        write(df, args.format, args.out)
    else:
        _emit(fmt(df, args.format), args.format)
    return 0


def _query_benchmark(args: argparse.Namespace) -> int:
    given = [
        opt
        for opt, v in (("--measure", args.measure), ("--by", args.by), ("--where", args.where))
        if v
    ]
    if given:
        raise CliError(
            f"kuben benchmark er publiceret færdig: {', '.join(given)} bruges ikke; "
            "vælg med --kommune, --fra, --til og --breakdown"
        )
    from dfdg_assets.cubes.benchmark_query import (
        format_benchmark,
        query_benchmark,
        write_benchmark,
    )

    df = query_benchmark(DataRoot.of(args.data_root), breakdown=args.breakdown, **_period(args))
    return _output(args, df, format_benchmark, write_benchmark)


def cmd_query(args: argparse.Namespace) -> int:
    if args.cube not in CUBES:
        raise CliError(f"ukendt kube {redact(repr(args.cube), 60)}; kendte: {', '.join(CUBES)}")
    if args.format == "parquet" and not args.out:
        raise CliError("--format parquet kræver --out FIL")
    if args.cube == "benchmark":
        return _query_benchmark(args)
    if args.breakdown:
        raise CliError(f"--breakdown gælder kun kuben benchmark, ikke {args.cube}")
    measures = _split(args.measure)
    if not measures:
        raise CliError("angiv mindst ét måltal med --measure")
    from dfdg_assets.cubes.query import (
        format_result,
        query_dfdg,
        query_ydelsesaktivitet,
        write_result,
    )

    query = query_dfdg if args.cube == "dfdg" else query_ydelsesaktivitet
    root = DataRoot.of(args.data_root)
    df = query(root, measures, by=_split(args.by), where=_where(args.where), **_period(args))
    return _output(args, df, format_result, write_result)


def _one_line_error(message: str) -> None:
    print(f"dfdg: {redact(message, 300)}", file=sys.stderr)
    sys.exit(2)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.ende_til_ende:
        from dfdg_assets.perf.endtoend import endtoend_and_report

        return endtoend_and_report(args)
    from dfdg_assets.perf.run import bench_and_report

    return bench_and_report(args, repeat=args.gentag)


def cmd_instance(args: argparse.Namespace) -> int:
    from dfdg_assets.orchestration.instance import describe_instance

    print(describe_instance(DataRoot.of(args.data_root)), end="")
    return 0


Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Errors of `parser` are one line (exit 2)."""
    parser.error = _one_line_error  # type: ignore[method-assign,assignment]
    return parser


def _data_root_after_command(parser: argparse.ArgumentParser) -> None:
    """--data-root also accepted after the command; SUPPRESS keeps the one given before it."""
    parser.add_argument(
        "--data-root", default=argparse.SUPPRESS, help="data root (as before the command)"
    )


def _add_generate(sub: Subparsers) -> None:
    g = sub.add_parser("generate", help="write synthetic monthly deliveries (SPEC section 7)")
    g.add_argument(
        "--kommuner", type=_kommuner, default=4, help="number of municipalities, or codes (101,751)"
    )
    g.add_argument("--borgere", type=int, default=6000, help="citizens on benefits over the period")
    g.add_argument(
        "--fra", type=_month, help="first month (default: January four years before --til)"
    )
    g.add_argument(
        "--til", type=_month, help="last month (default: the last complete calendar month)"
    )
    g.add_argument("--seed", type=int, default=1)
    g.add_argument(
        "--fejlrate", type=float, default=0.001, help="share of rows with a row-level fault"
    )
    g.add_argument("--out", help="inbox folder (default: the data root's inbox)")
    g.set_defaults(func=cmd_generate)
    _one_line_errors(g)


def _add_load_status_ui(sub: Subparsers) -> None:
    ld = sub.add_parser("load", help="load every pending delivery through the Dagster definitions")
    ld.add_argument("--through", type=_month, help="load deliveries up to and including this month")
    ld.add_argument(
        "--accepter",
        action="append",
        type=_month,
        metavar="YYYY-MM",
        help="accept this month's delivery although over 1 %% of a file's rows were rejected",
    )
    ld.add_argument(
        "--ingen-vent",
        action="store_true",
        help="exit at once (status 3) when another `dfdg load` holds the data root, instead of waiting",
    )
    ld.set_defaults(func=cmd_load)
    _one_line_errors(ld)
    st = sub.add_parser("status", help="what the warehouse holds and what to do next")
    st.set_defaults(func=cmd_status)
    u = sub.add_parser("ui", help="the Dagster UI on the data root (stops cleanly on Ctrl-C)")
    u.add_argument("--port", type=int, default=3000)
    u.add_argument("--host", default="127.0.0.1")
    u.set_defaults(func=cmd_ui)


def _add_bench(sub: Subparsers) -> None:
    b = sub.add_parser(
        "bench",
        help="time the visitation roll-out (product vs DuckDB SQL vs pandas) and a typical query",
    )
    b.add_argument(
        "--borgere", type=int, default=100_000, help="citizens on benefits (national: 1000000)"
    )
    b.add_argument("--kommuner", type=_kommuner, default=98)
    b.add_argument("--fra", type=_month, default="2017-01")
    b.add_argument("--til", type=_month, default="2020-12")
    b.add_argument("--seed", type=int, default=1)
    b.add_argument(
        "--workdir", help="where datasets are generated and reused (default: a temp folder)"
    )
    b.add_argument(
        "--pandas-borgere", type=int, help="size for the pandas run (default: min(borgere, 100000))"
    )
    b.add_argument("--gentag", type=int, default=1, help="runs per engine; the fastest counts")
    b.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    b.add_argument(
        "--ende-til-ende",
        action="store_true",
        help="the monthly operation end to end: generate, load the history, the monthly "
        "refresh, the 12th month against the last, the DuckDB COPY floor, queries, one "
        "delivery carrying all history",
    )
    b.set_defaults(func=cmd_bench)
    _one_line_errors(b)


def _add_instance_export(sub: Subparsers) -> None:
    ins = sub.add_parser(
        "instance",
        help="(re)write the data root's dagster.yaml from the environment and show it "
        "(DFDG_POSTGRES_URL: PostgreSQL; password masked)",
    )
    _data_root_after_command(ins)
    ins.set_defaults(func=cmd_instance)
    _one_line_errors(ins)
    ex = sub.add_parser("export", help="write a municipality's data package (SPEC section 6)")
    ex.add_argument("--kommune", type=int, required=True, metavar="K", help="municipality code")
    ex.add_argument("--niveau", choices=["datamart", "dsa"], required=True)
    ex.add_argument("--fra", type=_month, required=True, help="first month (dsa: delivery month)")
    ex.add_argument("--til", type=_month, required=True, help="last month, inclusive")
    ex.add_argument("--out", metavar="DIR", help="folder for the package (default: exports/)")
    _data_root_after_command(ex)
    ex.set_defaults(func=cmd_export)
    _one_line_errors(ex)


def _add_query(sub: Subparsers) -> None:
    q = sub.add_parser("query", help="query a cube (SPEC section 4); no Dagster start-up")
    q.add_argument("cube", metavar="CUBE", help="dfdg, ydelsesaktivitet or benchmark")
    q.add_argument("--measure", action="append", metavar="M[,M..]", help="measures")
    q.add_argument("--by", action="append", metavar="A[,A..]", help="attributes to break down by")
    q.add_argument(
        "--where", action="append", metavar="A=V", help="keep rows with A = V (repeatable)"
    )
    q.add_argument("--kommune", metavar="K", help="only municipality K (= --where kommunekode=K)")
    q.add_argument("--fra", type=_month, help="first month (weeks by the month of their Sunday)")
    q.add_argument("--til", type=_month, help="last month, inclusive")
    q.add_argument(
        "--breakdown",
        metavar="B",
        help="benchmark only: B's rows and the total rows "
        "(aktiveringstype, beskaeftigelsesydelse, visitationskategori)",
    )
    q.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table")
    q.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    _data_root_after_command(q)
    q.set_defaults(func=cmd_query)
    _one_line_errors(q)


def build_parser() -> argparse.ArgumentParser:
    p = _one_line_errors(
        argparse.ArgumentParser(prog="dfdg", description="The DFDG data warehouse")
    )
    p.add_argument("--data-root", help="data root (default: $DFDG_DATA_ROOT or ./data)")
    sub = p.add_subparsers(dest="command", required=True)
    _add_generate(sub)
    _add_load_status_ui(sub)
    _add_bench(sub)
    _add_instance_export(sub)
    _add_query(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    # Dagster marks some of the parameters we use as beta; that is for developers, not operators.
    warnings.filterwarnings("ignore", message=r".*(beta|preview)", category=Warning)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data_root", None) is None:
        args.data_root = None
    try:
        return args.func(args)
    except (CliError, PersonalDataSafeError) as e:
        print(f"dfdg: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dfdg: afbrudt", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one clear line, no echoed values
        print(f"dfdg: uventet fejl ({type(e).__name__}): {redact(str(e), 200)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
