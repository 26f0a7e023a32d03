"""The delivery contract (SPEC section 2): files, columns and their logical types.

Pure data, no I/O. Every part of the product that reads or writes delivery files
(the generator, ingestion, the DSA data package) takes the column lists from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Logical column types of the delivery format."""

    TEXT = "text"
    CPR = "cpr"
    INT = "int"
    DATE = "date"
    TIMESTAMP = "timestamp"
    DECIMAL = "decimal"
    WEEK = "week"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT
    nullable: bool = False


@dataclass(frozen=True)
class DeliveryFile:
    """One CSV file of a monthly delivery."""

    name: str  # file stem, e.g. "visitation"
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()  # record id used by R3 (empty: no id)
    snapshot: bool = False  # complete as of the end of the month (borger, organisation, uddannelse)
    first_month: str | None = None  # first data month the file is required ("YYYY-MM")

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def required_in(self, data_month: str) -> bool:
        return self.first_month is None or data_month >= self.first_month


def _c(name: str, kind: Kind = Kind.TEXT, nullable: bool = False) -> Column:
    return Column(name, kind, nullable)


T, CPR, INT, DATE, TS, DEC, WEEK = (
    Kind.TEXT,
    Kind.CPR,
    Kind.INT,
    Kind.DATE,
    Kind.TIMESTAMP,
    Kind.DECIMAL,
    Kind.WEEK,
)

VISITATION = DeliveryFile(
    "visitation",
    (
        _c("visitation_id"),
        _c("cpr", CPR),
        _c("kommunekode", INT),
        _c("visitationstidspunkt", TS),
        _c("ydelsesgruppe"),
        _c("visitationskategori"),
        _c("visiterende_org_id", nullable=True),
    ),
    key=("visitation_id",),
)

AKTIVITET = DeliveryFile(
    "aktivitet",
    (
        _c("aktivitet_id"),
        _c("cpr", CPR),
        _c("kommunekode", INT),
        _c("ansvarlig_org_id"),
        _c("aktiverende_org_id", nullable=True),
        _c("startdato", DATE),
        _c("slutdato", DATE, nullable=True),
        _c("aktiveringstype"),
        _c("aktivitetsstatus"),
        _c("aktivitetsaarsag", nullable=True),
        _c("aktiveringspuljenavn", nullable=True),
        _c("jobtype", nullable=True),
        _c("statsligt_job", nullable=True),
        _c("uddannelseskode", nullable=True),
        _c("uddannelseskodetype", nullable=True),
        _c("kursusnavn", nullable=True),
        _c("timer_pr_uge", DEC, nullable=True),
        _c("hjaelpemiddel_art", nullable=True),
        _c("hjaelpemiddel_type", nullable=True),
        _c("hjaelpemiddel_form", nullable=True),
        _c("hjaelpemiddel_udgift", DEC, nullable=True),
        _c("stoetteperson_art", nullable=True),
        _c("stoetteperson_type", nullable=True),
        _c("assistance_afregningsstatus", nullable=True),
        _c("assistance_refunderet_udgift", DEC, nullable=True),
    ),
    key=("aktivitet_id",),
)

SAMTALE = DeliveryFile(
    "samtale",
    (
        _c("samtale_id"),
        _c("cpr", CPR),
        _c("kommunekode", INT),
        _c("samtaledato", DATE),
        _c("samtaletype"),
        _c("kontaktform"),
        _c("samtalestatus"),
        _c("indkaldende_org_id", nullable=True),
    ),
    key=("samtale_id",),
)

SAMTALE_DELTAGER = DeliveryFile(
    "samtale_deltager",
    (_c("samtale_id"), _c("deltagertype")),
)

YDELSE = DeliveryFile(
    "ydelse",
    (
        _c("cpr", CPR),
        _c("kommunekode", INT),
        _c("uge", WEEK),
        _c("beskaeftigelsesydelse"),
        _c("udbetalt_beloeb", DEC),
        _c("refusionsprocent", DEC, nullable=True),
    ),
    first_month="2020-01",
)

BORGER = DeliveryFile(
    "borger",
    (_c("cpr", CPR), _c("fuldenavn"), _c("kommunekode", INT)),
    key=("cpr",),
    snapshot=True,
)

ORGANISATION = DeliveryFile(
    "organisation",
    (
        _c("org_id"),
        _c("org_navn"),
        _c("org_type"),
        _c("kommunekode", INT, nullable=True),
    ),
    key=("org_id",),
    snapshot=True,
)

UDDANNELSE = DeliveryFile(
    "uddannelse",
    (_c("uddannelseskode"), _c("uddannelseskodetype"), _c("titel")),
    key=("uddannelseskode", "uddannelseskodetype"),
    snapshot=True,
)

FILES: tuple[DeliveryFile, ...] = (
    VISITATION,
    AKTIVITET,
    SAMTALE,
    SAMTALE_DELTAGER,
    YDELSE,
    BORGER,
    ORGANISATION,
    UDDANNELSE,
)
FILES_BY_NAME: dict[str, DeliveryFile] = {f.name: f for f in FILES}
#: The record types kept in versions (R3), each with its record key: the one place the keys of
#: staging (current version per key) and retention (pruning per key) are written.
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    n: FILES_BY_NAME[n].key for n in (VISITATION.name, AKTIVITET.name, SAMTALE.name)
}

MANIFEST = "manifest.json"
SEPARATOR = ";"
YR_FIRST_MONTH = "2020-01"

# Value-ranged columns whose out-of-range values are row faults (SPEC section 2).
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "refusionsprocent": (0.0, 100.0),
    "timer_pr_uge": (0.0, 168.0),
}

# Columns checked against the known value lists (unknown values load with a warning).
CODE_LIST_COLUMNS: dict[str, tuple[str, ...]] = {
    "visitation": ("ydelsesgruppe", "visitationskategori"),
    "aktivitet": (
        "aktiveringstype",
        "aktivitetsstatus",
        "aktivitetsaarsag",
        "aktiveringspuljenavn",
        "jobtype",
        "statsligt_job",
        "uddannelseskodetype",
        "hjaelpemiddel_art",
        "hjaelpemiddel_type",
        "hjaelpemiddel_form",
        "stoetteperson_art",
        "stoetteperson_type",
    ),
    "samtale": ("samtaletype", "kontaktform", "samtalestatus"),
    "samtale_deltager": ("deltagertype",),
    "organisation": ("org_type",),
    "uddannelse": ("uddannelseskodetype",),
}
