"""The dfdg cube query: the SPEC section 8 worked example (all of its numbers), the precise
readings of SPEC section 4 on hand-made deliveries, and `dfdg query` as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.cubes.query import format_result, query_dfdg
from dfdg_assets.orchestration.loader import load
from dfdg_assets_tests.conftest import clone_root
from dfdg_assets_tests.deliveries import borger, visitation, write_delivery
from dfdg_assets_tests.measures import DFDG_MEASURES

ALL = list(DFDG_MEASURES)


def rows(df: pl.DataFrame) -> list[tuple]:
    return df.rows()


# ================================================================ the worked example (SPEC 8)
@pytest.fixture(scope="module")
def worked(tmp_path_factory, worked_through_october) -> dict:
    """The worked example loaded through 2020-10 (answers kept), then through 2020-11."""
    first = worked_through_october.report  # the session's load through 2020-10, copied
    root = clone_root(worked_through_october.root, tmp_path_factory.mktemp("worked") / "data")
    assert first.ok and first.loaded == ["2020-10"] and first.rollout == ("2020-10", "2020-10")
    through_october = {
        "uge_kategori": query_dfdg(root, ["antal_borgere"], ["uge", "visitationskategori"]),
        "maaned": query_dfdg(root, ALL, ["maaned"]),
    }
    second = load(root, out=lambda _: None)
    assert second.ok and second.loaded == ["2020-11"] and second.rollout[1] == "2020-11"
    return {"root": root, "through_october": through_october}


def test_worked_loaded_through_october_by_week_and_category(worked):
    df = worked["through_october"]["uge_kategori"]
    assert df.columns == ["uge", "visitationskategori", "antal_borgere"]
    # V3 beats V2 on 10-14 (same-day rule): no Aktivitetsparat in W42
    assert rows(df) == [
        ("2020-W41", "Jobparat", 1),
        ("2020-W42", "Jobparat", 1),
        ("2020-W43", "Aktivitetsparat", 1),
        ("2020-W43", "Jobparat", 1),
    ]
    # the open course C3 rolls out to the weeks of October only
    assert rows(worked["through_october"]["maaned"].select("maaned", "antal_borgere")) == [
        ("2020-10", 1)
    ]


def test_worked_through_november_by_week_and_category(worked):
    df = query_dfdg(worked["root"], ["antal_borgere"], ["uge", "visitationskategori"])
    assert rows(df) == [
        ("2020-W41", "Jobparat", 1),
        ("2020-W42", "Jobparat", 1),
        ("2020-W43", "Aktivitetsparat", 1),
        ("2020-W43", "Jobparat", 1),
        ("2020-W44", "Aktivitetsparat", 1),
        ("2020-W45", "Aktivitetsparat", 1),  # nothing after: V5 Afmeldt on 11-04 ends C3
    ]


def test_worked_by_month_every_measure(worked):
    df = query_dfdg(worked["root"], ALL, ["maaned"])
    assert df.columns == ["maaned", *ALL]
    assert rows(df) == [
        # borgere, visit.forløb, akt.forløb, hj.udgift, dage, timer, samtaler
        ("2020-10", 1, 3, 1, 2500.0, 14, 30.0, 1),  # 14 days: 10-12..10-25
        ("2020-11", 1, 1, 1, 0.0, 1, 30.0, 0),  # 1 day: Monday 10-26 is in W44
    ]


def test_worked_by_quarter(worked):
    df = query_dfdg(
        worked["root"], ["antal_timer_aktiveret_pr_uge", "antal_dage_aktiveret"], ["kvartal"]
    )
    assert rows(df) == [("2020K4", 30.0, 15)]


def test_worked_courses_by_month_and_category(worked):
    df = query_dfdg(worked["root"], ["antal_visitationsforloeb"], ["maaned", "visitationskategori"])
    assert rows(df) == [
        ("2020-10", "Aktivitetsparat", 1),
        ("2020-10", "Jobparat", 2),
        ("2020-11", "Aktivitetsparat", 1),
    ]


def test_worked_citizens_by_category_and_activity_type(worked):
    df = query_dfdg(
        worked["root"], ["antal_borgere"], ["maaned", "visitationskategori", "aktiveringstype"]
    )
    assert rows(df) == [
        ("2020-10", "Aktivitetsparat", "Virksomhedspraktik", 1),
        ("2020-10", "Jobparat", "Virksomhedspraktik", 1),
        ("2020-11", "Aktivitetsparat", "Virksomhedspraktik", 1),  # A1 ends Monday 10-26: W44
    ]


def test_worked_conversations_by_participant(worked):
    df = query_dfdg(worked["root"], ["antal_samtaler"], ["maaned", "deltagertype"])
    assert rows(df) == [("2020-10", "Mentor", 1)]  # S2 was cancelled


def test_worked_catalogue_file_and_connection_give_the_same(worked):
    import duckdb

    root = worked["root"]
    a = query_dfdg(root, ALL, ["maaned"])
    assert_frame_equal(query_dfdg(root.catalogue, ALL, ["maaned"]), a)
    assert_frame_equal(query_dfdg(str(root.root), ALL, ["maaned"]), a)
    con = duckdb.connect(str(root.catalogue), read_only=True)
    try:
        assert_frame_equal(query_dfdg(con, ALL, ["maaned"]), a)
    finally:
        con.close()


# ================================================================ hand-made deliveries
def cpr(i: int) -> str:
    """A valid substitute CPR number (day + 60), born 1980-01-(1 + i)."""
    return f"{61 + i:02d}0180" + "1234"


P1, P2, P3, P4, P5, P6, P7, P8 = (cpr(i) for i in range(1, 9))


def act(
    aid: str,
    who: str,
    start: str,
    end: str | None,
    kommune: int = 101,
    typ: str = "Virksomhedspraktik",
    timer: float | None = None,
    udgift: float | None = None,
    art: str | None = None,
) -> dict:
    return {
        "aktivitet_id": aid,
        "cpr": who,
        "kommunekode": kommune,
        "ansvarlig_org_id": "JC101",
        "startdato": start,
        "slutdato": end,
        "aktiveringstype": typ,
        "aktivitetsstatus": "Igangværende",
        "timer_pr_uge": timer,
        "hjaelpemiddel_art": art,
        "hjaelpemiddel_form": "Tilskud" if art else None,
        "hjaelpemiddel_udgift": udgift,
    }


def talk(sid: str, who: str, dato: str, status: str = "Afholdt") -> dict:
    return {
        "samtale_id": sid,
        "cpr": who,
        "kommunekode": 101,
        "samtaledato": dato,
        "samtaletype": "Jobsamtale",
        "kontaktform": "Telefon",
        "samtalestatus": status,
        "indkaldende_org_id": "JC101",
    }


@pytest.fixture(scope="module")
def hand(tmp_path_factory) -> DataRoot:
    """One delivery (data month 2021-01) carrying every scenario back to 2020-10; each
    scenario is its own citizen, so a test isolates it with --where cpr=..."""
    root = DataRoot.of(tmp_path_factory.mktemp("hand") / "data")
    write_delivery(
        root.inbox,
        "2021-01",
        {
            "visitation": [
                # P1: a course in Frederiksberg (147) and an activity of Ballerup (151)
                visitation("V-P1", P1, "2020-11-02T09:00:00", kommune=147),
                # P2: a course in W45-W46 (ended by Afmeldt on Monday 11-16), an activity in W48
                visitation("V-P2", P2, "2020-11-02T09:00:00"),
                visitation("V-P2-af", P2, "2020-11-16T09:00:00", kategori="Afmeldt"),
                # P4 and P8: open courses from October and November
                visitation("V-P4", P4, "2020-10-05T09:00:00"),
                visitation("V-P8", P8, "2020-11-09T09:00:00", kategori="Aktivitetsparat"),
                # P7: a course from Monday 2020-12-28, the first day of 2020-W53 (2021-01)
                visitation("V-P7", P7, "2020-12-28T09:00:00"),
            ],
            "aktivitet": [
                act("A-P1", P1, "2020-11-02", "2020-11-15", kommune=151),
                act("A-P2", P2, "2020-11-23", "2020-11-29", typ="Nytteindsats"),
                # P3: expenses in the week of startdato only (Sunday 11-29 is in W48, 2020-11)
                act("A-P3", P3, "2020-11-29", "2020-12-15", udgift=1000, art="Arbejdsredskaber"),
                act("A-P3b", P3, "2020-10-20", "2020-11-10", udgift=500, art="Arbejdsredskaber"),
                # P5: 20 hours a week over three months, and an activity without hours
                act("A-P5", P5, "2020-10-19", "2020-12-06", timer=20, art="Arbejdsredskaber"),
                act("A-P5b", P5, "2020-11-02", "2020-11-08", typ="Mentor"),
                act("A-P7", P7, "2020-12-28", "2020-12-31"),
            ],
            "samtale": [
                # P6 has conversations only: no course, no activity
                talk("S-P6a", P6, "2020-11-10"),
                talk("S-P6b", P6, "2020-11-12", status="Aflyst"),
                talk("S-P6c", P6, "2020-12-01"),  # held, without participants
            ],
            "samtale_deltager": [
                {"samtale_id": "S-P6a", "deltagertype": "Mentor"},
                {"samtale_id": "S-P6a", "deltagertype": "A-kassekonsulent"},
                {"samtale_id": "S-P6b", "deltagertype": "Mentor"},
            ],
            "borger": [
                borger(c, f"Borger {i}") for i, c in enumerate([P1, P2, P3, P4, P5, P6, P7, P8])
            ],
            "organisation": [
                {
                    "org_id": "JC101",
                    "org_navn": "Jobcenter København",
                    "org_type": "Jobcenter",
                    "kommunekode": 101,
                }
            ],
        },
    )
    report = load(root, out=lambda _: None)
    assert report.ok and report.loaded == ["2021-01"] and report.rollout == ("2020-10", "2021-01")
    return root


def q(root, measures, by=(), who=None, **kw) -> list[tuple]:
    where = dict(kw.pop("where", {}))
    if who:
        where["cpr"] = who if isinstance(who, list) else [who]
    return rows(
        query_dfdg(
            root, measures if isinstance(measures, list) else [measures], list(by), where, **kw
        )
    )


def test_citizen_in_two_municipalities_counts_in_both_and_once_overall(hand):
    nov = {"fra": "2020-11", "til": "2020-11"}
    assert q(hand, "antal_borgere", ["uge", "kommunekode"], P1, **nov) == [
        ("2020-W45", 147, 1),
        ("2020-W45", 151, 1),
        ("2020-W46", 147, 1),
        ("2020-W46", 151, 1),
        ("2020-W47", 147, 1),
        ("2020-W48", 147, 1),
    ]
    assert q(hand, "antal_borgere", ["uge"], P1, **nov) == [
        (f"2020-W{w}", 1) for w in (45, 46, 47, 48)
    ]
    both = {"kommunekode": ["147", "151"]}
    assert q(hand, "antal_borgere", ["maaned"], where=both, **nov) == [("2020-11", 1)]
    assert q(hand, "antal_borgere", ["kommunenavn"], where=both, **nov) == [
        ("Ballerup", 1),
        ("Frederiksberg", 1),
    ]
    assert q(hand, "antal_borgere", ["maaned"], kommune=151, **nov) == [("2020-11", 1)]
    # visitation and activity attributes together: in the same week, and, when a municipality
    # is selected, in the same municipality
    assert q(hand, "antal_borgere", ["visitationskategori", "aktiveringstype"], P1) == [
        ("Jobparat", "Virksomhedspraktik", 1)
    ]
    assert (
        q(hand, "antal_borgere", ["kommunekode", "visitationskategori", "aktiveringstype"], P1)
        == []
    )
    assert (
        q(hand, "antal_borgere", ["visitationskategori", "aktiveringstype"], P1, kommune=147) == []
    )
    assert q(hand, "antal_borgere", ["visitationskategori"], P1, kommune=147) == [("Jobparat", 1)]


def test_visitation_and_activity_attributes_need_the_same_week(hand):
    assert q(hand, "antal_borgere", ["maaned", "visitationskategori"], P2) == [
        ("2020-11", "Jobparat", 1)
    ]
    assert q(hand, "antal_borgere", ["maaned", "aktiveringstype"], P2) == [
        ("2020-11", "Nytteindsats", 1)
    ]
    # both in November, never in the same week
    assert q(hand, "antal_borgere", ["maaned", "visitationskategori", "aktiveringstype"], P2) == []
    assert q(hand, "antal_borgere", ["uge", "visitationskategori"], P2) == [
        ("2020-W45", "Jobparat", 1),
        ("2020-W46", "Jobparat", 1),
    ]
    # a --where on a visitation attribute is a selected visitation attribute too
    assert (
        q(
            hand,
            "antal_borgere",
            ["aktiveringstype"],
            P2,
            where={"visitationskategori": ["Jobparat"]},
        )
        == []
    )
    assert q(hand, "antal_borgere", ["uge"], P2) == [
        ("2020-W45", 1),
        ("2020-W46", 1),
        ("2020-W48", 1),
    ]


def test_aid_expenses_count_in_the_week_of_startdato_only(hand):
    m = ["antal_aktiveringsforloeb", "hjaelpemiddeludgifter"]
    assert q(hand, m, ["maaned"], P3) == [
        ("2020-10", 1, 500.0),
        ("2020-11", 2, 1000.0),  # A-P3 starts Sunday 11-29: W48, which belongs to 2020-11
        ("2020-12", 1, 0.0),
    ]
    assert q(hand, "hjaelpemiddeludgifter", ["uge"], P3, fra="2020-11", til="2020-11") == [
        ("2020-W44", 0.0),
        ("2020-W45", 0.0),
        ("2020-W46", 0.0),
        ("2020-W48", 1000.0),
    ]
    assert q(hand, m, [], P3, fra="2020-12") == [(1, 0.0)]  # in force, but started before
    assert q(hand, "hjaelpemiddeludgifter", ["kvartal"], P3) == [("2020K4", 1500.0)]
    assert q(hand, "hjaelpemiddeludgifter", ["hjaelpemiddel_art"], P3) == [
        ("Arbejdsredskaber", 1500.0)
    ]


def test_a_month_counts_distinct_citizens_not_the_sum_of_its_weeks(hand):
    both = [P4, P8]
    weeks = q(hand, "antal_borgere", ["uge"], both, fra="2020-11", til="2020-11")
    # 2020-11 holds W44 (10-26..11-01) to W48; P8 starts Monday 11-09 (W46)
    assert weeks == [
        ("2020-W44", 1),
        ("2020-W45", 1),
        ("2020-W46", 2),
        ("2020-W47", 2),
        ("2020-W48", 2),
    ]
    assert q(hand, "antal_borgere", ["maaned"], both, fra="2020-11", til="2020-11") == [
        ("2020-11", 2)
    ]
    assert sum(n for _, n in weeks) == 8
    # without --fra/--til: every loaded week
    assert q(hand, ["antal_borgere", "antal_visitationsforloeb"], ["maaned"], both) == [
        ("2020-10", 1, 1),
        ("2020-11", 2, 2),
        ("2020-12", 2, 2),
        ("2021-01", 2, 2),
    ]
    assert q(hand, "antal_borgere", ["kvartal"], both) == [("2020K4", 2), ("2021K1", 2)]
    assert q(hand, "antal_borgere", ["aar"], both) == [(2020, 2), (2021, 2)]
    assert q(hand, "antal_borgere", ["kvartal", "visitationskategori"], both) == [
        ("2020K4", "Aktivitetsparat", 1),
        ("2020K4", "Jobparat", 1),
        ("2021K1", "Aktivitetsparat", 1),
        ("2021K1", "Jobparat", 1),
    ]


def test_hours_are_added_once_per_month_and_once_for_the_quarter(hand):
    m = ["antal_aktiveringsforloeb", "antal_timer_aktiveret_pr_uge", "antal_dage_aktiveret"]
    assert q(hand, m, ["maaned"], P5) == [
        ("2020-10", 1, 20.0, 7),  # W43
        ("2020-11", 2, 20.0, 42),  # W44-W48 of A-P5 and the week of A-P5b (no hours)
        ("2020-12", 1, 20.0, 7),  # W49 (11-30..12-06)
    ]
    assert q(hand, m, ["kvartal"], P5) == [("2020K4", 2, 20.0, 56)]
    assert q(hand, "antal_timer_aktiveret_pr_uge", ["uge"], P5, fra="2020-11", til="2020-11") == [
        (f"2020-W{w}", 20.0) for w in (44, 45, 46, 47, 48)
    ]
    assert q(hand, "antal_timer_aktiveret_pr_uge", ["aktiveringstype"], P5) == [
        ("Mentor", 0.0),
        ("Virksomhedspraktik", 20.0),
    ]


def test_conversations_of_citizens_without_a_course_count(hand):
    assert q(hand, ["antal_samtaler", "antal_borgere"], ["maaned"], P6) == [
        ("2020-11", 1, 0),  # S-P6b was cancelled
        ("2020-12", 1, 0),
    ]
    # by participant through the bridge: S-P6c has no participants, so no deltagertype row
    assert q(hand, "antal_samtaler", ["maaned", "deltagertype"], P6) == [
        ("2020-11", "A-kassekonsulent", 1),
        ("2020-11", "Mentor", 1),
    ]
    assert q(hand, "antal_samtaler", [], P6) == [(2,)]
    assert q(hand, "antal_samtaler", ["kontaktform", "samtaletype"], P6) == [
        ("Telefon", "Jobsamtale", 2)
    ]


def test_a_null_attribute_forms_a_null_group(hand):
    m = ["antal_aktiveringsforloeb", "antal_timer_aktiveret_pr_uge"]
    assert q(hand, m, ["hjaelpemiddel_art"], P5) == [("Arbejdsredskaber", 1, 20.0), (None, 1, 0.0)]
    assert q(hand, m, [], P5, where={"hjaelpemiddel_art": [""]}) == [(1, 0.0)]
    df = query_dfdg(hand, m, ["hjaelpemiddel_art"], {"cpr": [P5]})
    assert format_result(df, "csv") == (
        "hjaelpemiddel_art,antal_aktiveringsforloeb,antal_timer_aktiveret_pr_uge\n"
        "Arbejdsredskaber,1,20.0\n"
        ",1,0.0\n"
    )
    assert json.loads(format_result(df, "json"))[1] == {
        "hjaelpemiddel_art": None,
        "antal_aktiveringsforloeb": 1,
        "antal_timer_aktiveret_pr_uge": 0.0,
    }
    # courses have no hjælpemiddel attributes: P1's course is no null-group member of them
    assert q(hand, "antal_borgere", ["hjaelpemiddel_art"], P1) == [(None, 1)]  # from the activity


def test_fra_til_select_weeks_by_the_month_they_belong_to(hand):
    jan = {"fra": "2021-01", "til": "2021-01"}
    assert q(hand, "antal_borgere", ["uge"], P7, **jan) == [
        ("2020-W53", 1),  # 2020-12-28..2021-01-03 belongs to 2021-01
        ("2021-W01", 1),
        ("2021-W02", 1),
        ("2021-W03", 1),
        ("2021-W04", 1),
    ]
    assert q(hand, "antal_borgere", ["uge"], P7, fra="2020-12", til="2020-12") == []
    assert q(
        hand, ["antal_borgere", "antal_dage_aktiveret"], [], P7, fra="2020-12", til="2020-12"
    ) == [(0, 0)]
    assert q(hand, "antal_dage_aktiveret", ["maaned", "uge"], P7) == [("2021-01", "2020-W53", 4)]
    assert q(hand, "antal_borgere", ["maaned"], P7) == [("2021-01", 1)]
    assert q(hand, "antal_borgere", ["maaned"], P7, where={"uge": ["2020-W53"]}) == [("2021-01", 1)]
    assert q(hand, "antal_borgere", ["kvartal", "aar"], P7, where={"aar": ["2021"]}) == [
        ("2021K1", 2021, 1)
    ]


def test_several_measures_are_joined_on_the_attributes(hand):
    df = query_dfdg(hand, ALL[:-1] + ["antal_samtaler"], ["maaned", "cpr"], {"cpr": [P3, P6]})
    assert df.columns == ["maaned", "cpr", *ALL]
    got = {(r["maaned"], r["cpr"]): r for r in df.to_dicts()}
    assert set(got) == {
        ("2020-10", P3),
        ("2020-11", P3),
        ("2020-12", P3),
        ("2020-11", P6),
        ("2020-12", P6),
    }
    assert (
        got[("2020-11", P6)]["antal_samtaler"] == 1 and got[("2020-11", P6)]["antal_borgere"] == 0
    )
    assert (
        got[("2020-11", P3)]["antal_borgere"] == 1 and got[("2020-11", P3)]["antal_samtaler"] == 0
    )
    assert df.select("maaned", "cpr").rows() == sorted(got)


# ================================================================ dfdg query (subprocess)
def dfdg(*args: str, root: DataRoot) -> subprocess.CompletedProcess:
    env = {**os.environ, "DFDG_DATA_ROOT": str(root.root)}
    return subprocess.run(
        [sys.executable, "-m", "dfdg_assets.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_csv_has_a_header_and_sorted_rows(worked):
    res = dfdg(
        "query",
        "dfdg",
        "--measure",
        "antal_borgere",
        "--by",
        "uge,visitationskategori",
        "--format",
        "csv",
        root=worked["root"],
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "uge,visitationskategori,antal_borgere"
    assert lines[1:] == sorted(lines[1:])
    assert lines[1:] == [
        "2020-W41,Jobparat,1",
        "2020-W42,Jobparat,1",
        "2020-W43,Aktivitetsparat,1",
        "2020-W43,Jobparat,1",
        "2020-W44,Aktivitetsparat,1",
        "2020-W45,Aktivitetsparat,1",
    ]
    again = dfdg(
        "query",
        "dfdg",
        "--measure",
        "antal_borgere,antal_visitationsforloeb",
        "--measure",
        "hjaelpemiddeludgifter",
        "--by",
        "maaned",
        "--kommune",
        "101",
        "--fra",
        "2020-11",
        "--format",
        "csv",
        root=worked["root"],
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        "maaned,antal_borgere,antal_visitationsforloeb,hjaelpemiddeludgifter\n2020-11,1,1,0.0\n"
    )


def test_cli_json_is_an_array_of_row_objects(worked):
    res = dfdg(
        "query",
        "dfdg",
        "--measure",
        "antal_samtaler",
        "--by",
        "maaned,deltagertype",
        "--where",
        "kontaktform=Personlig kontakt",
        "--format",
        "json",
        root=worked["root"],
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [
        {"maaned": "2020-10", "deltagertype": "Mentor", "antal_samtaler": 1}
    ]


def test_cli_parquet_to_a_file(worked, tmp_path):
    out = tmp_path / "svar.parquet"
    res = dfdg(
        "query",
        "dfdg",
        "--measure",
        ",".join(ALL),
        "--by",
        "maaned",
        "--format",
        "parquet",
        "--out",
        str(out),
        root=worked["root"],
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert_frame_equal(pl.read_parquet(out), query_dfdg(worked["root"], ALL, ["maaned"]))


def test_cli_table(worked):
    res = dfdg(
        "query",
        "dfdg",
        "--measure",
        "antal_borgere,hjaelpemiddeludgifter",
        "--by",
        "maaned",
        root=worked["root"],
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["maaned", "antal_borgere", "hjaelpemiddeludgifter"]
    assert lines[2].split() == ["2020-10", "1", "2500"]
    assert lines[3].split() == ["2020-11", "1", "0"]
    assert lines[-1] == "(2 rækker)"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--measure", "antal_visitationsforloeb", "--by", "aktiverende_organisation"],
            "antal_visitationsforloeb kan ikke opdeles efter aktiverende_organisation",
        ),
        (
            ["--measure", "antal_samtaler", "--where", "aktiveringstype=Mentor"],
            "antal_samtaler kan ikke filtreres på aktiveringstype",
        ),
        (["--measure", "antal_borgere", "--format", "parquet"], "--out"),
        (["--measure", "antal_borgere", "--where", "maaned"], "ATTRIBUT=VÆRDI"),
        (["--by", "maaned"], "--measure"),
    ],
)
def test_cli_errors_are_one_line_exit_2(worked, args, needle):
    res = dfdg("query", "dfdg", *args, root=worked["root"])
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("dfdg"), res.stderr
    assert needle in res.stderr


def test_cli_unknown_cube_and_measures_on_the_benchmark_are_refused(worked):
    for cube in ("benchmark", "nope"):
        res = dfdg("query", cube, "--measure", "antal_borgere", root=worked["root"])
        assert res.returncode == 2 and res.stderr.count("\n") == 1


def test_cli_query_does_not_import_dagster(worked):
    # nor pyarrow or numpy: each import is paid by every `dfdg query` process (numpy ~0.06 s)
    code = (
        "import sys\n"
        "from dfdg_assets.cli import main\n"
        "rc = main(['query', 'dfdg', '--measure', 'antal_borgere', '--by', 'maaned', '--format', 'csv'])\n"
        "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'pyarrow', 'numpy')))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "DFDG_DATA_ROOT": str(worked["root"].root)},
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == "0 []"
    assert "2020-10,1" in res.stdout
    # and nothing in cubes/ imports Dagster at all
    cubes = Path(__file__).resolve().parents[1] / "dfdg_assets" / "cubes"
    for f in cubes.glob("*.py"):
        assert "dagster" not in f.read_text(encoding="utf-8").replace("Dagster", ""), f


def test_cli_csv_is_utf8_whatever_the_locale(worked):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dfdg_assets.cli",
            "query",
            "dfdg",
            "--data-root",  # also accepted after the command
            str(worked["root"].root),
            "--measure",
            "antal_aktiveringsforloeb",
            "--by",
            "ansvarlig_organisation,kommunenavn",
            "--format",
            "csv",
        ],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "latin-1", "DFDG_DATA_ROOT": "/nonexistent"},
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode("utf-8") == (
        "ansvarlig_organisation,kommunenavn,antal_aktiveringsforloeb\n"
        "Jobcenter København,København,1\n"
    )
