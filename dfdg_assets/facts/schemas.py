"""Columns and pandera schemas of the fact tables (one place, shared by assets and queries)."""

from __future__ import annotations

import polars as pl

from dfdg_assets.core.schemas import table_schema
from dfdg_assets.facts.keys import KEYS
from dfdg_assets.staging.schemas import COURSE_NULLABLE, WEEK_COLS, staging_schema

VISITATION_WEEK_COLS: dict[str, pl.DataType] = {
    "forloeb_id": pl.String(),
    "borger_key": pl.Int64(),
    **WEEK_COLS,
    "kommunekode": pl.Int32(),
    "ydelsesgruppe": pl.String(),
    "visitationskategori": pl.String(),
    "visiterende_org_id": pl.String(),
}


def _record_cols(name: str) -> dict[str, pl.DataType]:
    return {c: t for c, t in staging_schema(name).items() if c not in ("data_maaned", "linje")}


ACTIVITY_WEEK_COLS: dict[str, pl.DataType] = {
    **_record_cols("aktivitet"),
    **WEEK_COLS,
    "dage_i_uge": pl.Int8(),
}
CONVERSATION_WEEK_COLS: dict[str, pl.DataType] = {**_record_cols("samtale"), **WEEK_COLS}
POPULATION_MONTH_COLS: dict[str, pl.DataType] = {
    "kommunekode": pl.Int32(),
    "borger_key": pl.Int64(),
    "maaned": pl.String(),
    "kvartal": pl.String(),
    "aar": pl.Int32(),
}
PARTICIPANT_COLS: dict[str, pl.DataType] = {
    "samtale_id": pl.String(),
    "deltagertype": pl.String(),
    "maaned": pl.String(),
}

_ACTIVITY_REQUIRED = {
    "aktivitet_id",
    "borger_key",
    "kommunekode",
    "ansvarlig_org_id",
    "startdato",
    "aktiveringstype",
    "aktivitetsstatus",
    *WEEK_COLS,
    "dage_i_uge",
}
_CONVERSATION_REQUIRED = {
    "samtale_id",
    "borger_key",
    "kommunekode",
    "samtaledato",
    "samtaletype",
    "kontaktform",
    "samtalestatus",
    *WEEK_COLS,
}


def visitation_week_schema():
    return table_schema(
        "fct_visitation_uge",
        {c: (t, c in COURSE_NULLABLE) for c, t in VISITATION_WEEK_COLS.items()},
        unique=list(KEYS["fct_visitation_uge"][0]),
    )


def activity_week_schema():
    return table_schema(
        "fct_aktivitet_uge",
        {c: (t, c not in _ACTIVITY_REQUIRED) for c, t in ACTIVITY_WEEK_COLS.items()},
        unique=list(KEYS["fct_aktivitet_uge"][0]),
    )


def conversation_week_schema():
    return table_schema(
        "fct_samtale_uge",
        {c: (t, c not in _CONVERSATION_REQUIRED) for c, t in CONVERSATION_WEEK_COLS.items()},
        unique=list(KEYS["fct_samtale_uge"][0]),
    )


def participant_schema():
    return table_schema(
        "bdg_samtale_deltager", {c: (t, False) for c, t in PARTICIPANT_COLS.items()}
    )


POPULATION_MONTH_SCHEMA = table_schema(
    "fct_borger_maaned",
    {c: (t, False) for c, t in POPULATION_MONTH_COLS.items()},
    unique=list(KEYS["fct_borger_maaned"][0]),
)
