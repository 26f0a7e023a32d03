"""The snapshot catalogs: organisations (organisation.csv) and courses (uddannelse.csv)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .common import NEVER, Reference, rng_for

AKASSER = (
    "3F A-kasse",
    "HK A-kasse",
    "Krifa A-kasse",
    "Det Faglige Hus A-kasse",
    "Ase A-kasse",
    "FOA A-kasse",
    "Metal A-kasse",
    "Ingeniørernes A-kasse",
    "Akademikernes A-kasse",
    "CA A-kasse",
    "Lærernes A-kasse",
    "Min A-kasse",
    "BUPL A-kasse",
    "Socialpædagogernes A-kasse",
    "Frie Funktionærers A-kasse",
    "Business Danmark A-kasse",
    "El-fagets A-kasse",
    "Fødevareforbundet NNF A-kasse",
    "Dansk Sygeplejeråds A-kasse",
    "Magistrenes A-kasse",
)
STATSLIGE = (
    ("STAR", "Styrelsen for Arbejdsmarked og Rekruttering"),
    ("UDK", "Udbetaling Danmark"),
    ("SIRI", "Styrelsen for International Rekruttering og Integration"),
    ("AST", "Ankestyrelsen"),
)
NATIONALE_AKTOERER = (
    "AMU Nordjylland",
    "AMU Syd",
    "AMU Fyn",
    "AMU Vest",
    "AMU Hovedstaden",
    "AMU Sjælland",
    "Tech College",
    "EUC Syd",
    "Sprogcenter Danmark",
    "Jobhuset Danmark ApS",
    "Mentorhuset ApS",
    "Virksomhedsservice Danmark A/S",
)
LOKALE_SUFFIKSER = ("Jobhus", "Produktionsskole", "Sprogcenter", "Mentorcenter")
# Providers that activities still refer to but that are gone from the snapshot (flagged as
# unknown members downstream).
MANGLENDE = ("AA9001", "AA9002", "AA9003")

AMU_EMNER = (
    "Truckcertifikat",
    "Kran og løft",
    "Lager og logistik",
    "Hygiejne i fødevarevirksomheder",
    "Rengøring",
    "Førstehjælp",
    "Grundlæggende IT",
    "Kundeservice",
    "Svejsning",
    "Kørekort C/CE",
    "Erhvervsmæssig fragt",
    "Dansk som andetsprog",
    "Regning og matematik",
    "Stilladsmontage",
    "Arbejdsmiljø",
    "Pædagogisk arbejde",
    "Pleje og omsorg",
    "Kantine og køkken",
    "Byggeplads",
    "Anlægsgartner",
    "Maskinfører",
    "Sikkerhedsvagt",
    "Butiksarbejde",
    "Kontorarbejde",
    "Tekstbehandling",
    "Regneark",
    "Vinduespolering",
    "Grøn pladsmaskine",
    "Buschauffør",
    "Taxi",
    "Dagplejer",
    "Serviceassistent",
)
AMU_VARIANTER = (
    "",
    ", grundlæggende",
    ", videregående",
    " for ledige",
    ", fornyelse",
    ", praktisk",
    " 2",
    " 3",
)
DUN_TITLER = (
    "Social- og sundhedshjælper",
    "Social- og sundhedsassistent",
    "Pædagogisk assistent",
    "Lager- og terminaluddannelsen",
    "Ernæringsassistent",
    "Chaufføruddannelsen",
    "Tømrer",
    "Elektriker",
    "Kontoruddannelse",
    "Detailhandelsuddannelse",
    "Almen voksenuddannelse (AVU)",
    "Forberedende voksenundervisning (FVU)",
    "Hf-enkeltfag",
    "Datatekniker",
    "Frisør",
    "Gastronom",
    "Smed",
    "VVS-energiuddannelsen",
    "Maler",
    "Murer",
    "Anlægsstruktør",
    "Serviceassistent",
    "Bager",
    "Landbrugsuddannelsen",
    "Tandklinikassistent",
    "Multimediedesigner",
    "Markedsføringsøkonom",
    "Sygeplejerske",
    "Pædagog",
    "Socialrådgiver",
)
DUN_VARIANTER = ("", " (EUV1)", " (EUV2)", " (EUV3)")


@dataclass
class Orgs:
    org_id: list[str]
    navn: list[str]
    org_type: list[str]
    kommunekode: list[int | None]
    from_lev: np.ndarray  # first delivery whose snapshot lists the org (NEVER: never listed)
    jobcenter: dict[int, int]  # municipality code -> org index
    kommune: dict[int, int]
    akasser: np.ndarray  # org indexes
    aktoerer: np.ndarray  # org indexes of listed providers (Anden aktør)
    manglende: np.ndarray  # org indexes that are referenced but never listed

    def jc_of(self, codes: np.ndarray) -> np.ndarray:
        return _map(self.jobcenter, codes)

    def kommune_of(self, codes: np.ndarray) -> np.ndarray:
        return _map(self.kommune, codes)

    def snapshot(self, lev: int) -> pl.DataFrame:
        keep = np.flatnonzero(self.from_lev <= lev)
        df = pl.DataFrame(
            {
                "org_id": [self.org_id[i] for i in keep],
                "org_navn": [self.navn[i] for i in keep],
                "org_type": [self.org_type[i] for i in keep],
                "kommunekode": pl.Series([self.kommunekode[i] for i in keep], dtype=pl.Int64).cast(
                    pl.String
                ),
            },
            schema={c: pl.String for c in ("org_id", "org_navn", "org_type", "kommunekode")},
        )
        return df.sort("org_id")


def _map(table: dict[int, int], codes: np.ndarray) -> np.ndarray:
    keys = np.array(sorted(table), dtype=np.int64)
    vals = np.array([table[k] for k in keys], dtype=np.int64)
    return vals[np.searchsorted(keys, np.asarray(codes, dtype=np.int64))]


def build_orgs(seed: int, ref: Reference, codes: list[int], n_months: int) -> Orgs:
    rng = rng_for(seed, "orgs")
    ids: list[str] = []
    names: list[str] = []
    types: list[str] = []
    koms: list[int | None] = []
    from_lev: list[int] = []

    def add(i: str, n: str, t: str, k: int | None, f: int = 0) -> int:
        ids.append(i)
        names.append(n)
        types.append(t)
        koms.append(k)
        from_lev.append(f)
        return len(ids) - 1

    jc, ko = {}, {}
    aktoerer = []
    for c in codes:
        navn = ref.kommunenavn[c]
        ko[c] = add(f"K{c}", f"{navn} Kommune", "Kommune", c)
        jc[c] = add(f"JC{c}", f"Jobcenter {navn}", "Jobcenter", c)
        for j, suffix in enumerate(LOKALE_SUFFIKSER[: 1 + c % 3]):
            # a few providers open during the deliveries: before that they are unknown members
            late = rng.random() < 0.1 and n_months > 2
            f = int(rng.integers(1, n_months)) if late else 0
            aktoerer.append(add(f"AA{c}{j + 1}", f"{navn} {suffix}", "Anden aktør", c, f))
    for r in sorted({ref.region_of[c] for c in codes}):
        add(f"R{r}", ref.regioner[r], "Region", None)
    for i, navn in enumerate(NATIONALE_AKTOERER):
        aktoerer.append(add(f"AA{9100 + i}", navn, "Anden aktør", None))
    akasser = [add(f"AK{i + 1:02d}", navn, "A-kasse", None) for i, navn in enumerate(AKASSER)]
    for org_id, navn in STATSLIGE:
        add(org_id, navn, "Statslig part", None)
    manglende = [add(i, "(ophørt)", "Anden aktør", None, NEVER) for i in MANGLENDE]
    return Orgs(
        ids,
        names,
        types,
        koms,
        np.asarray(from_lev, dtype=np.int64),
        jc,
        ko,
        np.asarray(akasser),
        np.asarray(aktoerer),
        np.asarray(manglende),
    )


@dataclass
class Courses:
    kode: np.ndarray  # str
    kind: np.ndarray  # 0 = AMU, 1 = DUN
    titel: np.ndarray  # str
    listed: np.ndarray  # bool: in the uddannelse.csv snapshot

    def snapshot(self) -> pl.DataFrame:
        k = self.listed
        return pl.DataFrame(
            {
                "uddannelseskode": self.kode[k].tolist(),
                "uddannelseskodetype": np.where(self.kind[k] == 0, "AMU", "DUN").tolist(),
                "titel": self.titel[k].tolist(),
            },
            schema={c: pl.String for c in ("uddannelseskode", "uddannelseskodetype", "titel")},
        ).sort("uddannelseskode", "uddannelseskodetype")


def build_courses(seed: int) -> Courses:
    rng = rng_for(seed, "courses")
    n_amu, n_dun = 250, 100
    amu = rng.choice(10000, size=n_amu, replace=False) + 40000
    dun = rng.choice(900000, size=n_dun, replace=False) + 100000
    amu_t = [
        AMU_EMNER[i % len(AMU_EMNER)] + AMU_VARIANTER[i // len(AMU_EMNER)] for i in range(n_amu)
    ]
    dun_t = [
        DUN_TITLER[i % len(DUN_TITLER)] + DUN_VARIANTER[i // len(DUN_TITLER)] for i in range(n_dun)
    ]
    kode = np.array([str(c) for c in amu] + [str(c) for c in dun], dtype=object)
    kind = np.array([0] * n_amu + [1] * n_dun, dtype=np.int64)
    listed = np.ones(n_amu + n_dun, dtype=bool)
    # a few discontinued codes that activities still use
    listed[rng.choice(n_amu, 4, replace=False)] = False
    listed[n_amu + rng.choice(n_dun, 2, replace=False)] = False
    return Courses(kode, kind, np.array(amu_t + dun_t, dtype=object), listed)
