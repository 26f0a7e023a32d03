"""Row-level faults (R12), in-file R3, the 1 % rule and its explicit override."""

import polars as pl
import pytest

from dfdg_assets.ingest import contract
from dfdg_assets.ingest.rows import CONFLICT, check_rows
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.loader import load
from dfdg_assets.raw.assets import TAG_ACCEPTED
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.deliveries import borger, visitation, write_delivery

CPR = "6101801234"  # substitute number, born 1980-01-01
CPR2 = "6202851234"


def _text(rows: list[dict], spec=contract.VISITATION) -> pl.DataFrame:
    df = pl.DataFrame(
        [{c: (None if r.get(c) is None else str(r[c])) for c in spec.column_names} for r in rows],
        schema={c: pl.String for c in spec.column_names},
    )
    return df.with_row_index("linje", offset=2).with_columns(pl.col("linje").cast(pl.Int32))


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"cpr": "3102801234"}, "ugyldigt CPR-nummer"),  # 31 February
        ({"cpr": "6101301234"}, None),  # 1930 substitute number: valid
        ({"cpr": "610180123"}, "ugyldigt CPR-nummer"),
        (
            {"cpr": "0101205000"},
            "ugyldigt CPR-nummer",
        ),  # born 2020-01-01 (digit 7 = 5): fine... see below
        (
            {"visitationstidspunkt": "2020-10-32T10:00:00"},
            "ugyldigt tidspunkt i visitationstidspunkt",
        ),
        ({"visitationstidspunkt": "2020-10-05"}, "ugyldigt tidspunkt i visitationstidspunkt"),
        ({"kommunekode": "999"}, "ukendt kommunekode"),
        ({"kommunekode": "1O1"}, "ugyldigt heltal i kommunekode"),
        ({"visitationskategori": None}, "mangler værdi i visitationskategori"),
    ],
)
def test_visitation_row_faults(change, reason):
    row = visitation("V1", CPR, "2020-10-05T09:00:00") | change
    if change.get("cpr") == "0101205000":
        # born 2020-01-01 is fine in 2020-10, but in a delivery for 2019-12 it lies in the future
        checked = check_rows(contract.VISITATION, "2019-12", _text([row]))
    else:
        checked = check_rows(contract.VISITATION, "2020-10", _text([row]))
    if reason is None:
        assert checked.rows.height == 1 and checked.rejected.height == 0
    else:
        assert checked.rows.height == 0
        assert checked.rejected["aarsag"].to_list() == [reason]
        assert checked.rejected["linje"].to_list() == [2]
        assert checked.rejected_by_reason == {reason: 1}


def _activity(**kw) -> dict:
    base = {c: None for c in contract.AKTIVITET.column_names}
    base.update(
        aktivitet_id="A1",
        cpr=CPR,
        kommunekode=101,
        ansvarlig_org_id="JC101",
        startdato="2020-10-12",
        slutdato="2020-10-26",
        aktiveringstype="Virksomhedspraktik",
        aktivitetsstatus="Optaget",
    )
    base.update(kw)
    return base


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"slutdato": "2020-10-11"}, "slutdato før startdato"),
        ({"slutdato": None}, None),
        ({"timer_pr_uge": "200"}, "timer_pr_uge uden for 0-168"),
        ({"timer_pr_uge": "37,5"}, "ugyldigt tal i timer_pr_uge"),
        ({"hjaelpemiddel_udgift": "-2500"}, None),  # a negative amount is a correction
        ({"startdato": "2020-02-30"}, "ugyldig dato i startdato"),
    ],
)
def test_activity_row_faults(change, reason):
    checked = check_rows(
        contract.AKTIVITET, "2020-10", _text([_activity(**change)], contract.AKTIVITET)
    )
    if reason is None:
        assert checked.rejected.height == 0 and checked.rows.height == 1
    else:
        assert checked.rejected["aarsag"].to_list() == [reason]


def test_refusionsprocent_range_and_week_labels():
    rows = [
        {
            "cpr": CPR,
            "kommunekode": 101,
            "uge": "2020-W53",
            "beskaeftigelsesydelse": "Kontanthjælp",
            "udbetalt_beloeb": "3000",
            "refusionsprocent": "150",
        },
        {
            "cpr": CPR,
            "kommunekode": 101,
            "uge": "2021-W53",
            "beskaeftigelsesydelse": "Kontanthjælp",
            "udbetalt_beloeb": "3000",
            "refusionsprocent": "50",
        },
        {
            "cpr": CPR,
            "kommunekode": 101,
            "uge": "2020-W53",
            "beskaeftigelsesydelse": "Kontanthjælp",
            "udbetalt_beloeb": "3000",
            "refusionsprocent": "50",
        },
    ]
    checked = check_rows(contract.YDELSE, "2021-01", _text(rows, contract.YDELSE))
    assert checked.rejected["aarsag"].to_list() == [
        "refusionsprocent uden for 0-100",
        "ugyldig ISO-uge i uge",
    ]
    assert checked.rows["uge"].to_list() == ["2020-W53"]


def test_exact_duplicates_collapse_and_conflicts_are_rejected():
    v1 = visitation("V1", CPR, "2020-10-05T09:00:00")
    v2 = visitation("V2", CPR2, "2020-10-06T09:00:00")
    v2b = v2 | {"visitationskategori": "Aktivitetsparat"}
    checked = check_rows(contract.VISITATION, "2020-10", _text([v1, v1, v1, v2, v2b]))
    assert checked.exact_duplicates == 2
    assert checked.rows["visitation_id"].to_list() == ["V1"]
    assert checked.rejected["linje"].to_list() == [5, 6]
    assert set(checked.rejected["aarsag"]) == {CONFLICT}
    assert checked.delivered == 5 and checked.rejected.height == 2


def test_unknown_code_values_load_with_a_warning():
    rows = [
        visitation("V1", CPR, "2020-10-05T09:00:00", kategori="Helt ny kategori"),
        visitation("V2", CPR2, "2020-10-05T09:00:00", kategori="Kategori 1", gruppe="Kontanthjælp"),
    ]
    checked = check_rows(contract.VISITATION, "2020-10", _text(rows))
    assert checked.rows.height == 2 and checked.rejected.height == 0
    assert checked.unknown_values["visitationskategori"] == {"Helt ny kategori": 1}
    assert checked.unknown_values["(ydelsesgruppe, visitationskategori)"] == {
        "Kontanthjælp / Helt ny kategori": 1,
        "Kontanthjælp / Kategori 1": 1,
    }


def _many(n_good: int, n_bad: int) -> list[dict]:
    good = [
        visitation(f"V{i}", CPR, f"2020-10-{1 + i % 28:02d}T09:{i % 60:02d}:00")
        for i in range(n_good)
    ]
    bad = [visitation(f"X{i}", "3102801234", "2020-10-05T09:00:00") for i in range(n_bad)]
    return good + bad


@pytest.mark.parametrize("n_good, n_bad, held", [(99, 1, False), (198, 2, False), (99, 2, True)])
def test_one_percent_rule(n_good, n_bad, held):
    checked = check_rows(contract.VISITATION, "2020-10", _text(_many(n_good, n_bad)))
    assert checked.over_threshold is held  # rejected × 100 > rows delivered


def test_held_delivery_publishes_nothing_until_accepted(root):
    write_delivery(root.inbox, "2020-10", {"visitation": _many(99, 2), "borger": [borger(CPR)]})
    lines: list[str] = []
    report = load(root, out=lines.append)
    assert list(report.failed) == ["2020-10"]
    assert (
        "holdt tilbage" in report.failed["2020-10"]
        and "visitation: 2 af 101" in report.failed["2020-10"]
    )
    assert "3102801234" not in " ".join(lines)
    wh = Warehouse(root.warehouse)
    assert wh.partitions("raw_visitation") == []

    # a plain reload holds it back again; an operator accepts it explicitly
    assert load(root, out=lambda _: None).loaded == []
    report = load(root, accept={"2020-10"}, out=lambda _: None)
    assert report.loaded == ["2020-10"]
    assert wh.read("raw_visitation").height == 99
    rejected = wh.read("raw_afviste_raekker")
    assert rejected.height == 2 and set(rejected["aarsag"]) == {"ugyldigt CPR-nummer"}
    runs = open_instance(root).get_runs()
    accepted = [r for r in runs if r.tags.get(TAG_ACCEPTED) == "ja"]
    assert len(accepted) == 1
    assert (
        accepted[0].run_config["ops"]["raw_levering"]["config"]["accepter_afviste_raekker"] is True
    )


def test_a_row_rejected_for_its_own_fault_conflicts_with_nothing():
    """R3: conflicts are judged among rows that pass their own checks; the valid row stands."""
    good = visitation("V1", CPR, "2020-10-05T09:00:00")
    faulty = good | {"visitationstidspunkt": "ikke en dato"}
    checked = check_rows(contract.VISITATION, "2020-10", _text([faulty, good]))
    assert checked.rows["visitation_id"].to_list() == ["V1"]
    assert checked.rows["linje"].to_list() == [3]
    assert checked.rejected["linje"].to_list() == [2]
    assert CONFLICT not in set(checked.rejected["aarsag"])


def test_borger_is_keyed_by_cpr_the_same_way():
    a = borger(CPR, "A")
    b = borger(CPR, "B")
    checked = check_rows(contract.BORGER, "2020-10", _text([a, b], contract.BORGER))
    assert checked.rows.height == 0 and set(checked.rejected["aarsag"]) == {CONFLICT}
    bad = borger(CPR, "C") | {"kommunekode": "ikke et tal"}
    checked = check_rows(contract.BORGER, "2020-10", _text([bad, a], contract.BORGER))
    assert checked.rows["fuldenavn"].to_list() == ["A"]
    assert CONFLICT not in set(checked.rejected["aarsag"])


def test_cpr_validity_by_arithmetic_equals_the_birth_date():
    """`valid_cpr_expr` (integer arithmetic on the digits) gives the same answer as building the
    birth date (SPEC section 2) for every day, month, year and digit 7, and for malformed text."""
    import datetime as dt

    from dfdg_assets.core.cpr import birth_date_expr, valid_cpr_expr

    values = [
        f"{dd:02d}{mm:02d}{yy:02d}{d7}123"
        for dd in range(100)
        for mm in range(14)
        for yy in (0, 4, 20, 21, 36, 37, 57, 58, 96, 99)
        for d7 in range(10)
    ] + ["123456789", "12345678901", "01011a1234", "+101901234", "-101901234", None, ""]
    df = pl.DataFrame({"c": values}, schema={"c": pl.String})
    c = pl.col("c")
    for not_after in (dt.date(2020, 12, 31), dt.date(2000, 2, 29), dt.date(2017, 1, 31)):
        dd = c.str.slice(0, 2).cast(pl.Int32, strict=False)
        born = birth_date_expr(c)
        by_date = (
            born.is_not_null()
            & (((dd >= 1) & (dd <= 31)) | ((dd >= 61) & (dd <= 91)))
            & (born <= pl.lit(not_after))
        ).fill_null(False)
        got = df.lazy().select(valid_cpr_expr(c, not_after).alias("a"), by_date.alias("b"))
        got = got.collect()
        assert got["a"].sum() > 1000
        assert (got["a"] == got["b"]).all()


def test_exact_duplicates_and_conflicts_far_apart_in_a_large_file():
    """Duplicates are found by hashing rows first: far-apart repeats, nulls and near-identical
    rows (one field differs) behave as an exact comparison would."""
    base = {
        "visitation_id": "V",
        "cpr": CPR,
        "kommunekode": "101",
        "visitationstidspunkt": "2020-10-05T10:00:00",
        "ydelsesgruppe": "Kontanthjælp",
        "visitationskategori": "Jobparat",
        "visiterende_org_id": None,
    }
    rows = [dict(base, visitation_id=f"V{i}") for i in range(5000)]
    rows.append(dict(base, visitation_id="V7"))  # exact duplicate of line 9: collapses
    rows.append(dict(base, visitation_id="V11", visiterende_org_id="X"))  # conflicts with V11
    rows.append(dict(base, visitation_id="V7"))  # another exact duplicate
    c = check_rows(contract.VISITATION, "2020-10", _text(rows))
    assert c.exact_duplicates == 2
    assert sorted(c.rejected["linje"].to_list()) == [13, 5003]
    assert set(c.rejected["aarsag"]) == {CONFLICT}
    assert c.rows.height == 4999
    assert c.rows["linje"].to_list() == [i + 2 for i in range(5000) if i != 11]
