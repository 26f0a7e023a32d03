"""One delivery carrying all history (perf/allhistory.py, the end-to-end bench's goal-4 case):
loaded into a fresh data root it gives the current records that the monthly deliveries give."""

import json
import shutil

import polars as pl

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.core.weeks import months_between
from dfdg_assets.generate import generate
from dfdg_assets.orchestration.loader import load
from dfdg_assets.perf.allhistory import build_all_history
from dfdg_assets.storage import Warehouse

MONTHS = months_between("2019-11", "2020-02")
DELIVERY_COLUMNS = ["data_maaned", "linje"]  # where and when a version was delivered


def _current(wh: Warehouse, table: str, key: list[str]) -> pl.DataFrame:
    df = wh.read(table)
    return df.drop([c for c in DELIVERY_COLUMNS if c in df.columns]).sort(key)


def test_all_history_in_one_delivery_gives_the_records_of_the_monthly_deliveries(tmp_path):
    monthly = DataRoot.of(tmp_path / "monthly")
    generate(monthly.inbox, kommuner=[101, 751], borgere=150, fra=MONTHS[0], til=MONTHS[-1],
             seed=5, fejlrate=0.0)  # fmt: skip
    folder = build_all_history(monthly.inbox, MONTHS, tmp_path / "built")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["data_month"] == MONTHS[-1]
    whole = DataRoot.of(tmp_path / "whole")
    shutil.copytree(folder, whole.inbox / MONTHS[-1])
    for root in (monthly, whole):
        # one surrogate-key secret in both roots, so the citizens' keys compare equal
        root.warehouse.mkdir(parents=True, exist_ok=True)
        (root.warehouse / ".noegle").write_bytes(bytes(range(32)))
        report = load(root, out=lambda _s: None)
        assert report.ok and report.rejected_rows == 0, report
    a, b = Warehouse(monthly.warehouse), Warehouse(whole.warehouse)
    for table, key in (
        ("stg_visitation", ["visitation_id"]),
        ("stg_aktivitet", ["aktivitet_id"]),
        ("stg_samtale", ["samtale_id"]),
        ("stg_samtale_deltager", ["samtale_id", "deltagertype"]),
        ("stg_visitationsforloeb", ["forloeb_id"]),
    ):
        got, want = _current(b, table, key), _current(a, table, key)
        assert want.height > 0, table
        assert got.equals(want), table
    # YR rows by week-month: the latest delivery of each citizen-week, as the monthly loads have
    yr_key = ["borger_key", "uge", "beskaeftigelsesydelse", "udbetalt_beloeb"]
    got, want = _current(b, "stg_ydelse", yr_key), _current(a, "stg_ydelse", yr_key)
    assert want.height > 0 and got.equals(want)
    # and its resident snapshot is the last month's
    assert b.read("raw_borger").height == a.read("raw_borger", [MONTHS[-1]]).height
