"""The ydelsesaktivitet cube (SPEC section 4, R3 for YR rows, R8): antal_borgere by the YR
benefit of the citizen-week, the amount-weighted refund percentage, the 2020-01 start, and its
bus matrix, on two hand-made monthly deliveries (2020-01 and 2020-02, loaded together)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.cubes import busmatrix
from dfdg_assets.cubes.busmatrix import QueryError, check
from dfdg_assets.cubes.query import format_result, query_dfdg, query_ydelsesaktivitet
from dfdg_assets.orchestration.loader import load
from dfdg_assets_tests.deliveries import borger, visitation, write_delivery

B, R = "antal_borgere", "gns_refusionsprocent"
UDEN = "Uden ydelse i YR"


def cpr(i: int) -> str:
    """A valid substitute CPR number (day + 60), born 1980-01-(1 + i)."""
    return f"{61 + i:02d}0180" + "1234"


# A: a course from December 2019, one YR week. B: two benefits in one week and an activity.
# C: a YR week re-sent (another benefit) by the next delivery. D, F, G: YR rows only, outside
# the DFDG population. E: a course in Frederiksberg, the benefit paid by København.
A, B_, C, D, E, F, G = (cpr(i) for i in range(1, 8))


def yr(who: str, uge: str, ydelse: str, beloeb: float, pct: float | None, kommune=101) -> dict:
    return {
        "cpr": who,
        "kommunekode": kommune,
        "uge": uge,
        "beskaeftigelsesydelse": ydelse,
        "udbetalt_beloeb": beloeb,
        "refusionsprocent": pct,
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> DataRoot:
    root = DataRoot.of(tmp_path_factory.mktemp("ydelsesaktivitet") / "data")
    residents = [borger(c, f"Borger {i}") for i, c in enumerate([A, B_, C, D, E, F, G])]
    write_delivery(
        root.inbox,
        "2020-01",
        {
            "visitation": [
                visitation("V-A", A, "2019-12-02T09:00:00"),
                visitation("V-B", B_, "2020-01-06T09:00:00", kategori="Aktivitetsparat"),
                visitation("V-C", C, "2020-01-06T09:00:00"),
                visitation("V-E", E, "2020-01-06T09:00:00", kommune=147),
            ],
            "aktivitet": [
                {
                    "aktivitet_id": "A-B",
                    "cpr": B_,
                    "kommunekode": 101,
                    "ansvarlig_org_id": "JC101",
                    "startdato": "2020-01-13",
                    "slutdato": "2020-01-19",
                    "aktiveringstype": "Virksomhedspraktik",
                    "aktivitetsstatus": "Igangværende",
                }
            ],
            "ydelse": [
                yr(A, "2019-W51", "Kontanthjælp", 500, 0),  # a week of 2019-12: not in the cube
                yr(A, "2020-W02", "Kontanthjælp", 1000, 50),
                yr(D, "2020-W02", "Kontanthjælp", 3000, 100),  # D is outside the population
                yr(B_, "2020-W03", "Kontanthjælp", 2000, 50),
                yr(B_, "2020-W03", "Personligt tillæg", 500, None),
                yr(C, "2020-W04", "A-dagpenge", 2000, 0),  # replaced by the next delivery
                yr(E, "2020-W02", "Sygedagpenge", 1000, 20),
                # F: 1000 at 50 %, 4000 at 100 %, a correction of -1000 at 100 %, and 5000
                # without a percentage (left out): (50000 + 400000 - 100000) / 4000 = 87.5
                yr(F, "2020-W02", "Ledighedsydelse", 1000, 50, kommune=147),
                yr(F, "2020-W03", "Ledighedsydelse", 4000, 100, kommune=147),
                yr(F, "2020-W04", "Ledighedsydelse", -1000, 100, kommune=147),
                yr(F, "2020-W04", "Ledighedsydelse", 5000, None, kommune=147),
                # G: the amounts sum to 0
                yr(G, "2020-W02", "Særlig støtte", 500, 50, kommune=151),
                yr(G, "2020-W03", "Særlig støtte", -500, 50, kommune=151),
            ],
            "borger": residents,
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
    write_delivery(
        root.inbox,
        "2020-02",
        {
            "ydelse": [
                # re-sends C's week 2020-W04 (which belongs to 2020-01): all its rows replaced
                yr(C, "2020-W04", "Sygedagpenge", 2000, 50),
                yr(C, "2020-W06", "Sygedagpenge", 2000, 50),
            ],
            "borger": residents,
        },
    )
    report = load(root, out=lambda _: None)
    assert report.ok and report.loaded == ["2020-01", "2020-02"], report
    assert report.rollout[0] <= "2019-12"
    return root


def q(root, measures, by=(), who=None, **kw) -> list[tuple]:
    where = dict(kw.pop("where", {}))
    if who:
        where["cpr"] = who if isinstance(who, list) else [who]
    return query_ydelsesaktivitet(
        root, measures if isinstance(measures, list) else [measures], list(by), where, **kw
    ).rows()


# ---------------------------------------------------------------- antal_borgere by benefit
def test_a_citizen_week_without_a_yr_row_is_uden_ydelse_i_yr(root):
    assert q(root, B, ["uge", "beskaeftigelsesydelse"], A, til="2020-01") == [
        ("2020-W01", UDEN, 1),  # 2019-12-30..2020-01-05 belongs to 2020-01
        ("2020-W02", "Kontanthjælp", 1),
        ("2020-W03", UDEN, 1),
        ("2020-W04", UDEN, 1),
    ]
    assert q(root, B, ["maaned", "beskaeftigelsesydelse"], A) == [
        ("2020-01", "Kontanthjælp", 1),
        ("2020-01", UDEN, 1),
        ("2020-02", UDEN, 1),
    ]
    assert q(root, B, ["maaned"], A, where={"beskaeftigelsesydelse": [UDEN]}) == [
        ("2020-01", 1),
        ("2020-02", 1),
    ]


def test_two_benefits_in_one_week_count_under_both_and_once_in_total(root):
    assert q(root, B, ["uge", "beskaeftigelsesydelse"], B_, where={"uge": ["2020-W03"]}) == [
        ("2020-W03", "Kontanthjælp", 1),
        ("2020-W03", "Personligt tillæg", 1),
    ]
    assert q(root, B, ["uge"], B_, where={"uge": ["2020-W03"]}) == [("2020-W03", 1)]
    assert q(root, B, ["maaned"], B_, til="2020-01") == [("2020-01", 1)]
    # with visitation and activity attributes: the week of the activity (W03) only
    assert q(root, B, ["visitationskategori", "aktiveringstype", "beskaeftigelsesydelse"], B_) == [
        ("Aktivitetsparat", "Virksomhedspraktik", "Kontanthjælp", 1),
        ("Aktivitetsparat", "Virksomhedspraktik", "Personligt tillæg", 1),
    ]
    # every citizen of the population in W03 once, each benefit of the week once per citizen
    assert q(root, B, ["beskaeftigelsesydelse"], where={"uge": ["2020-W03"]}) == [
        ("Kontanthjælp", 1),
        ("Personligt tillæg", 1),
        (UDEN, 3),  # A, C and E
    ]
    assert q(root, B, [], where={"uge": ["2020-W03"]}) == [(4,)]


def test_a_resent_yr_week_replaces_the_earlier_rows_of_that_citizen_week(root):
    assert q(root, B, ["uge", "beskaeftigelsesydelse"], C, where={"uge": ["2020-W04"]}) == [
        ("2020-W04", "Sygedagpenge", 1)
    ]
    assert q(root, B, [], where={"beskaeftigelsesydelse": ["A-dagpenge"]}) == [(0,)]
    benefits = [r[0] for r in q(root, R, ["beskaeftigelsesydelse"])]
    assert "A-dagpenge" not in benefits and "Sygedagpenge" in benefits
    # Sygedagpenge in 2020-01: E's 1000 at 20 % and C's re-sent 2000 at 50 %
    assert q(root, R, ["maaned"], where={"beskaeftigelsesydelse": ["Sygedagpenge"]}) == [
        ("2020-01", 40.0),
        ("2020-02", 50.0),
    ]


def test_kommunekode_of_citizens_is_the_course_or_activity_municipality(root):
    # E's course is in Frederiksberg (147); the benefit is paid by København (101)
    sick = {"beskaeftigelsesydelse": ["Sygedagpenge"]}
    assert q(root, B, ["kommunekode"], E, where=sick) == [(147, 1)]
    assert q(root, B, ["kommunekode"], E, where=sick, kommune=101) == []
    assert q(root, R, ["kommunenavn"], where=sick, til="2020-01") == [("København", 40.0)]
    assert q(root, R, ["kommunekode"], kommune=147) == [(147, 87.5)]


# ---------------------------------------------------------------- gns_refusionsprocent
def test_refund_percentage_is_weighted_by_the_amounts(root):
    w02 = {"uge": ["2020-W02"], "kommunekode": ["101"]}
    # 1000 kr at 50 % (A) and 3000 kr at 100 % (D, outside the population)
    assert q(root, [R, B], ["beskaeftigelsesydelse"], where=w02) == [
        ("Kontanthjælp", 87.5, 1),  # D counts in the percentage, not as a citizen
        ("Sygedagpenge", 20.0, 0),  # E's course is in 147
        (UDEN, None, 2),  # B and C (their courses start on Monday 2020-01-06, in W02)
    ]
    # a negative amount weighs as it is; a row without a percentage is left out
    assert q(root, R, ["beskaeftigelsesydelse"], where={"kommunenavn": ["Frederiksberg"]}) == [
        ("Ledighedsydelse", 87.5)
    ]
    assert q(root, R, ["uge"], kommune=147) == [
        ("2020-W02", 50.0),
        ("2020-W03", 100.0),
        ("2020-W04", 100.0),  # -1000 at 100 %; the 5000 without a percentage is left out
    ]


def test_refund_percentage_is_null_where_the_amounts_sum_to_zero(root):
    assert q(root, R, ["maaned", "beskaeftigelsesydelse"], kommune=151) == [
        ("2020-01", "Særlig støtte", None)
    ]
    assert q(root, R, ["uge"], kommune=151) == [("2020-W02", 50.0), ("2020-W03", 50.0)]
    # no row with a percentage at all: no value either
    assert q(root, [B, R], [], where={"beskaeftigelsesydelse": ["Personligt tillæg"]}) == [
        (1, None)
    ]
    df = query_ydelsesaktivitet(root, [R], ["kommunekode", "regionsnavn"], kommune=151)
    assert format_result(df, "csv") == (
        "kommunekode,regionsnavn,gns_refusionsprocent\n151,Region Hovedstaden,\n"
    )


def test_weeks_before_2020_01_are_not_in_the_cube(root):
    # the dfdg cube has A's December weeks; ydelsesaktivitet starts with 2020-01
    assert query_dfdg(root, [B], ["maaned"], {"cpr": [A]}).rows()[0] == ("2019-12", 1)
    assert q(root, B, ["maaned"], A) == [("2020-01", 1), ("2020-02", 1)]
    # a --fra before 2020-01 is clipped to it; a period wholly before it is empty
    assert q(root, [B, R], ["maaned"], fra="2019-06") == q(root, [B, R], ["maaned"])
    assert q(root, [B, R], ["maaned"], til="2019-12") == []
    assert q(root, [B, R], [], til="2019-12") == [(0, None)]
    assert q(root, B, ["uge"], where={"uge": ["2019-W51"]}) == []
    # the YR row of 2019-W51 (A, Kontanthjælp at 0 %) counts nowhere
    assert q(root, R, ["aar", "beskaeftigelsesydelse"], where={"kommunekode": ["101"]}) == [
        (2020, "Kontanthjælp", 75.0),  # A 1000 at 50, D 3000 at 100, B 2000 at 50
        (2020, "Sygedagpenge", (1000 * 20 + 2000 * 50 + 2000 * 50) / 5000),
    ]


# ---------------------------------------------------------------- the bus matrix
SAMTALE = {"samtaletype", "deltagertype", "kontaktform"}
REFUND_OK = {
    "beskaeftigelsesydelse",
    *busmatrix.KOMMUNE_ATTRIBUTES,
    "uge",
    "maaned",
    "kvartal",
    "aar",
}
YA_ATTRIBUTES = [*busmatrix.ATTRIBUTES, "beskaeftigelsesydelse"]


def expected_allowed(measure: str, attr: str) -> bool:
    if measure == B:
        return attr not in SAMTALE | {"indkaldende_organisation"}
    return attr in REFUND_OK


def test_the_ydelsesaktivitet_matrix():
    assert set(busmatrix.CUBES["ydelsesaktivitet"].measures) == {B, R}
    got = {(m, a): ok for m, a, ok in busmatrix.cells("ydelsesaktivitet")}
    assert got == {(m, a): expected_allowed(m, a) for m in (B, R) for a in YA_ATTRIBUTES}
    # the dfdg cube is unchanged and has no benefit attribute
    assert "beskaeftigelsesydelse" not in busmatrix.ATTRIBUTES
    assert R not in busmatrix.MEASURES


@pytest.mark.parametrize(
    ("measure", "attr"),
    [(m, a) for m in (B, R) for a in YA_ATTRIBUTES if not expected_allowed(m, a)],
)
def test_refused_cells_name_the_measure_and_the_attribute(measure, attr):
    for kw, verb in (({"by": [attr]}, "opdeles efter"), ({"where": {attr: ["x"]}}, "filtreres på")):
        with pytest.raises(QueryError) as err:
            check([measure], cube="ydelsesaktivitet", **kw)
        text = str(err.value)
        assert f"{measure} kan ikke {verb} {attr}" in text and "ydelsesaktivitet" in text


def test_refusals_on_a_loaded_warehouse(root):
    with pytest.raises(QueryError, match="gns_refusionsprocent kan ikke opdeles efter cpr"):
        query_ydelsesaktivitet(root, [B, R], ["cpr"])
    with pytest.raises(QueryError, match="gns_refusionsprocent kan ikke filtreres på aktiveringst"):
        query_ydelsesaktivitet(root, [R], where={"aktiveringstype": ["Mentor"]})
    with pytest.raises(QueryError, match="antal_borgere kan ikke opdeles efter deltagertype"):
        query_ydelsesaktivitet(root, [B], ["deltagertype"])
    with pytest.raises(QueryError, match="rollen visiterende_organisation"):
        query_ydelsesaktivitet(root, [R], ["visiterende_organisation"])
    with pytest.raises(QueryError, match="antal_samtaler findes ikke i kuben ydelsesaktivitet"):
        query_ydelsesaktivitet(root, ["antal_samtaler"])
    with pytest.raises(QueryError, match="beskaeftigelsesydelse findes ikke i kuben dfdg"):
        query_dfdg(root, [B], ["beskaeftigelsesydelse"])


@pytest.mark.parametrize("attr", sorted({a for a in YA_ATTRIBUTES if expected_allowed(R, a)}))
def test_allowed_refund_cells_answer(root, attr):
    df = query_ydelsesaktivitet(root, [R, B], [attr])
    assert df.columns == [attr, R, B] and df.height >= 1
    assert df[R].drop_nulls().len() >= 1


# ---------------------------------------------------------------- dfdg query ydelsesaktivitet
def dfdg(*args: str, root: DataRoot) -> subprocess.CompletedProcess:
    env = {**os.environ, "DFDG_DATA_ROOT": str(root.root)}
    return subprocess.run(
        [sys.executable, "-m", "dfdg_assets.cli", "query", "ydelsesaktivitet", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_csv(root):
    res = dfdg(
        "--measure",
        "antal_borgere,gns_refusionsprocent",
        "--by",
        "maaned,beskaeftigelsesydelse",
        "--kommune",
        "147",
        "--fra",
        "2019-01",
        "--format",
        "csv",
        root=root,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == (
        "maaned,beskaeftigelsesydelse,antal_borgere,gns_refusionsprocent\n"
        "2020-01,Ledighedsydelse,0,87.5\n"
        "2020-01,Sygedagpenge,1,\n"  # E's course is in 147; the benefit is paid by 101
        "2020-01,Uden ydelse i YR,1,\n"
        "2020-02,Uden ydelse i YR,1,\n"
    )


def test_cli_refusal_is_one_line_exit_2(root):
    res = dfdg("--measure", "gns_refusionsprocent", "--by", "visitationskategori", root=root)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1
    assert "gns_refusionsprocent kan ikke opdeles efter visitationskategori" in res.stderr
    res = dfdg("--measure", "antal_borgere", "--breakdown", "aktiveringstype", root=root)
    assert res.returncode == 2 and "--breakdown" in res.stderr
