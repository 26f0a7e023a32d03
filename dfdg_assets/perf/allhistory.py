"""One delivery carrying all history, built from monthly deliveries: what a municipality's first
delivery looks like when it sends everything since it started (the end-to-end bench loads it into
a fresh data root and reports its peak memory).

Grain of each file: the records of the last delivery carrying them (R3), i.e. per record key the
latest version; YR rows of the latest delivery carrying each citizen-week; a conversation's
participants as the delivery carrying its latest version lists them; the snapshots (residents,
organisations, educations) of the last month. Values are copied as text, as delivered."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import polars as pl

from dfdg_assets.generate.writer import write_delivery
from dfdg_assets.ingest.contract import FILES_BY_NAME, RECORD_KEYS, SEPARATOR

_MONTH = "_leveret"  # the delivery a row came from
#: Rows keyed like records: the latest delivery carrying a key gives all of its rows.
_KEYS: dict[str, tuple[str, ...]] = {**RECORD_KEYS, "ydelse": ("cpr", "uge")}


def _scan(inbox: Path, months: Sequence[str], name: str) -> pl.LazyFrame:
    """Every delivery's rows of one file, as text, with the delivery's month."""
    filename = FILES_BY_NAME[name].filename
    frames = [
        pl.scan_csv(inbox / m / filename, separator=SEPARATOR, infer_schema=False).with_columns(
            pl.lit(m).alias(_MONTH)
        )
        for m in months
        if (inbox / m / filename).is_file()
    ]
    return pl.concat(frames) if frames else pl.LazyFrame()


def _latest(rows: pl.LazyFrame, key: Sequence[str]) -> pl.LazyFrame:
    """The rows of the latest delivery carrying each key (all of that delivery's rows of it)."""
    last = rows.group_by(list(key)).agg(pl.col(_MONTH).max())
    return rows.join(last, on=[*key, _MONTH], how="semi", nulls_equal=True)


class _Files(Mapping[str, pl.DataFrame]):
    """The all-history delivery's files, each built when `write_delivery` asks for it (one file
    in memory at a time)."""

    def __init__(self, inbox: Path, months: Sequence[str]):
        self.inbox, self.months = inbox, list(months)
        self._conversations: pl.DataFrame | None = None  # (samtale_id, delivery) kept

    def _latest(self, name: str) -> pl.DataFrame:
        return _latest(_scan(self.inbox, self.months, name), _KEYS[name]).collect()

    def __getitem__(self, name: str) -> pl.DataFrame:
        spec = FILES_BY_NAME[name]
        if spec.snapshot:
            rows = _scan(self.inbox, self.months[-1:], name).collect()
        elif name in _KEYS:
            rows = self._latest(name)
            if name == "samtale":  # its participants are chosen by these deliveries
                self._conversations = rows.select("samtale_id", _MONTH)
        elif name == "samtale_deltager":  # as the delivery of the conversation's latest version
            held = self._conversations
            if held is None:
                held = self._latest("samtale").select("samtale_id", _MONTH)
            rows = (
                _scan(self.inbox, self.months, name)
                .join(held.lazy(), on=["samtale_id", _MONTH], how="semi")
                .collect()
            )
        else:
            raise KeyError(name)
        return rows.drop(_MONTH)

    def __iter__(self) -> Iterator[str]:
        return iter(FILES_BY_NAME)

    def __len__(self) -> int:
        return len(FILES_BY_NAME)


def build_all_history(inbox: Path, months: Sequence[str], out: Path) -> Path:
    """Write one delivery for the last of `months` into `out`/<month> carrying the history of
    every delivery of `months` in `inbox`; returns its folder."""
    folder = out / months[-1]
    write_delivery(folder, months[-1], _Files(inbox, months))
    return folder
