"""The bus matrices of the queryable cubes (SPEC section 4, the seed's section 7.1) as data.

Which measure may be broken down by (or filtered on) which dimension, the attributes of every
dimension, and the kind of record each measure counts and each organisation role belongs to.
`check` refuses every query outside the matrix with an error naming the measure and the
dimension and attribute. The query engine (`dfdg_assets.cubes.query`) generates its SQL from
these tables, so the matrix is the one place a cube's shape is written down.

Two cubes (`CUBES`):

- `dfdg`: the module-level `MEASURES`, `ATTRIBUTES` and `DIMENSIONS` (the SPEC's table);
- `ydelsesaktivitet` (from 2020-01): `antal_borgere` by every dimension of `dfdg` it has there
  (so not the samtale ones) plus `beskaeftigelsesydelse` (the citizen-week's YR benefit, or
  `Uden ydelse i YR`), and `gns_refusionsprocent` (amount-weighted refund percentage of the YR
  rows) by `beskaeftigelsesydelse`, the municipality attributes (of the YR row) and time only.

Every function takes `cube=` (default `dfdg`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dfdg_assets.core.privacy import PersonalDataSafeError, safe_value
from dfdg_assets.ingest.contract import YR_FIRST_MONTH  # the YR-based cubes start with 2020-01 (R8)


class QueryError(PersonalDataSafeError):
    """A cube query that cannot be answered (outside the bus matrix, unknown name, bad value).

    The text names measures, dimensions and attributes only; user values pass through `safe_value`.
    """


# ------------------------------------------------------------------ kinds of record
COURSE = "visitationsforloeb"  # fct_visitation_uge: a visitation course in a week
ACTIVITY = "aktivitet"  # fct_aktivitet_uge: an activity in a week
CONVERSATION = "samtale"  # fct_samtale_uge: a held conversation (with its participants)
YR = "ydelse"  # stg_ydelse: a current YR row (citizen, week, benefit, amount, refund percentage)

KIND_TEXT = {
    COURSE: "visitationsforløb",
    ACTIVITY: "aktiveringsforløb",
    CONVERSATION: "samtaler",
    YR: "YR-rækker",
}


@dataclass(frozen=True)
class Attribute:
    """An attribute a query can break down by (`--by`) or filter on (`--where`).

    `kind` is the kind of record that carries it; None for the attributes every kind of record
    has (time, citizen, municipality), which are read from whichever records are counted.
    """

    name: str
    dimension: str
    kind: str | None = None
    integer: bool = False


@dataclass(frozen=True)
class Dimension:
    name: str
    attributes: tuple[str, ...]
    kind: str | None = None


@dataclass(frozen=True)
class Measure:
    """A measure, the kinds of record it counts, and the dimensions it may be broken down by."""

    name: str
    kinds: tuple[str, ...]
    dimensions: frozenset[str]
    description: str


# The dimensions and their attributes (SPEC section 4). Organisation is one dimension in several
# roles; the role attributes carry the kind of record the role belongs to.
DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in [
        Dimension(
            "aktivering",
            ("aktivitetsstatus", "aktivitetsaarsag", "aktiveringspuljenavn", "aktiveringstype"),
            ACTIVITY,
        ),
        Dimension("amu", ("uddannelseskode", "uddannelseskodetype", "uddannelsestitel"), ACTIVITY),
        Dimension("borger", ("cpr", "fuldenavn")),
        Dimension(
            "hjaelpemiddel",
            ("hjaelpemiddel_art", "hjaelpemiddel_type", "hjaelpemiddel_form"),
            ACTIVITY,
        ),
        Dimension("job", ("jobtype",), ACTIVITY),
        Dimension("kursus", ("kursusnavn",), ACTIVITY),
        Dimension(
            "organisation",
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
        ),
        Dimension(
            "personlig_assistance",
            ("stoetteperson_art", "stoetteperson_type", "assistance_afregningsstatus"),
            ACTIVITY,
        ),
        Dimension("samtale", ("samtaletype",), CONVERSATION),
        Dimension("samtale_deltager", ("deltagertype",), CONVERSATION),
        Dimension("samtale_kontaktform", ("kontaktform",), CONVERSATION),
        Dimension("statsligt_job", ("statsligt_job",), ACTIVITY),
        Dimension("tid", ("uge", "maaned", "kvartal", "aar")),
        Dimension("visitationsgruppe", ("ydelsesgruppe", "visitationskategori"), COURSE),
    ]
}

#: Organisation roles and the kind of record each belongs to.
ROLES: dict[str, str] = {
    "visiterende_organisation": COURSE,
    "ansvarlig_organisation": ACTIVITY,
    "aktiverende_organisation": ACTIVITY,
    "indkaldende_organisation": CONVERSATION,
}
#: The fact column holding each role's org_id.
ROLE_COLUMNS: dict[str, str] = {
    "visiterende_organisation": "visiterende_org_id",
    "ansvarlig_organisation": "ansvarlig_org_id",
    "aktiverende_organisation": "aktiverende_org_id",
    "indkaldende_organisation": "indkaldende_org_id",
}
#: The municipality attributes: the responsible municipality of the records counted.
KOMMUNE_ATTRIBUTES = ("kommunekode", "kommunenavn", "regionskode", "regionsnavn")
TIME_ATTRIBUTES = DIMENSIONS["tid"].attributes
_INTEGER = {"kommunekode", "regionskode", "aar"}


def _attributes() -> dict[str, Attribute]:
    out = {}
    for d in DIMENSIONS.values():
        for a in d.attributes:
            out[a] = Attribute(a, d.name, ROLES.get(a, d.kind), a in _INTEGER)
    return out


ATTRIBUTES: dict[str, Attribute] = _attributes()

_ALL = frozenset(DIMENSIONS)
_ACTIVITY_DIMS = frozenset(
    {
        "aktivering",
        "amu",
        "borger",
        "hjaelpemiddel",
        "job",
        "kursus",
        "organisation",
        "personlig_assistance",
        "statsligt_job",
        "tid",
    }
)

# The matrix itself: one row per measure, the dimensions marked X in its column.
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in [
        Measure(
            "antal_borgere",
            (COURSE, ACTIVITY),
            _ACTIVITY_DIMS | {"visitationsgruppe"},
            "distinct citizens in the period with the selected attributes",
        ),
        Measure(
            "antal_visitationsforloeb",
            (COURSE,),
            frozenset({"borger", "organisation", "tid", "visitationsgruppe"}),
            "distinct visitation courses in force in any week of the period",
        ),
        Measure(
            "antal_aktiveringsforloeb",
            (ACTIVITY,),
            _ACTIVITY_DIMS,
            "distinct activities in force in any week of the period",
        ),
        Measure(
            "hjaelpemiddeludgifter",
            (ACTIVITY,),
            _ACTIVITY_DIMS,
            "sum of hjaelpemiddel_udgift of distinct activities starting in a week of the period",
        ),
        Measure(
            "antal_dage_aktiveret",
            (ACTIVITY,),
            _ACTIVITY_DIMS,
            "days of activities falling in the period's weeks",
        ),
        Measure(
            "antal_timer_aktiveret_pr_uge",
            (ACTIVITY,),
            _ACTIVITY_DIMS,
            "sum of timer_pr_uge over distinct activities in force (once per breakdown member)",
        ),
        Measure(
            "antal_samtaler",
            (CONVERSATION,),
            frozenset(
                {
                    "borger",
                    "organisation",
                    "samtale",
                    "samtale_deltager",
                    "samtale_kontaktform",
                    "tid",
                }
            ),
            "distinct held conversations dated in the period",
        ),
    ]
}
assert all(m.dimensions <= _ALL for m in MEASURES.values())


# ------------------------------------------------------------------ ydelsesaktivitet
#: The YR benefit of a citizen-week (fct_borger_ydelse_uge) or of a YR row (stg_ydelse).
BENEFIT_DIMENSION = Dimension("beskaeftigelsesydelse", ("beskaeftigelsesydelse",))
_SAMTALE_DIMS = frozenset({"samtale", "samtale_deltager", "samtale_kontaktform"})

YA_DIMENSIONS: dict[str, Dimension] = {**DIMENSIONS, BENEFIT_DIMENSION.name: BENEFIT_DIMENSION}
YA_ATTRIBUTES: dict[str, Attribute] = {
    **ATTRIBUTES,
    "beskaeftigelsesydelse": Attribute("beskaeftigelsesydelse", BENEFIT_DIMENSION.name),
}
YA_MEASURES: dict[str, Measure] = {
    m.name: m
    for m in [
        Measure(
            "antal_borgere",
            (COURSE, ACTIVITY),
            (MEASURES["antal_borgere"].dimensions - _SAMTALE_DIMS) | {BENEFIT_DIMENSION.name},
            "distinct citizens in the period with the selected attributes (and YR benefit)",
        ),
        Measure(
            "gns_refusionsprocent",
            (YR,),
            frozenset({BENEFIT_DIMENSION.name, "organisation", "tid"}),
            "sum(udbetalt_beloeb * refusionsprocent) / sum(udbetalt_beloeb) over the YR rows "
            "with a percentage",
        ),
    ]
}


@dataclass(frozen=True)
class Cube:
    """One queryable cube: its matrix, and the first month it holds (None: the whole window)."""

    name: str
    measures: Mapping[str, Measure]
    attributes: Mapping[str, Attribute]
    dimensions: Mapping[str, Dimension]
    first_month: str | None = None


CUBES: dict[str, Cube] = {
    "dfdg": Cube("dfdg", MEASURES, ATTRIBUTES, DIMENSIONS),
    "ydelsesaktivitet": Cube(
        "ydelsesaktivitet", YA_MEASURES, YA_ATTRIBUTES, YA_DIMENSIONS, YR_FIRST_MONTH
    ),
}
for _c in CUBES.values():
    assert all(m.dimensions <= set(_c.dimensions) for m in _c.measures.values())
    # an attribute means the same in every cube that has it
    assert all(ATTRIBUTES.get(a, x) == x for a, x in _c.attributes.items())


def get_cube(name: str) -> Cube:
    if name not in CUBES:
        raise _unknown("kube", name, CUBES)
    return CUBES[name]


def allowed(measure: str, attribute: str, cube: str = "dfdg") -> bool:
    """Whether `measure` may be broken down by (or filtered on) `attribute` in `cube`."""
    c = get_cube(cube)
    try:
        _refusal(c, c.measures[measure], c.attributes[attribute], "opdeles efter")
    except QueryError:
        return False
    return True


def cells(cube: str = "dfdg") -> list[tuple[str, str, bool]]:
    """Every (measure, attribute, allowed) cell of the cube's matrix, in a stable order."""
    c = get_cube(cube)
    return [(m, a, allowed(m, a, cube)) for m in c.measures for a in c.attributes]


def _unknown(what: str, name: str, known: Iterable[str]) -> QueryError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (mente du {close[0]}?)" if close else ""
    return QueryError(f"ukendt {what} {safe_value(name)}{hint}; kendte: {', '.join(known)}")


def _elsewhere(what: str, name: str, c: Cube, known: Iterable[str]) -> QueryError | None:
    """A measure or attribute of another cube: say so, rather than 'unknown'."""
    others = [
        o.name
        for o in CUBES.values()
        if o.name != c.name and name in (o.measures if what == "måltal" else o.attributes)
    ]
    if not others:
        return None
    return QueryError(
        f"{what} {name} findes ikke i kuben {c.name} (kun i {', '.join(others)}); "
        f"kendte: {', '.join(known)}"
    )


def measure(name: str, cube: str = "dfdg") -> Measure:
    c = get_cube(cube)
    if name not in c.measures:
        raise _elsewhere("måltal", name, c, c.measures) or _unknown("måltal", name, c.measures)
    return c.measures[name]


def attribute(name: str, cube: str = "dfdg") -> Attribute:
    c = get_cube(cube)
    if name not in c.attributes:
        raise _elsewhere("attribut", name, c, c.attributes) or _unknown(
            "attribut", name, c.attributes
        )
    return c.attributes[name]


def _refusal(c: Cube, m: Measure, a: Attribute, verb: str) -> None:
    where = "" if c.name == "dfdg" else f" i kuben {c.name}"
    if a.dimension not in m.dimensions:
        raise QueryError(
            f"{m.name} kan ikke {verb} {a.name}: dimensionen {a.dimension} er ikke i "
            f"busmatricen for {m.name}{where}"
        )
    if a.kind is not None and a.kind not in m.kinds:
        raise QueryError(
            f"{m.name} kan ikke {verb} {a.name}: rollen {a.name} (dimensionen {a.dimension}) "
            f"hører til {KIND_TEXT[a.kind]}, som {m.name} ikke tæller{where}"
        )


def check(
    measures: Iterable[str],
    by: Iterable[str] = (),
    where: Mapping[str, object] | Iterable[str] | None = None,
    cube: str = "dfdg",
) -> None:
    """Raise `QueryError` for an unknown measure or attribute, or any (measure, attribute)
    combination outside the cube's bus matrix, `--where` attributes included."""
    c = get_cube(cube)
    ms = [measure(m, c.name) for m in measures]
    if not ms:
        raise QueryError("angiv mindst ét måltal; kendte: " + ", ".join(c.measures))
    by_attrs = [attribute(a, c.name) for a in by]
    where_attrs = [attribute(a, c.name) for a in (where or ())]
    for m in ms:
        for a in by_attrs:
            _refusal(c, m, a, "opdeles efter")
        for a in where_attrs:
            _refusal(c, m, a, "filtreres på")
