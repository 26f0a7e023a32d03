"""Every cell of the dfdg bus matrix (SPEC section 4): the allowed (measure, attribute) pairs
answer on a small loaded warehouse, by `--by` and by `--where`; all others are refused with an
error naming both. The expected matrix is written out here from the SPEC, independently of
`dfdg_assets.cubes.busmatrix`."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from dfdg_assets.core.privacy import PersonalDataSafeError
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.cubes import busmatrix
from dfdg_assets.cubes.busmatrix import QueryError, check
from dfdg_assets.cubes.query import query_dfdg
from dfdg_assets.orchestration.loader import load
from dfdg_assets_tests.deliveries import borger, visitation, write_delivery
from dfdg_assets_tests.measures import DFDG_MEASURES

CPR = "6101801234"

# ---------------------------------------------------------------- the SPEC's table, verbatim
B, VF, AF, HU, DG, TI, SA = DFDG_MEASURES
MEASURES = [B, VF, AF, HU, DG, TI, SA]
ACT = {B, AF, HU, DG, TI}
SPEC_MATRIX: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "aktivering": (
        ("aktivitetsstatus", "aktivitetsaarsag", "aktiveringspuljenavn", "aktiveringstype"),
        ACT,
    ),
    "amu": (("uddannelseskode", "uddannelseskodetype", "uddannelsestitel"), ACT),
    "borger": (("cpr", "fuldenavn"), set(MEASURES)),
    "hjaelpemiddel": (("hjaelpemiddel_art", "hjaelpemiddel_type", "hjaelpemiddel_form"), ACT),
    "job": (("jobtype",), ACT),
    "kursus": (("kursusnavn",), ACT),
    "organisation": (
        (
            "ansvarlig_organisation",
            "aktiverende_organisation",
            "visiterende_organisation",
            "indkaldende_organisation",
            "kommunekode",
            "kommunenavn",
            "regionskode",
            "regionsnavn",
        ),
        set(MEASURES),
    ),
    "personlig_assistance": (
        ("stoetteperson_art", "stoetteperson_type", "assistance_afregningsstatus"),
        ACT,
    ),
    "samtale": (("samtaletype",), {SA}),
    "samtale_deltager": (("deltagertype",), {SA}),
    "samtale_kontaktform": (("kontaktform",), {SA}),
    "statsligt_job": (("statsligt_job",), ACT),
    "tid": (("uge", "maaned", "kvartal", "aar"), set(MEASURES)),
    "visitationsgruppe": (("ydelsesgruppe", "visitationskategori"), {B, VF}),
}
# organisation roles: the kind of record each belongs to, and the kinds each measure counts
ROLE_KIND = {
    "visiterende_organisation": "course",
    "ansvarlig_organisation": "activity",
    "aktiverende_organisation": "activity",
    "indkaldende_organisation": "conversation",
}
MEASURE_KINDS = {
    B: {"course", "activity"},
    VF: {"course"},
    AF: {"activity"},
    HU: {"activity"},
    DG: {"activity"},
    TI: {"activity"},
    SA: {"conversation"},
}
DIMENSION_OF = {a: d for d, (attrs, _) in SPEC_MATRIX.items() for a in attrs}
ATTRIBUTES = list(DIMENSION_OF)


def expected_allowed(measure: str, attr: str) -> bool:
    if measure not in SPEC_MATRIX[DIMENSION_OF[attr]][1]:
        return False
    return attr not in ROLE_KIND or ROLE_KIND[attr] in MEASURE_KINDS[measure]


CELLS = [(m, a) for m in MEASURES for a in ATTRIBUTES]
ALLOWED = [c for c in CELLS if expected_allowed(*c)]
REFUSED = [c for c in CELLS if not expected_allowed(*c)]


# ---------------------------------------------------------------- a small loaded warehouse
def _activity() -> dict:
    return {
        "aktivitet_id": "A1",
        "cpr": CPR,
        "kommunekode": 101,
        "ansvarlig_org_id": "JC101",
        "aktiverende_org_id": "AA1",
        "startdato": "2020-11-03",
        "slutdato": "2020-11-20",
        "aktiveringstype": "Virksomhedspraktik",
        "aktivitetsstatus": "Igangværende",
        "aktivitetsaarsag": "Ret og pligt",
        "aktiveringspuljenavn": "Pulje Nord",
        "jobtype": "Privat",
        "statsligt_job": "Nej",
        "uddannelseskode": "40001",
        "uddannelseskodetype": "AMU",
        "kursusnavn": "Svejsekursus",
        "timer_pr_uge": 25,
        "hjaelpemiddel_art": "Arbejdsredskaber",
        "hjaelpemiddel_type": "Værktøj",
        "hjaelpemiddel_form": "Tilskud",
        "hjaelpemiddel_udgift": 1200,
        "stoetteperson_art": "Personlig assistance",
        "stoetteperson_type": "Handicap",
        "assistance_afregningsstatus": "Afregnet",
        "assistance_refunderet_udgift": 300,
    }


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    root = DataRoot.of(tmp_path_factory.mktemp("busmatrix") / "data")
    write_delivery(
        root.inbox,
        "2020-11",
        {
            "visitation": [visitation("V1", CPR, "2020-11-02T09:00:00")],
            "aktivitet": [_activity()],
            "samtale": [
                {
                    "samtale_id": "S1",
                    "cpr": CPR,
                    "kommunekode": 101,
                    "samtaledato": "2020-11-05",
                    "samtaletype": "Jobsamtale",
                    "kontaktform": "Personlig kontakt",
                    "samtalestatus": "Afholdt",
                    "indkaldende_org_id": "AK1",
                }
            ],
            "samtale_deltager": [{"samtale_id": "S1", "deltagertype": "Mentor"}],
            "borger": [borger(CPR, "Bo Matrix")],
            "organisation": [
                {
                    "org_id": "JC101",
                    "org_navn": "Jobcenter København",
                    "org_type": "Jobcenter",
                    "kommunekode": 101,
                },
                {
                    "org_id": "AA1",
                    "org_navn": "Aktør Aps",
                    "org_type": "Anden aktør",
                    "kommunekode": None,
                },
                {
                    "org_id": "AK1",
                    "org_navn": "A-kassen",
                    "org_type": "A-kasse",
                    "kommunekode": None,
                },
            ],
            "uddannelse": [
                {"uddannelseskode": "40001", "uddannelseskodetype": "AMU", "titel": "Svejsning"}
            ],
        },
    )
    report = load(root, out=lambda _: None)
    assert report.ok and report.loaded == ["2020-11"]
    c = duckdb.connect(str(root.catalogue), read_only=True)
    yield c
    c.close()


# ---------------------------------------------------------------- the matrix as data
def test_the_matrix_module_holds_the_specs_table():
    assert set(busmatrix.MEASURES) == set(MEASURES)
    assert set(busmatrix.ATTRIBUTES) == set(ATTRIBUTES)
    assert {d: set(x.attributes) for d, x in busmatrix.DIMENSIONS.items()} == {
        d: set(attrs) for d, (attrs, _) in SPEC_MATRIX.items()
    }
    got = {(m, a) for m, a, ok in busmatrix.cells() if ok}
    assert got == set(ALLOWED)
    assert len(ATTRIBUTES) == 35 and len(ALLOWED) + len(REFUSED) == 7 * 35
    kinds = {
        busmatrix.COURSE: "course",
        busmatrix.ACTIVITY: "activity",
        busmatrix.CONVERSATION: "conversation",
    }
    assert {r: kinds[k] for r, k in busmatrix.ROLES.items()} == ROLE_KIND
    assert {m: {kinds[k] for k in x.kinds} for m, x in busmatrix.MEASURES.items()} == MEASURE_KINDS


def test_query_error_is_personal_data_safe():
    assert issubclass(QueryError, PersonalDataSafeError)


# ---------------------------------------------------------------- every allowed cell answers
@pytest.mark.parametrize(("measure", "attr"), ALLOWED)
def test_allowed_cell_answers_by_and_where(con, measure, attr):
    by = query_dfdg(con, [measure], [attr])
    assert by.columns == [attr, measure]
    assert by.height >= 1 and by[measure].sum() > 0, by
    # the loaded records carry a value for every attribute: no null group here
    assert by[attr].null_count() == 0, by
    # --where on the same attribute and its value gives that row's number
    value, number = by.row(0)
    where = query_dfdg(con, [measure], where={attr: [str(value)]})
    assert where.columns == [measure]
    assert where[measure].to_list() == [number]
    if attr in ("kommunekode", "kommunenavn", "regionskode", "regionsnavn"):
        with pytest.raises(QueryError, match="ingen tom gruppe"):  # every record has one
            query_dfdg(con, [measure], where={attr: [""]})
    else:
        none = query_dfdg(con, [measure], where={attr: [""]})  # the (empty) null group
        assert none[measure].to_list() == [0]


def test_labels_of_the_looked_up_attributes(con):
    labels = {
        "ansvarlig_organisation": "Jobcenter København",
        "aktiverende_organisation": "Aktør Aps",
        "uddannelsestitel": "Svejsning",
        "kommunenavn": "København",
        "regionsnavn": "Region Hovedstaden",
        "regionskode": 1084,
        "cpr": CPR,
        "fuldenavn": "Bo Matrix",
        "kvartal": "2020K4",
        "aar": 2020,
    }
    for attr, label in labels.items():
        df = query_dfdg(con, [AF], [attr])
        assert df.rows() == [(label, 1)], attr
    assert query_dfdg(con, [VF], ["visiterende_organisation"]).rows() == [
        ("Jobcenter København", 1)
    ]
    assert query_dfdg(con, [SA], ["indkaldende_organisation", "deltagertype"]).rows() == [
        ("A-kassen", "Mentor", 1)
    ]
    # an organisation can be filtered on by its id as well as its name
    assert query_dfdg(con, [AF], where={"aktiverende_organisation": ["AA1"]})[AF].to_list() == [1]


# ---------------------------------------------------------------- every other cell is refused
@pytest.mark.parametrize(("measure", "attr"), REFUSED)
def test_refused_cell_names_measure_and_attribute(con, measure, attr):
    with pytest.raises(QueryError) as by:
        query_dfdg(con, [measure], [attr])
    with pytest.raises(QueryError) as where:
        query_dfdg(con, [measure], where={attr: ["x"]})
    for err, verb in ((by, "opdeles efter"), (where, "filtreres på")):
        text = str(err.value)
        assert measure in text and attr in text and verb in text
        assert DIMENSION_OF[attr] in text
    # also when combined with an allowed measure: the query is refused as a whole
    other = next(m for m in MEASURES if expected_allowed(m, attr))
    with pytest.raises(QueryError, match=measure):
        query_dfdg(con, [other, measure], [attr])


@pytest.mark.parametrize(
    ("measure", "role"),
    [
        (VF, "aktiverende_organisation"),
        (VF, "ansvarlig_organisation"),
        (VF, "indkaldende_organisation"),
        (B, "indkaldende_organisation"),
        (AF, "visiterende_organisation"),
        (TI, "indkaldende_organisation"),
        (SA, "visiterende_organisation"),
        (SA, "ansvarlig_organisation"),
    ],
)
def test_a_role_with_a_measure_whose_records_lack_it_is_refused(measure, role):
    with pytest.raises(QueryError, match=f"{measure} kan ikke opdeles efter {role}: rollen"):
        check([measure], [role])
    with pytest.raises(QueryError, match=f"{measure} kan ikke filtreres på {role}"):
        check([measure], (), {role: ["x"]})


def test_kommune_attributes_are_allowed_wherever_organisation_is():
    for m in MEASURES:
        check([m], ["kommunekode", "kommunenavn", "regionskode", "regionsnavn"])
        check([m], (), {"kommunenavn": ["København"], "regionsnavn": ["Region Hovedstaden"]})


def test_unknown_names_are_errors_before_any_warehouse_is_opened(tmp_path):
    nowhere = tmp_path / "nothing"
    with pytest.raises(QueryError, match="ukendt måltal 'antal_borger'.*antal_borgere"):
        query_dfdg(nowhere, ["antal_borger"])
    with pytest.raises(QueryError, match="ukendt attribut 'visitationskat'"):
        query_dfdg(nowhere, [B], ["visitationskat"])
    with pytest.raises(QueryError, match="ukendt attribut 'region'"):
        query_dfdg(nowhere, [B], where={"region": ["x"]})
    with pytest.raises(QueryError, match="mindst ét måltal"):
        check([], ["maaned"])
    with pytest.raises(QueryError, match="intet katalog"):
        query_dfdg(nowhere, [B], ["maaned"])


def test_bad_values_are_one_clear_error(con):
    with pytest.raises(QueryError, match="kommunekode skal være et heltal"):
        query_dfdg(con, [B], kommune="abc")
    with pytest.raises(QueryError, match="ukendt kommunekode"):
        query_dfdg(con, [B], kommune=999)
    with pytest.raises(QueryError, match="ukendt kommunenavn"):
        query_dfdg(con, [B], where={"kommunenavn": ["Atlantis"]})
    with pytest.raises(QueryError, match="aar skal være et heltal"):
        query_dfdg(con, [B], where={"aar": ["tyve"]})
    with pytest.raises(QueryError, match="ugyldig --fra"):
        query_dfdg(con, [B], fra="2020-13")
    with pytest.raises(QueryError, match="ligger efter"):
        query_dfdg(con, [B], fra="2020-12", til="2020-11")
    # a value with a quote is data, not SQL
    assert query_dfdg(con, [AF], where={"kursusnavn": ["O'Brien"]})[AF].to_list() == [0]
    # a CPR-like value never reaches an error text
    with pytest.raises(QueryError) as err:
        query_dfdg(con, [B], kommune=CPR + "x")
    assert CPR not in str(err.value)


def test_frame_types(con):
    df = query_dfdg(con, MEASURES[:-1], ["aar", "kommunekode", "maaned"])
    assert df.schema == pl.Schema(
        {
            "aar": pl.Int32,
            "kommunekode": pl.Int32,
            "maaned": pl.String,
            B: pl.Int64,
            VF: pl.Int64,
            AF: pl.Int64,
            HU: pl.Float64,
            DG: pl.Int64,
            TI: pl.Float64,
        }
    )
    assert df.rows() == [(2020, 101, "2020-11", 1, 1, 1, 1200.0, 18, 25.0)]
