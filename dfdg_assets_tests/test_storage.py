"""The storage layer: atomic month replacement, readers beside a load, killed runs."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfdg_assets.storage import Warehouse


def _fresh_read(cat, sql: str) -> str:
    """Query the catalogue from a new process (DuckDB shares open databases within a process)."""
    code = f"import duckdb; print(duckdb.connect({str(cat)!r}, read_only=True).execute({sql!r}).fetchone())"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def _month(n: int, value: int) -> pl.DataFrame:
    return pl.DataFrame({"maaned": ["2020-01"] * n, "v": [value] * n})


def test_write_replaces_partition_and_catalogue_sees_it(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    wh.write("t", _month(3, 1), "2020-01")
    wh.write("t", _month(2, 5), "2020-02")
    cat = tmp_path / "wh" / "dfdg.duckdb"
    assert wh.refresh_catalogue(cat) == ["t"]
    con = duckdb.connect(str(cat), read_only=True)
    assert con.execute("select count(*), sum(v) from t").fetchone() == (5, 13)
    wh.write("t", _month(4, 2), "2020-01")
    wh.refresh_catalogue(cat)
    # a reader with the old catalogue open keeps its consistent view; a new reader sees the new month
    assert con.execute("select count(*), sum(v) from t").fetchone() == (5, 13)
    con.close()
    con = duckdb.connect(str(cat), read_only=True)
    assert con.execute("select count(*), sum(v) from t").fetchone() == (6, 18)
    con.close()
    assert wh.partitions("t") == ["2020-01", "2020-02"]


def test_month_replaced_while_reader_holds_catalogue_open(tmp_path):
    """A reader process keeps querying while the month is replaced many times; every answer
    is the old month or the new one, never empty, never both."""
    wh = Warehouse(tmp_path / "wh")
    wh.write("t", _month(1000, 1), "2020-01")
    cat = tmp_path / "wh" / "dfdg.duckdb"
    wh.refresh_catalogue(cat)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, time
                con = duckdb.connect({str(cat)!r}, read_only=True)
                seen = set()
                end = time.time() + 3
                i = 0
                while time.time() < end:
                    seen.add(con.execute("select count(*), min(v), max(v) from t").fetchone())
                    i += 1
                    if i % 5 == 0:  # reconnect now and then: opening races the catalogue swap
                        con.close()
                        con = duckdb.connect({str(cat)!r}, read_only=True)
                print(sorted(seen))
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    for i in range(40):
        wh.write("t", _month(1000 + (i % 2) * 500, 2 + i % 2), "2020-01")
        wh.refresh_catalogue(cat)  # the load swaps the catalogue too; the reader is never blocked
    out, _ = reader.communicate(timeout=30)
    seen = set(eval(out))  # noqa: S307 - our own subprocess output
    # every answer is one whole version of the month: never empty, never doubled, never mixed
    assert seen <= {(1000, 1, 1), (1000, 2, 2), (1500, 3, 3)}
    assert len(seen) >= 2
    assert _fresh_read(cat, "select count(*), min(v), max(v) from t") == "(1500, 3, 3)"


def test_killed_write_leaves_old_month_intact(tmp_path):
    """SIGKILL a process in the middle of writing a large month: the old file stays as it was."""
    wh = Warehouse(tmp_path / "wh")
    wh.write("t", _month(10, 7), "2020-01")
    before = (tmp_path / "wh" / "t" / "2020-01.parquet").read_bytes()
    script = textwrap.dedent(
        f"""
        import polars as pl, sys
        from dfdg_assets.storage import Warehouse
        import dfdg_assets.storage.warehouse as w
        real = pl.DataFrame.write_parquet
        def slow(self, fh, **kw):
            real(self, fh, **kw)
            fh.flush()
            print("staged", flush=True)
            import time; time.sleep(60)
        pl.DataFrame.write_parquet = slow
        Warehouse({str(tmp_path / "wh")!r}).write("t", pl.DataFrame({{"maaned": ["2020-01"] * 5_000_000, "v": [9] * 5_000_000}}), "2020-01")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "staged"
    temps = list((tmp_path / "wh" / "t").glob(".*.tmp"))
    assert temps and temps[0].stat().st_size > 0  # the new month was half-way to disk
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "wh" / "t" / "2020-01.parquet").read_bytes() == before
    assert wh.read("t")["v"].to_list() == [7] * 10
    assert wh.clean_temp_files() == 1
    assert not list((tmp_path / "wh" / "t").glob(".*"))


def test_catalogue_views_name_exact_versions_and_old_versions_are_collected(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    cat = tmp_path / "wh" / "dfdg.duckdb"
    wh.write("t", _month(1, 1), "2020-01")
    wh.refresh_catalogue(cat)
    old = wh.current_version("t", "2020-01")
    con = duckdb.connect(str(cat), read_only=True)
    wh.write("t", _month(2, 2), "2020-01")
    wh.refresh_catalogue(cat)
    # the old reader still answers from the version it was given; a new one sees the new month
    assert con.execute("select count(*), max(v) from t").fetchone() == (1, 1)
    assert _fresh_read(cat, "select count(*), max(v) from t") == "(2, 2)"
    assert old.exists() and wh.current_version("t", "2020-01") != old
    assert wh.collect_old_versions(grace_seconds=0) == 1
    assert not old.exists()
    assert wh.read("t")["v"].to_list() == [2, 2]


def test_write_many_stages_everything_before_renaming(tmp_path, monkeypatch):
    wh = Warehouse(tmp_path / "wh")
    wh.write("a", _month(1, 1), "2020-01")
    wh.write("b", _month(1, 1), "2020-01")

    class Boom(Exception):
        pass

    real = pl.DataFrame.write_parquet
    calls = []

    def failing(self, fh, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise Boom
        return real(self, fh, **kw)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", failing)
    with contextlib.suppress(Boom):
        wh.write_many({("a", "2020-01"): _month(2, 2), ("b", "2020-01"): _month(2, 2)})
    monkeypatch.setattr(pl.DataFrame, "write_parquet", real)
    assert wh.read("a")["v"].to_list() == [1]  # the first table was staged but never renamed
    assert wh.read("b")["v"].to_list() == [1]
    assert not list((tmp_path / "wh").glob("*/.*.tmp"))


def test_delete_removes_the_bytes(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    wh.write("t", _month(1, 1), "2017-01")
    wh.write("t", _month(1, 2), "2017-02")
    assert wh.delete("t", "2017-01")
    assert not (tmp_path / "wh" / "t" / "2017-01.parquet").exists()
    assert not list((tmp_path / "wh" / "t").rglob("2017-01*"))
    assert wh.partitions("t") == ["2017-02"]


def test_key_secret_is_stable(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    assert wh.key_secret() == Warehouse(tmp_path / "wh").key_secret()
    assert len(wh.key_secret()) == 32


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["write", "delete", "plain"]),
            st.sampled_from(["2020-01", "2020-02", "2020-10", "alle", "start-2019-01"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_current_versions_of_a_table_equal_each_partitions_current_version(tmp_path_factory, steps):
    """One listing of a table's versions names, for every partition, the version its name links
    to, as `current_version` finds it partition by partition (a partition written outside the
    versioned path links to none)."""
    wh = Warehouse(tmp_path_factory.mktemp("versions") / "warehouse")
    for i, (step, part) in enumerate(steps):
        if step == "write":
            wh.write("t", pl.DataFrame({"a": [i]}), part)
        elif step == "delete":
            wh.delete("t", part)
        else:
            f = wh.partition_file("t", part)
            f.parent.mkdir(parents=True, exist_ok=True)
            f.unlink(missing_ok=True)
            pl.DataFrame({"a": [i]}).write_parquet(f)
    expected = {p: wh.current_version("t", p) for p in wh.partitions("t")}
    assert wh.current_versions("t") == expected
