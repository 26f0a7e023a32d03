"""What a data package's README says about its tables and columns (English throughout).

Pure data. Every column of every package table must be described here: the README generator
refuses a column it cannot describe, so a new warehouse column cannot slip into a package
undocumented.
"""

from __future__ import annotations

# ---------------------------------------------------------------- tables: what the package holds
# (the grain of each table is in core/grain.py, one source for the UI, the catalogue and here)
HOLDS: dict[str, str] = {
    # datamart: facts
    "fct_visitation_uge": "the municipality's courses (kommunekode = the municipality) in the weeks of the period",
    "fct_aktivitet_uge": "the municipality's activities (the responsible municipality) in the weeks of the period",
    "fct_samtale_uge": "the municipality's held conversations dated in the weeks of the period",
    "bdg_samtale_deltager": "the participants of the conversations in fct_samtale_uge",
    "stg_ydelse": "YR rows paid by the municipality (kommunekode = the paying municipality) in the weeks of the period; none before 2020-01",
    "fct_borger_ydelse_uge": "the citizen-weeks in which the citizen has a course or an activity of the municipality; the benefit may be paid by any municipality",
    "fct_befolkning_16_66": "the municipality's rows of the months of the period (a month without its delivery has no row)",
    # datamart: dimensions
    "dim_borger": "only the citizens referenced by a fact table of this package",
    "dim_organisation": "only the organisations referenced by a fact table of this package (any role)",
    "dim_uddannelse": "only the education codes referenced by fct_aktivitet_uge",
    "dim_tid_uge": "the weeks of the months of the period that are rolled out",
    "dim_kommune": "this municipality only",
    # datamart: cube
    "cube_benchmark": "the municipality's rows and the Hele landet rows of the months of the period (published, disclosure-controlled aggregates); no other municipality's rows",
    # dsa: raw delivery rows
    "raw_visitation": "rows with the municipality's kommunekode, delivery months of the period",
    "raw_aktivitet": "rows with the municipality's kommunekode (responsible municipality), delivery months of the period",
    "raw_samtale": "rows with the municipality's kommunekode, delivery months of the period",
    "raw_samtale_deltager": "participant rows of the municipality's conversations delivered in the same data month (rows delivered without their conversation are left out, as in the warehouse)",
    "raw_ydelse": "rows with the municipality's kommunekode (the paying municipality), delivery months of the period",
    "raw_borger": "the municipality's residents (kommunekode = the municipality), delivery months of the period",
    "raw_organisation": "organisations of the municipality and organisations referenced by its records in this package",
    "raw_uddannelse": "education codes referenced by the municipality's activities in this package",
}

# ---------------------------------------------------------------- columns
_WEEK = {
    "uge": "ISO week, `YYYY-Www` (ISO year)",
    "maaned": "the month the week belongs to (the month of its Sunday), `YYYY-MM`",
    "kvartal": "the quarter of `maaned`, `YYYYKq`",
    "aar": "the year of `maaned`",
}
_ACTIVITY = {
    "aktivitet_id": "the activity's record id",
    "ansvarlig_org_id": "responsible organisation (org_id)",
    "aktiverende_org_id": "activating organisation (org_id)",
    "startdato": "first day of the activity",
    "slutdato": "last day of the activity, inclusive; empty = ongoing",
    "aktiveringstype": "type of activity",
    "aktivitetsstatus": "status of the activity",
    "aktivitetsaarsag": "reason recorded with the status",
    "aktiveringspuljenavn": "name of the activation pool",
    "jobtype": "job type (job activities)",
    "statsligt_job": "state job (Ja/Nej)",
    "uddannelseskode": "AMU/DUN education code (see dim_uddannelse)",
    "uddannelseskodetype": "type of the education code (AMU or DUN)",
    "kursusnavn": "course name",
    "timer_pr_uge": "hours per week",
    "hjaelpemiddel_art": "aid (hjælpemiddel): kind",
    "hjaelpemiddel_type": "aid: type",
    "hjaelpemiddel_form": "aid: form",
    "hjaelpemiddel_udgift": "aid: expense (DKK)",
    "stoetteperson_art": "personal assistance: kind of support person",
    "stoetteperson_type": "personal assistance: type of support person",
    "assistance_afregningsstatus": "personal assistance: settlement status",
    "assistance_refunderet_udgift": "personal assistance: refunded expense (DKK)",
}
_CONVERSATION = {
    "samtale_id": "the conversation's record id",
    "samtaledato": "date of the conversation",
    "samtaletype": "type of conversation",
    "kontaktform": "form of contact",
    "samtalestatus": "status (only Afholdt is held)",
    "indkaldende_org_id": "summoning organisation (org_id)",
}
_VISITATION = {
    "visitation_id": "the visitation's record id",
    "visitationstidspunkt": "time of the visitation (Danish local time)",
    "ydelsesgruppe": "benefit group of the visitation",
    "visitationskategori": "visitation category",
    "visiterende_org_id": "visiting organisation (org_id)",
}
_RAW = {
    "data_maaned": "data month of the delivery the row came in, `YYYY-MM`",
    "linje": "line of the row in the delivered file (header = line 1)",
    "cpr": "CPR number (personal data)",
}
_BENCH_COUNTS = {
    "antal_borgere_16_66": "residents aged 16-66 (total rows only; municipality of borger.csv)",
    "antal_ydelsesmodtagere": "distinct citizens with a YR row in a week of the month",
    "antal_aktiverede": "distinct citizens with an activity in force in a week with a YR row",
    "antal_aktiveringsforloeb": "distinct activities in force in such weeks",
    "andel_ydelsesmodtagere": "antal_ydelsesmodtagere / antal_borgere_16_66",
    "aktiveringsgrad": "antal_aktiverede / antal_ydelsesmodtagere",
    "forloeb_pr_aktiveret": "antal_aktiveringsforloeb / antal_aktiverede",
}

COLUMNS: dict[str, str] = {
    **_WEEK,
    **_ACTIVITY,
    **_CONVERSATION,
    **_VISITATION,
    **_RAW,
    "borger_key": "the citizen's surrogate key (keyed hash of the CPR number); joins dim_borger",
    "kommunekode": "municipality code",
    "forloeb_id": "the visitation course: the visitation_id of the visitation that opened it (R4)",
    "dage_i_uge": "days of the activity that fall in the week (1-7)",
    "deltagertype": "type of participant",
    "beskaeftigelsesydelse": "benefit (YR)",
    "udbetalt_beloeb": "amount paid (DKK; may be negative)",
    "refusionsprocent": "refund/co-financing percentage; empty when not given",
    "fuldenavn": "full name (personal data)",
    "foedselsdato": "birth date (from the CPR number)",
    "i_folkeregister": "true when the citizen is in a resident snapshot (borger.csv)",
    "seneste_snapshot": "data month of the latest snapshot carrying the member",
    "org_key": "surrogate key of the organisation",
    "org_id": "organisation id",
    "org_navn": "organisation name",
    "org_type": "organisation type",
    "ukendt": "true for a member referenced by records but missing from every snapshot",
    "uddannelse_key": "surrogate key of the education code",
    "titel": "title of the education",
    "uge_mandag": "Monday of the week",
    "uge_soendag": "Sunday of the week",
    "kommunenavn": "municipality name",
    "regionskode": "region code",
    "regionsnavn": "region name",
    "kommune": "municipality code (3 digits) or `Hele landet`",
    "breakdown": "empty on total rows, else aktiveringstype, beskaeftigelsesydelse or visitationskategori",
    "breakdown_vaerdi": "the breakdown's value (empty on total rows)",
    **_BENCH_COUNTS,
    **{
        f"{c}_undertrykt": f"true when {c} is suppressed (disclosure control)"
        for c in _BENCH_COUNTS
    },
}

# Where a column means something particular in one table.
COLUMN_IN_TABLE: dict[tuple[str, str], str] = {
    (
        "dim_borger",
        "kommunekode",
    ): "municipality of residence in the latest resident snapshot (empty if none)",
    ("raw_borger", "kommunekode"): "municipality of residence",
    ("dim_organisation", "kommunekode"): "municipality of the organisation (empty if none)",
    ("raw_organisation", "kommunekode"): "municipality of the organisation (empty if none)",
    ("stg_ydelse", "kommunekode"): "the municipality paying the benefit",
    ("raw_ydelse", "kommunekode"): "the municipality paying the benefit",
    ("fct_aktivitet_uge", "kommunekode"): "the responsible municipality",
    ("raw_aktivitet", "kommunekode"): "the responsible municipality",
    (
        "fct_borger_ydelse_uge",
        "beskaeftigelsesydelse",
    ): "benefit of a YR row of the citizen-week, or `Uden ydelse i YR`",
    ("stg_ydelse", "data_maaned"): "data month of the delivery the YR row came in",
    ("fct_visitation_uge", "startdato"): "first day of the course",
    ("fct_befolkning_16_66", "maaned"): "the month, `YYYY-MM`",
    ("cube_benchmark", "maaned"): "the month, `YYYY-MM`",
    (
        "bdg_samtale_deltager",
        "maaned",
    ): "the month of the conversation's week (as in fct_samtale_uge)",
}


def column_doc(table: str, column: str) -> str:
    """The description of a column of a package table; KeyError if there is none."""
    return COLUMN_IN_TABLE.get((table, column)) or COLUMNS[column]
