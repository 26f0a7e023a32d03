"""`dfdg query benchmark` (SPEC section 4, the published benchmark table): filtering, sorting,
the csv and table formats of suppressed cells and key figures, and revisions after a corrected
re-delivery (R11), on small hand-made deliveries for two municipalities (2020-01, 2020-02).

Hand-made rather than generated: a generated first delivery carries history back to 2017, so
every load would roll out 38 months; these roll out two. The numbers are known by construction:

- København (101): 40 residents aged 16-66; 12 recipients of Kontanthjælp with a Jobparat
  course, 6 of them in a Virksomhedspraktik activity (2020-01-13..2020-02-16); one recipient of
  Sygedagpenge outside the DFDG population (a single recipient in a group);
- Aarhus (751): 20 residents; 8 recipients of A-dagpenge with an Aktivitetsparat course, 5 of
  them in a Mentor activity in 2020-W02.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from csv import DictReader

import polars as pl
import pytest

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.cubes.assets.benchmark import COLUMNS as PUBLISHED_COLUMNS
from dfdg_assets.cubes.benchmark_query import (
    COLUMNS,
    FIGURES,
    format_benchmark,
    query_benchmark,
)
from dfdg_assets.cubes.query import QueryError
from dfdg_assets.orchestration.loader import load
from dfdg_assets_tests.deliveries import borger, visitation, write_delivery

MONTHS = ["2020-01", "2020-02"]
WEEKS = {"2020-01": range(1, 5), "2020-02": range(5, 9)}  # by the month of their Sunday


def cpr(i: int) -> str:
    """A valid substitute CPR number (day + 60), born 1985 (aged 34-35 in 2020)."""
    return f"{61 + i % 28:02d}{1 + i // 28 % 12:02d}85{1000 + i:04d}"


KBH = [cpr(i) for i in range(12)]  # Kontanthjælp in 101
SICK = cpr(12)  # Sygedagpenge in 101, the only one
AAR = [cpr(i) for i in range(20, 28)]  # A-dagpenge in 751
NEW = [cpr(i) for i in range(40, 45)]  # added by the corrected re-delivery of 2020-02
RESIDENTS = [borger(c, kommune=101) for c in [*KBH, SICK, *(cpr(i) for i in range(100, 127))]] + [
    borger(c, kommune=751) for c in [*AAR, *(cpr(i) for i in range(200, 212))]
]


def yr(who: str, kommune: int, week: int, ydelse: str) -> dict:
    return {
        "cpr": who,
        "kommunekode": kommune,
        "uge": f"2020-W{week:02d}",
        "beskaeftigelsesydelse": ydelse,
        "udbetalt_beloeb": 5000,
        "refusionsprocent": 50,
    }


def activity(aid: str, who: str, kommune: int, typ: str, start: str, end: str) -> dict:
    return {
        "aktivitet_id": aid,
        "cpr": who,
        "kommunekode": kommune,
        "ansvarlig_org_id": f"JC{kommune}",
        "startdato": start,
        "slutdato": end,
        "aktiveringstype": typ,
        "aktivitetsstatus": "Igangværende",
    }


ACTIVITIES = [
    activity(f"A-{i}", c, 101, "Virksomhedspraktik", "2020-01-13", "2020-02-16")
    for i, c in enumerate(KBH[:6])
] + [
    activity(f"B-{i}", c, 751, "Mentor", "2020-01-06", "2020-01-12") for i, c in enumerate(AAR[:5])
]
ORGS = [
    {"org_id": f"JC{k}", "org_navn": f"Jobcenter {k}", "org_type": "Jobcenter", "kommunekode": k}
    for k in (101, 751)
]


def month_yr(month: str, extra: list[dict] = ()) -> list[dict]:
    rows = [yr(c, 101, w, "Kontanthjælp") for c in KBH for w in WEEKS[month]]
    rows += [yr(c, 751, w, "A-dagpenge") for c in AAR for w in WEEKS[month]]
    if month == "2020-01":
        rows.append(yr(SICK, 101, 3, "Sygedagpenge"))
    return rows + list(extra)


def february(extra: list[dict] = ()) -> dict:
    # re-sends an unchanged activity of January: the delivery affects 2020-01 as well
    return {
        "aktivitet": ACTIVITIES[:1],
        "ydelse": month_yr("2020-02", extra),
        "borger": RESIDENTS,
        "organisation": ORGS,
    }


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> dict:
    """Both months loaded (the first publication kept), then a corrected re-delivery of
    2020-02 with five more Kontanthjælp recipients in 2020-W07 loaded on top."""
    root = DataRoot.of(tmp_path_factory.mktemp("benchmark") / "data")
    write_delivery(
        root.inbox,
        "2020-01",
        {
            "visitation": [visitation(f"V-{c}", c, "2020-01-06T09:00:00") for c in KBH]
            + [
                visitation(f"V-{c}", c, "2020-01-06T09:00:00", "Aktivitetsparat", kommune=751)
                for c in AAR
            ],
            "aktivitet": ACTIVITIES,
            "ydelse": month_yr("2020-01"),
            "borger": RESIDENTS,
            "organisation": ORGS,
        },
    )
    write_delivery(root.inbox, "2020-02", february())
    report = load(root, out=lambda _: None)
    assert report.ok and report.loaded == MONTHS, report
    first = query_benchmark(root)
    write_delivery(root.inbox, "2020-02", february([yr(c, 101, 7, "Kontanthjælp") for c in NEW]))
    again = load(root, out=lambda _: None)
    assert again.ok and again.loaded == ["2020-02"], again
    # the re-sent January activity makes the rollout re-materialize 2020-01 too
    assert again.rollout == ("2020-01", "2020-02"), again
    return {"root": root, "first": first}


def row(df: pl.DataFrame, maaned: str, kommune: str, breakdown: str = "", value: str = "") -> dict:
    return df.filter(
        (pl.col("maaned") == maaned)
        & (pl.col("kommune") == kommune)
        & (pl.col("breakdown") == breakdown)
        & (pl.col("breakdown_vaerdi") == value)
    ).row(0, named=True)


def test_columns_are_the_published_tables(bench):
    df = query_benchmark(bench["root"])
    assert COLUMNS == PUBLISHED_COLUMNS
    assert df.schema == pl.Schema(COLUMNS)
    assert sorted(df["maaned"].unique()) == MONTHS  # the benchmark starts with 2020-01
    assert {"101", "751", "Hele landet"} <= set(df["kommune"])
    assert set(df["breakdown"]) == {
        "",
        "aktiveringstype",
        "beskaeftigelsesydelse",
        "visitationskategori",
    }
    hele = df.filter(pl.col("kommune") == "Hele landet")
    assert set(hele["kommunenavn"]) == {"Hele landet"}


def test_rows_are_sorted_with_hele_landet_last(bench):
    df = query_benchmark(bench["root"])
    key = df.select(
        "maaned",
        (pl.col("kommune") == "Hele landet").alias("hl"),
        "kommune",
        "breakdown",
        "breakdown_vaerdi",
    )
    assert key.rows() == sorted(key.rows())
    last = df.filter(pl.col("maaned") == "2020-01")["kommune"].to_list()
    assert last[-1] == "Hele landet" and last[0] == "101"


def test_kommune_filter(bench):
    root = bench["root"]
    df = query_benchmark(root, kommune=751)
    assert set(df["kommune"]) == {"751"} and set(df["kommunenavn"]) == {"Aarhus"}
    assert df.height == query_benchmark(root).filter(pl.col("kommune") == "751").height
    assert query_benchmark(root, kommune="101").equals(query_benchmark(root, kommune=101))
    assert set(query_benchmark(root, kommune="Hele landet")["kommune"]) == {"Hele landet"}
    # a municipality without recipients still has its (zero) rows
    none = query_benchmark(root, kommune="147")
    assert none.height > 0 and none["antal_ydelsesmodtagere"].sum() == 0
    with pytest.raises(QueryError, match="ukendt kommunekode"):
        query_benchmark(root, kommune=999)
    with pytest.raises(QueryError, match="--kommune skal være"):
        query_benchmark(root, kommune="Atlantis")


def test_breakdown_filter_keeps_the_total_rows(bench):
    root = bench["root"]
    df = query_benchmark(root, breakdown="visitationskategori", kommune=101)
    assert set(df["breakdown"]) == {"", "visitationskategori"}
    totals = df.filter(pl.col("breakdown") == "")
    assert totals.height == 2 and totals["breakdown_vaerdi"].to_list() == ["", ""]
    assert totals["antal_borgere_16_66"].null_count() == 0
    # breakdown rows have no 16-66 count and no andel_ydelsesmodtagere
    rows = df.filter(pl.col("breakdown") != "")
    assert rows["antal_borgere_16_66"].null_count() == rows.height
    assert rows["andel_ydelsesmodtagere"].null_count() == rows.height
    with pytest.raises(QueryError, match="ukendt breakdown 'aktivering'.*aktiveringstype"):
        query_benchmark(root, breakdown="aktivering")


def test_fra_til_select_months(bench):
    root = bench["root"]
    assert set(query_benchmark(root, fra="2020-02")["maaned"]) == {"2020-02"}
    assert set(query_benchmark(root, til="2020-01")["maaned"]) == {"2020-01"}
    assert set(query_benchmark(root, fra="2019-01", til="2020-12")["maaned"]) == set(MONTHS)
    empty = query_benchmark(root, til="2019-12")
    assert empty.height == 0 and empty.schema == pl.Schema(COLUMNS)
    with pytest.raises(QueryError, match="ligger efter"):
        query_benchmark(root, fra="2020-02", til="2020-01")


def test_each_published_month_carries_publiceret_and_revision_1(bench):
    first = bench["first"]
    per = first.group_by("maaned").agg(
        pl.col("revision").unique().alias("rev"), pl.col("publiceret").n_unique().alias("n")
    )
    assert sorted(per.rows()) == [("2020-01", [1], 1), ("2020-02", [1], 1)]
    assert first["publiceret"].null_count() == 0


def test_a_corrected_redelivery_republishes_the_affected_month_only(bench):
    first, now = bench["first"], query_benchmark(bench["root"])
    before = {m: first.filter(pl.col("maaned") == m) for m in MONTHS}
    after = {m: now.filter(pl.col("maaned") == m) for m in MONTHS}
    # 2020-01 is unchanged: same rows, same publication time, revision 1
    assert after["2020-01"].equals(before["2020-01"])
    # 2020-02 gained five recipients in København: revision 2, published again
    assert set(after["2020-02"]["revision"]) == {2}
    assert after["2020-02"]["publiceret"].min() > before["2020-02"]["publiceret"].max()

    def total(df: pl.DataFrame, kommune: str) -> int:
        return row(df, "2020-02", kommune)["antal_ydelsesmodtagere"]

    assert (total(before["2020-02"], "101"), total(after["2020-02"], "101")) == (12, 17)
    assert (total(before["2020-02"], "Hele landet"), total(after["2020-02"], "Hele landet")) == (
        20,
        25,
    )
    assert total(after["2020-02"], "751") == total(before["2020-02"], "751") == 8


def test_known_numbers_of_the_published_table(bench):
    df = bench["first"]
    # February has no count of 1-4: nothing is suppressed
    feb = df.filter(pl.col("maaned") == "2020-02")
    assert not feb.select(pl.col("^.*_undertrykt$").any()).row(0).count(True)
    kbh = row(df, "2020-02", "101")
    assert (
        kbh["antal_borgere_16_66"],
        kbh["antal_ydelsesmodtagere"],
        kbh["antal_aktiverede"],
        kbh["antal_aktiveringsforloeb"],
    ) == (40, 12, 6, 6)
    assert kbh["andel_ydelsesmodtagere"] == pytest.approx(12 / 40)
    assert kbh["aktiveringsgrad"] == pytest.approx(6 / 12)
    assert kbh["forloeb_pr_aktiveret"] == pytest.approx(1.0)
    assert row(df, "2020-02", "751")["antal_ydelsesmodtagere"] == 8
    # January: the single Sygedagpenge recipient makes København's cells suppressed (primary and
    # secondary); what is shown is right
    hele = row(df, "2020-01", "Hele landet")
    assert (hele["antal_borgere_16_66"], hele["antal_ydelsesmodtagere"]) == (60, 21)
    assert (hele["antal_aktiverede"], hele["antal_aktiveringsforloeb"]) == (11, 11)
    assert row(df, "2020-01", "101")["antal_borgere_16_66"] == 40
    for c in ("antal_ydelsesmodtagere", "antal_aktiverede", "aktiveringsgrad"):
        assert (df[c].is_null() | ~df[f"{c}_undertrykt"]).all()  # suppressed means null


def test_a_single_recipient_is_suppressed(bench):
    df = query_benchmark(bench["root"], kommune=101, breakdown="beskaeftigelsesydelse")
    sick = row(df, "2020-01", "101", "beskaeftigelsesydelse", "Sygedagpenge")
    assert sick["antal_ydelsesmodtagere"] is None and sick["antal_ydelsesmodtagere_undertrykt"]
    assert sick["aktiveringsgrad"] is None and sick["aktiveringsgrad_undertrykt"]
    # ... and shows as `..` in the table format, empty in csv
    one = df.filter(pl.col("breakdown_vaerdi") == "Sygedagpenge", pl.col("maaned") == "2020-01")
    (cells,) = table_cells(format_benchmark(one, "table"))
    assert cells["antal_ydelsesmodtagere"] == ".." and cells["aktiveringsgrad"] == ".."
    assert cells["antal_borgere_16_66"] == ""  # absent on a breakdown row, not suppressed
    assert cells["antal_aktiverede"] == "0"  # 0 is shown
    (text,) = DictReader(io.StringIO(format_benchmark(one, "csv")))
    assert text["antal_ydelsesmodtagere"] == ""
    assert text["antal_ydelsesmodtagere_undertrykt"] == "true"
    (obj,) = json.loads(format_benchmark(one, "json"))
    assert obj["antal_ydelsesmodtagere"] is None and obj["antal_ydelsesmodtagere_undertrykt"]
    assert obj["publiceret"].startswith("20") and obj["publiceret"].endswith("+00:00")


def table_cells(text: str) -> list[dict[str, str]]:
    """The rows of the aligned table format, cut at the column boundaries of the dash line."""
    lines = text.splitlines()
    header, dashes, body = lines[0], lines[1], lines[2:-1]
    spans, pos = [], 0
    for part in dashes.split("  "):
        spans.append((pos, pos + len(part)))
        pos += len(part) + 2
    names = [header[a:b].strip() for a, b in spans]
    return [{n: line[a:b].strip() for n, (a, b) in zip(names, spans, strict=True)} for line in body]


def test_table_format_shows_dots_and_percentages(bench):
    df = query_benchmark(bench["root"])
    cells = table_cells(format_benchmark(df, "table"))
    assert len(cells) == df.height
    assert "antal_ydelsesmodtagere_undertrykt" not in cells[0]
    for r, shown in zip(df.iter_rows(named=True), cells, strict=True):
        assert shown["kommune"] == r["kommune"] and shown["maaned"] == r["maaned"]
        for c in FIGURES:
            if r[f"{c}_undertrykt"]:
                assert shown[c] == ".."
            elif r[c] is None:
                assert shown[c] == ""
            elif c == "forloeb_pr_aktiveret":  # a ratio (courses per activated citizen)
                assert shown[c] == f"{r[c]:.2f}"
            else:
                assert shown[c] == f"{r[c] * 100:.1f} %"
        for c in ("antal_ydelsesmodtagere", "antal_aktiveringsforloeb"):
            assert shown[c] == (".." if r[f"{c}_undertrykt"] else str(r[c]))
    assert any(c["antal_ydelsesmodtagere"] == ".." for c in cells)
    # København in February after the correction: 17 recipients of 40, 6 of them activated
    kbh = next(
        c for c in cells if (c["maaned"], c["kommune"], c["breakdown"]) == ("2020-02", "101", "")
    )
    assert (kbh["antal_borgere_16_66"], kbh["antal_ydelsesmodtagere"]) == ("40", "17")
    assert (kbh["andel_ydelsesmodtagere"], kbh["aktiveringsgrad"]) == ("42.5 %", "35.3 %")
    assert kbh["forloeb_pr_aktiveret"] == "1.00" and kbh["revision"] == "2"
    # Sygedagpenge in January: one recipient in København
    sick = next(
        c for c in cells if (c["kommune"], c["breakdown_vaerdi"]) == ("101", "Sygedagpenge")
    )
    assert sick["maaned"] == "2020-01" and sick["antal_ydelsesmodtagere"] == ".."


# ---------------------------------------------------------------- dfdg query benchmark
def dfdg(*args: str, root: DataRoot) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dfdg_assets.cli", "query", "benchmark", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DFDG_DATA_ROOT": str(root.root)},
        timeout=120,
    )


def test_cli_csv_leaves_suppressed_cells_empty(bench):
    res = dfdg(
        "--kommune",
        "751",
        "--breakdown",
        "aktiveringstype",
        "--til",
        "2020-01",
        "--format",
        "csv",
        root=bench["root"],
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == ",".join(COLUMNS)
    csv = list(DictReader(io.StringIO(res.stdout)))
    df = query_benchmark(bench["root"], kommune=751, breakdown="aktiveringstype", til="2020-01")
    assert len(csv) == df.height and {r["kommune"] for r in csv} == {"751"}
    assert {r["maaned"] for r in csv} == {"2020-01"}
    assert {r["breakdown"] for r in csv} == {"", "aktiveringstype"}
    hidden = 0
    for text, r in zip(csv, df.iter_rows(named=True), strict=True):
        for c in ("antal_ydelsesmodtagere", "antal_aktiverede", "aktiveringsgrad"):
            if r[f"{c}_undertrykt"]:
                hidden += 1
                assert text[c] == "" and text[f"{c}_undertrykt"] == "true"
            elif r[c] is not None:
                assert float(text[c]) == pytest.approx(r[c])  # fractions, not percentages
    assert hidden > 0
    assert all(text["publiceret"] and text["revision"] == "1" for text in csv)


def test_cli_table_and_errors(bench):
    res = dfdg("--kommune", "101", "--fra", "2020-02", root=bench["root"])
    assert res.returncode == 0, res.stderr
    cells = table_cells(res.stdout)
    assert cells and {c["kommune"] for c in cells} == {"101"}
    assert {c["maaned"] for c in cells} == {"2020-02"}
    assert any(c["aktiveringsgrad"].endswith(" %") for c in cells)
    assert res.stdout.rstrip().endswith("rækker)")
    for args, needle in (
        (["--measure", "antal_aktiverede"], "--measure"),
        (["--breakdown", "kommune"], "ukendt breakdown"),
        (["--kommune", "999"], "ukendt kommunekode"),
        (["--format", "parquet"], "--out"),
    ):
        res = dfdg(*args, root=bench["root"])
        assert res.returncode == 2 and res.stdout == "", args
        assert res.stderr.count("\n") == 1 and needle in res.stderr, res.stderr


def test_cli_parquet(bench, tmp_path):
    out = tmp_path / "benchmark.parquet"
    res = dfdg(
        "--breakdown",
        "beskaeftigelsesydelse",
        "--format",
        "parquet",
        "--out",
        str(out),
        root=bench["root"],
    )
    assert res.returncode == 0, res.stderr
    assert pl.read_parquet(out).equals(
        query_benchmark(bench["root"], breakdown="beskaeftigelsesydelse")
    )


def test_the_new_query_paths_do_not_import_dagster(bench):
    code = (
        "import sys\n"
        "from dfdg_assets.cli import main\n"
        "a = main(['query', 'benchmark', '--kommune', '101', '--format', 'csv'])\n"
        "b = main(['query', 'ydelsesaktivitet', '--measure', 'antal_borgere,gns_refusionsprocent',"
        " '--by', 'maaned', '--format', 'csv'])\n"
        "print(a, b, sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'pyarrow')))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "DFDG_DATA_ROOT": str(bench["root"].root)},
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == "0 0 []"
    # the DFDG population (20 with a course; the 5 added recipients have none), all YR at 50 %
    assert "\n2020-02,20,50.0\n" in res.stdout
