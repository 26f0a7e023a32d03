"""A query over a period reads only the period's month files (`cubes/shared.narrow_to_months`):
the same answers as the catalogue's views over every month, for both cubes and random periods,
and a month outside the period is not opened at all."""

import shutil

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfdg_assets.cubes.query import query_dfdg, query_ydelsesaktivitet
from dfdg_assets.storage import Warehouse
from dfdg_assets_tests.conftest import clone_root

MONTHS = ["2019-11", "2019-12", "2020-01", "2020-02", "2020-03"]
CASES = [
    (query_dfdg, ["antal_borgere", "antal_visitationsforloeb"], ["maaned", "visitationskategori"]),
    (query_dfdg, ["antal_borgere", "antal_aktiveringsforloeb"], ["uge", "kommunekode"]),
    (query_dfdg, ["antal_samtaler"], ["maaned"]),
    (query_dfdg, ["antal_borgere"], ["maaned", "kommunekode"]),
    (query_ydelsesaktivitet, ["antal_borgere", "gns_refusionsprocent"], ["maaned"]),
    (query_ydelsesaktivitet, ["antal_borgere"], ["maaned", "beskaeftigelsesydelse"]),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(CASES),
    st.one_of(st.none(), st.sampled_from(MONTHS)),
    st.one_of(st.none(), st.sampled_from(MONTHS)),
)
def test_a_period_reads_its_months_with_the_same_answer(generated_loaded, case, fra, til):
    if fra and til and fra > til:
        fra, til = til, fra
    query, measures, by = case
    root = generated_loaded.root
    narrowed = query(root, measures, by, fra=fra, til=til)  # opened here: narrowed
    con = duckdb.connect(str(root.catalogue), read_only=True)
    try:
        whole = query(con, measures, by, fra=fra, til=til)  # a caller's connection: every month
        assert "fct_visitation_uge" not in {
            r[0]
            for r in con.execute("SELECT view_name FROM duckdb_views() WHERE temporary").fetchall()
        }
    finally:
        con.close()
    assert narrowed.equals(whole)
    if fra or til:
        assert narrowed.height or whole.height == 0


def test_a_month_outside_the_period_is_not_read(generated_loaded, tmp_path):
    root = clone_root(generated_loaded.root, tmp_path / "data")
    from dfdg_assets.storage.warehouse import Warehouse as W

    W(root.warehouse).refresh_catalogue(root.catalogue)  # the copy's own files
    args = (["antal_borgere"], ["maaned"])
    before = query_dfdg(root, *args, fra="2020-01", til="2020-02")
    assert before["maaned"].to_list() == ["2020-01", "2020-02"]
    wh = Warehouse(root.warehouse)
    for table in ("fct_visitation_uge", "fct_aktivitet_uge", "fct_borger_maaned"):
        gone = wh.current_version(table, "2019-12") or wh.partition_file(table, "2019-12")
        shutil.move(gone, tmp_path / f"{table}.parquet")
    assert query_dfdg(root, *args, fra="2020-01", til="2020-02").equals(before)
    con = duckdb.connect(str(root.catalogue), read_only=True)
    try:  # over every month's file, as the views read them, the missing file is opened
        with pytest.raises(duckdb.Error):
            query_dfdg(con, *args, fra="2020-01", til="2020-02")
    finally:
        con.close()
