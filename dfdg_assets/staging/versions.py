"""R3 across deliveries, as pure polars: the latest version wins.

The in-file part of R3 (exact duplicates collapse, conflicting ids are rejected) happens at
ingestion; what reaches the raw tables is at most one version of an id per delivery. Here the
version from the latest data month wins. A rejected row never reached a raw table, so it never
replaces an earlier valid version.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from dfdg_assets.core.weeks import week_month


def latest_version(versions: pl.LazyFrame, key: list[str]) -> pl.LazyFrame:
    """One row per `key`: the row of the greatest `data_maaned` (grain: one row per record id)."""
    return versions.sort("data_maaned", "linje").group_by(key, maintain_order=True).last()


def current_participants(samtale_versions: pl.LazyFrame, deltagere: pl.LazyFrame) -> pl.LazyFrame:
    """Participants are the `samtale_deltager` rows of the latest delivery carrying the conversation.

    Grain: one row per conversation and participant row of that delivery.
    """
    carrier = samtale_versions.group_by("samtale_id").agg(pl.col("data_maaned").max())
    return deltagere.join(carrier, on=["samtale_id", "data_maaned"], how="semi")


def with_borger_key(lf: pl.LazyFrame, keys: pl.DataFrame) -> pl.LazyFrame:
    """Replace `cpr` by the citizen's surrogate key (keys: cpr -> borger_key)."""
    cols = [c for c in lf.collect_schema().names() if c != "cpr"]
    pos = lf.collect_schema().names().index("cpr")
    out_cols = cols[:pos] + ["borger_key"] + cols[pos:]
    return lf.join(keys.lazy(), on="cpr", how="left", maintain_order="left").select(out_cols)


#: The record types whose changes the weekly facts follow, each with the delivery files that
#: change it: a conversation's participants count as the conversation's.
RECORD_GROUPS: dict[str, tuple[str, ...]] = {
    "visitation": ("visitation",),
    "aktivitet": ("aktivitet",),
    "samtale": ("samtale", "samtale_deltager"),
}


def earliest_affected_dates(
    delivery: dict[str, pl.DataFrame], history: dict[str, pl.LazyFrame]
) -> dict[str, dt.date]:
    """Per delivery file: the earliest date its records touch, over their new and all earlier
    versions (R11); a file without rows is absent.

    `delivery` holds the delivery's raw tables; `history` the raw tables of every delivery.
    A changed record affects its weeks from its earliest version's date on: courses and
    activities run on, so everything after that date may change too.
    """
    found: dict[str, list[dt.date]] = {}

    def add(name: str, value: object) -> None:
        if isinstance(value, dt.datetime):
            found.setdefault(name, []).append(value.date())
        elif isinstance(value, dt.date):
            found.setdefault(name, []).append(value)

    for name, key, col in (
        ("visitation", "visitation_id", "visitationstidspunkt"),
        ("aktivitet", "aktivitet_id", "startdato"),
        ("samtale", "samtale_id", "samtaledato"),
    ):
        new = delivery.get(name)
        if new is None or new.is_empty():
            continue
        add(name, new[col].min())
        if name in history:
            old = history[name].join(new.lazy().select(key), on=key, how="semi")
            add(name, old.select(pl.col(col).min()).collect().item())
    deltagere = delivery.get("samtale_deltager")
    if deltagere is not None and not deltagere.is_empty() and "samtale" in history:
        add(
            "samtale_deltager",
            history["samtale"]
            .join(deltagere.lazy().select("samtale_id").unique(), on="samtale_id", how="semi")
            .select(pl.col("samtaledato").min())
            .collect()
            .item(),
        )
    ydelse = delivery.get("ydelse")
    if ydelse is not None and not ydelse.is_empty():
        first_week = str(ydelse["uge"].min())
        add("ydelse", dt.date.fromisocalendar(int(first_week[:4]), int(first_week[6:8]), 1))
    return {name: min(dates) for name, dates in found.items()}


def earliest_affected_date(
    delivery: dict[str, pl.DataFrame], history: dict[str, pl.LazyFrame]
) -> dt.date | None:
    """The earliest date a delivery's records touch (`earliest_affected_dates`, all files)."""
    dates = earliest_affected_dates(delivery, history).values()
    return min(dates) if dates else None


def affected_by_group(dates: dict[str, dt.date], month: str) -> dict[str, str]:
    """Per record group (`RECORD_GROUPS`): the first data month the delivery for `month`
    changes in the weekly facts of that group (`month` itself when it changes none of them)."""
    out = {}
    for group, files in RECORD_GROUPS.items():
        days = [dates[f] for f in files if f in dates]
        out[group] = affected_from_month(min(days) if days else None, month)
    return out


def affected_from_month(day: dt.date | None, month: str) -> str:
    """The first data month a delivery for `month` affects: the month of the week holding `day`."""
    if day is None:
        return month
    y, w, _ = day.isocalendar()
    return min(week_month(f"{y:04d}-W{w:02d}"), month)
