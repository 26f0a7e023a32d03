"""The operator's Dagster UI in a real browser (Playwright driving Debian's Chromium): the asset
catalog, one fact's partition view against the warehouse's row count for a month, the checks tab,
the runs page, and a backfill of a few months launched from the partitions dialog, which runs as
one run and leaves the query answers unchanged. Screenshots are kept under the test's tmp folder
(`ui-screenshots/`)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.generate import generate
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.loader import load
from dfdg_assets.orchestration.ui import running
from dfdg_assets.storage import Warehouse

CHROMIUM = os.environ.get("DFDG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")

QUERY = "SELECT maaned, count(*) AS n FROM fct_visitation_uge GROUP BY maaned ORDER BY maaned"


def _answers(root: DataRoot) -> list[tuple]:
    con = duckdb.connect(str(root.catalogue), read_only=True)
    try:
        return con.sql(QUERY).fetchall()
    finally:
        con.close()


@pytest.mark.slow  # 45-85 s (dagster dev start, a load, a backfill through the daemon)
def test_operator_ui_in_a_real_browser(tmp_path):
    t0 = time.monotonic()
    shots = tmp_path / "ui-screenshots"
    shots.mkdir()
    root = DataRoot.of(tmp_path / "data")
    generate(root.inbox, kommuner=[101], borgere=80, fra="2020-01", til="2020-03", seed=5)
    assert load(root, out=lambda _: None).ok
    wh = Warehouse(root.warehouse)
    rows_feb = wh.read("fct_visitation_uge", ["2020-02"]).height
    before = _answers(root)
    instance = open_instance(root)
    runs_before = len(instance.get_runs())

    with (
        open(tmp_path / "dagster-dev.log", "wb") as log,
        running(root, log=log) as url,
        playwright.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(30_000)

        # the asset catalog (dismiss the first visit's "Join the community" dialog once)
        page.goto(f"{url}/assets")
        page.get_by_role("button", name="Skip").click()
        page.get_by_text("fct_visitation_uge").first.wait_for()
        body = page.inner_text("body")
        for name in ("bdg_samtale_deltager", "cube_benchmark", "dim_kommune"):
            assert name in body
        page.screenshot(path=shots / "catalog.png")

        # one fact's partition view: the month's row count is the warehouse's
        page.goto(f"{url}/assets/fct_visitation_uge?view=partitions&partition=2020-02-01")
        page.get_by_text("dagster/row_count").wait_for()
        row = page.locator("tr", has_text="dagster/row_count").first
        assert row.inner_text().split()[-1].replace(",", "") == str(rows_feb)
        page.screenshot(path=shots / "partition.png")

        # the checks tab
        page.goto(f"{url}/assets/fct_visitation_uge?view=checks")
        page.get_by_text("noegle_unik").first.wait_for()
        assert "fremmednoegler" in page.inner_text("body")
        page.screenshot(path=shots / "checks.png")

        # the runs page: dfdg load's runs are there
        page.goto(f"{url}/runs")
        page.get_by_text("udrul_maaneder").first.wait_for()
        assert "indlaes_levering" in page.inner_text("body")
        page.screenshot(path=shots / "runs.png")

        # a backfill of three months from the partitions dialog
        page.goto(f"{url}/assets/fct_visitation_uge?view=partitions")
        page.get_by_role("button", name="Materialize").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Launch backfill").first.wait_for()
        page.screenshot(path=shots / "backfill-dialog-open.png")
        # dynamic partitions: pick the three months in the partition selector
        dialog.get_by_text("Select a partition or create one").first.click()
        search = page.get_by_placeholder("Filter partitions")
        for k in ("2020-01-01", "2020-02-01", "2020-03-01"):
            search.fill(k)
            page.locator("[role=menu]").get_by_title(k, exact=True).first.click()
        page.keyboard.press("Escape")
        page.screenshot(path=shots / "backfill-picked.png")
        dialog.get_by_text("3 partitions").first.wait_for()
        page.screenshot(path=shots / "backfill-dialog.png")
        dialog.get_by_role("button", name="Launch backfill").click()

        deadline = time.monotonic() + 120
        backfill_runs: list = []
        while time.monotonic() < deadline:
            backfills = instance.get_backfills()
            if backfills:
                backfill_runs = instance.get_runs(
                    filters=dg.RunsFilter.for_backfill(backfills[0].backfill_id)
                )
                if backfill_runs and all(r.is_finished for r in backfill_runs):
                    break
            time.sleep(1)
        page.goto(f"{url}/runs")
        page.wait_for_timeout(1500)
        page.screenshot(path=shots / "runs-after-backfill.png")
        browser.close()

    assert len(backfill_runs) == 1, "a UI backfill of a range runs as one run"
    run = backfill_runs[0]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/asset_partition_range_start"] == "2020-01-01"
    assert run.tags["dagster/asset_partition_range_end"] == "2020-03-01"
    assert len(instance.get_runs()) == runs_before + 1
    assert _answers(root) == before
    assert {p.name for p in shots.iterdir()} >= {"catalog.png", "partition.png", "checks.png"}
    print(f"browser test: {time.monotonic() - t0:.1f} s, screenshots in {shots}")


@pytest.mark.slow  # starts dagster dev (~15-25 s)
def test_dfdg_ui_prints_its_address_and_stops_within_seconds_on_ctrl_c(tmp_path):
    import signal
    import subprocess
    import sys

    from dfdg_assets.orchestration.ui import free_port

    port = free_port()
    env = {**os.environ, "DFDG_DATA_ROOT": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dfdg_assets.cli", "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Dagster UI: http://localhost:" in line:
                break
        assert f"http://localhost:{port}" in "".join(lines)
        t = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        assert time.monotonic() - t < 12
        assert proc.returncode == 0
        assert "Stoppet" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
