"""Monthly partitions kept when their sources did not change (storage/month_sources.py): the
record's rules, and in the roll-out job the kept months equal a build from scratch."""

import datetime as dt
import subprocess

import dagster as dg
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfdg_assets.core.cpr import surrogate_keys
from dfdg_assets.core.settings import DataRoot
from dfdg_assets.core.weeks import week_frame
from dfdg_assets.facts import benefit_assets
from dfdg_assets.facts.benefit_assets import POP_COLS
from dfdg_assets.ingest.contract import YR_FIRST_MONTH
from dfdg_assets.orchestration.instance import open_instance
from dfdg_assets.orchestration.jobs import ROLLOUT_JOB
from dfdg_assets.orchestration.ledger import RolloutPlan
from dfdg_assets.orchestration.loader import _run_config
from dfdg_assets.orchestration.runs import run_job
from dfdg_assets.raw.ingest import versions
from dfdg_assets.rules.benefits import current_yr_rows, population_16_66
from dfdg_assets.staging import benefits as staging_benefits
from dfdg_assets.staging.benefits import YDELSE_COLS, week_spans, yr_rows_by_month, yr_sources
from dfdg_assets.storage import Warehouse, month_sources

MONTHS = ["2019-12", "2020-01", "2020-02"]


def test_a_record_holds_while_table_and_sources_are_unchanged(tmp_path):
    wh = Warehouse(tmp_path / "warehouse")
    src = {"raw_x": ["2020-01"]}
    wh.write("raw_x", pl.DataFrame({"a": [1]}), "2020-01")
    assert not month_sources.unchanged(wh, "t", "2020-01", src)  # not built
    wh.write("t", pl.DataFrame({"b": [1]}), "2020-01")
    assert not month_sources.unchanged(wh, "t", "2020-01", src)  # built, no record
    month_sources.record(wh, "t", "2020-01", src)
    assert month_sources.unchanged(wh, "t", "2020-01", src)
    # a source written again (even with the same rows) is a change
    wh.write("raw_x", pl.DataFrame({"a": [1]}), "2020-01")
    assert not month_sources.unchanged(wh, "t", "2020-01", src)
    month_sources.record(wh, "t", "2020-01", src)
    # another source partition to read, or a missing one, is a change
    assert not month_sources.unchanged(wh, "t", "2020-01", {"raw_x": ["2020-01", "2020-02"]})
    wh.write("raw_x", pl.DataFrame({"a": [2]}), "2020-02")
    assert not month_sources.unchanged(wh, "t", "2020-01", {"raw_x": ["2020-01", "2020-02"]})
    assert month_sources.unchanged(wh, "t", "2020-01", src)
    # the partition written after its record (a kill before the record): build
    wh.write("t", pl.DataFrame({"b": [1]}), "2020-01")
    assert not month_sources.unchanged(wh, "t", "2020-01", src)
    # a torn record: build
    month_sources.record(wh, "t", "2020-01", src)
    f = wh.path / month_sources.STATE_DIR / "t" / "2020-01.json"
    f.write_text(f.read_text()[:10])
    assert not month_sources.unchanged(wh, "t", "2020-01", src)


def _rollout(root: DataRoot) -> None:
    plan = RolloutPlan(MONTHS[0], MONTHS[-1], "test")
    outcome = run_job(open_instance(root), ROLLOUT_JOB, _run_config(root), plan.tags)
    assert outcome.success, outcome.failure


def _as_built(wh: Warehouse) -> None:
    """Every month of stg_ydelse and fct_befolkning_16_66 equals a build from scratch."""
    for m, fresh in yr_rows_by_month(wh, MONTHS):
        assert wh.read("stg_ydelse", [m], schema=YDELSE_COLS).equals(fresh), m
    for m in MONTHS:
        fresh = (
            population_16_66(wh.scan("raw_borger", [m]), m)
            .with_columns(pl.lit(m).alias("maaned"))
            .sort("kommunekode")
            .collect()
        )
        stored = wh.read("fct_befolkning_16_66", [m], schema=POP_COLS)
        assert stored.equals(fresh.select(stored.columns)), m


def test_rollout_keeps_unchanged_months_and_rebuilds_changed_ones(
    generated_loaded, tmp_path, monkeypatch
):
    # cp -a keeps the hard links between partitions and their versions (what the record names)
    subprocess.run(
        ["cp", "-a", str(generated_loaded.root.root), str(tmp_path / "data")], check=True
    )
    root = DataRoot.of(tmp_path / "data")
    wh = Warehouse(root.warehouse)
    sources = yr_sources(wh, MONTHS)
    # after the load every month is recorded against its current sources
    assert all(month_sources.unchanged(wh, "stg_ydelse", m, sources[m]) for m in MONTHS)
    assert sources["2020-01"]["raw_ydelse"] == ["2020-01", "2020-02"]  # the Jan. weeks re-sent
    for m in MONTHS:
        assert month_sources.unchanged(wh, "fct_befolkning_16_66", m, {"raw_borger": [m]})

    # a snapshot changes: that month is built again, the others are kept
    residents = wh.read("raw_borger", ["2020-01"])
    wh.write("raw_borger", residents.head(residents.height // 2), "2020-01")
    before = wh.read("fct_befolkning_16_66", ["2020-01"])
    # a later YR delivery re-sends a January citizen-week with another amount (R3)
    jan = wh.read("raw_ydelse", ["2020-01"])
    week = sorted(set(jan["uge"]))[0]
    resent = jan.filter(pl.col("uge") == week).head(1)
    resent = resent.with_columns(
        pl.lit("2020-02").alias("data_maaned"), (pl.col("udbetalt_beloeb") + 1234.5)
    )
    feb = wh.read("raw_ydelse", ["2020-02"])
    wh.write("raw_ydelse", pl.concat([feb, resent.select(feb.columns)]), "2020-02")

    _rollout(root)
    _as_built(wh)
    after = wh.read("fct_befolkning_16_66", ["2020-01"])
    assert after["antal_borgere_16_66"].sum() < before["antal_borgere_16_66"].sum()
    amounts = wh.read("stg_ydelse", ["2020-01"]).filter(pl.col("uge") == week)
    assert resent["udbetalt_beloeb"][0] in amounts["udbetalt_beloeb"].to_list()  # it won (R3)
    for m in MONTHS:
        assert month_sources.unchanged(wh, "fct_befolkning_16_66", m, {"raw_borger": [m]})

    # nothing changed: a second roll-out keeps every month (builds nothing), with the same rows
    kept = {t: {m: wh.read(t, [m]) for m in MONTHS} for t in ("stg_ydelse", "fct_befolkning_16_66")}
    files = {m: wh.current_version("stg_ydelse", m) for m in MONTHS}

    def no_build(*_args):
        raise AssertionError("built although nothing changed")

    monkeypatch.setattr(benefit_assets, "population_16_66", no_build)
    monkeypatch.setattr(staging_benefits, "_yr_rows", no_build)
    _rollout(root)
    for t, months in kept.items():
        for m, df in months.items():
            assert wh.read(t, [m]).equals(df), (t, m)
    # stg_ydelse's kept months are not even written again (the same version files), and each
    # month's materialization in the run still carries its row count
    assert {m: wh.current_version("stg_ydelse", m) for m in MONTHS} == files
    instance = open_instance(root)
    records = instance.fetch_materializations(dg.AssetKey("stg_ydelse"), limit=100).records
    latest = {}
    for r in sorted(records, key=lambda r: r.storage_id):
        latest[r.asset_materialization.partition] = r.asset_materialization.metadata
    for m in MONTHS:
        meta = latest[f"{m}-01"]
        assert meta["dagster/row_count"].value == kept["stg_ydelse"][m].height, m
        assert meta["uaendret"].value is True, m


DEBT_MONTHS = ["2019-12", "2020-01", "2020-02"]


def _root_owing(generated_loaded, tmp_path, debt_id: str, groups: dict[str, str]):
    """A copy of the loaded sample owing a roll-out of DEBT_MONTHS, each record group's weekly
    facts changing from the month in `groups` (cp -a keeps partitions linked to versions)."""
    from dfdg_assets.storage.warehouse import ROLLOUT_DEBT, _write_json_atomic

    subprocess.run(
        ["cp", "-a", str(generated_loaded.root.root), str(tmp_path / "data")], check=True
    )
    root = DataRoot.of(tmp_path / "data")
    wh = Warehouse(root.warehouse)
    _write_json_atomic(
        wh.path / ROLLOUT_DEBT,
        {"fra": DEBT_MONTHS[0], "til": DEBT_MONTHS[-1], "id": debt_id, "fra_pr_gruppe": groups},
    )
    return root, wh


def _run_metadata(instance, asset: str, run_id: str) -> dict:
    """Month -> the metadata of the asset's materialization of that month in the run."""
    latest = {}
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=100)
    for r in sorted(records.records, key=lambda r: r.storage_id):
        if r.run_id == run_id:
            latest[r.asset_materialization.partition[:7]] = r.asset_materialization.metadata
    return latest


def test_a_roll_out_keeps_the_weekly_facts_its_debt_leaves_unchanged(generated_loaded, tmp_path):
    """The roll-out debt says from which month each record group's weekly facts change: earlier
    months of those facts stand as built (checked, not written again), later ones are built; a
    run without that debt (a backfill from the UI) builds every month."""
    months = DEBT_MONTHS
    groups = {"visitation": "2020-02", "aktivitet": "2019-12", "samtale": "2020-01"}
    root, wh = _root_owing(generated_loaded, tmp_path, "gaeld1", groups)
    facts = {
        "fct_visitation_uge": "visitation",
        "fct_aktivitet_uge": "aktivitet",
        "fct_samtale_uge": "samtale",
        "bdg_samtale_deltager": "samtale",
    }
    before = {t: {m: (wh.current_version(t, m), wh.read(t, [m])) for m in months} for t in facts}

    instance = open_instance(root)
    tags = RolloutPlan(months[0], months[-1], "gaeld1").tags
    outcome = run_job(instance, ROLLOUT_JOB, _run_config(root), tags)
    assert outcome.success, outcome.failure
    assert wh.rollout_debt() is None  # settled by this run
    for table, group in facts.items():
        for m in months:
            version, rows = before[table][m]
            assert wh.read(table, [m]).equals(rows), (table, m)  # the same rows either way
            kept = m < groups[group]
            assert (wh.current_version(table, m) == version) == kept, (table, m)
    # every month of the run has its materialization (kept ones say so) and its key check
    latest = _run_metadata(instance, "fct_visitation_uge", outcome.run_id)
    assert sorted(latest) == months
    assert [bool(latest[m].get("uaendret")) for m in months] == [True, True, False]
    assert (
        latest["2019-12"]["dagster/row_count"].value
        == before["fct_visitation_uge"]["2019-12"][1].height
    )
    check = dg.AssetCheckKey(dg.AssetKey("fct_visitation_uge"), "noegle_unik")
    evaluated = {
        rec.partition[:7]
        for rec in instance.event_log_storage.get_asset_check_execution_history(check, limit=50)
        if rec.run_id == outcome.run_id and rec.status.value == "SUCCEEDED"
    }
    assert evaluated == set(months)

    # without the debt's id (a backfill from the UI): every month is built and written
    versions = {m: wh.current_version("fct_visitation_uge", m) for m in months}
    outcome = run_job(
        instance, ROLLOUT_JOB, _run_config(root), RolloutPlan(months[0], months[-1], "").tags
    )
    assert outcome.success, outcome.failure
    assert all(wh.current_version("fct_visitation_uge", m) != versions[m] for m in months)


def test_a_record_with_content_holds_only_for_the_same_digest(tmp_path):
    wh = Warehouse(tmp_path / "warehouse")
    src = {"raw_x": ["2020-01"]}
    wh.write("raw_x", pl.DataFrame({"a": [1]}), "2020-01")
    wh.write("t", pl.DataFrame({"b": [1]}), "2020-01")
    assert month_sources.recorded_content(wh, "t", "2020-01", src) is None  # no record
    month_sources.record(wh, "t", "2020-01", src, "abc")
    assert month_sources.recorded_content(wh, "t", "2020-01", src) == "abc"
    assert month_sources.unchanged(wh, "t", "2020-01", src, "abc")
    assert not month_sources.unchanged(wh, "t", "2020-01", src, "abd")
    assert not month_sources.unchanged(wh, "t", "2020-01", src)  # built from content: say which
    # a source written again: the digest no longer counts
    wh.write("raw_x", pl.DataFrame({"a": [1]}), "2020-01")
    assert month_sources.recorded_content(wh, "t", "2020-01", src) is None
    # a record without content has none to offer
    month_sources.record(wh, "t", "2020-01", src)
    assert month_sources.recorded_content(wh, "t", "2020-01", src) is None
    assert month_sources.unchanged(wh, "t", "2020-01", src)


def test_population_fingerprint_is_the_set_of_citizen_weeks():
    from dfdg_assets.rules.benefits import population_by_week, population_fingerprint

    def digest(courses, acts):
        frame = lambda rows: pl.LazyFrame(  # noqa: E731
            rows, schema={"borger_key": pl.Int64, "uge": pl.String}, orient="row"
        )
        return population_fingerprint(population_by_week(frame(courses), frame(acts)))

    base = digest([(1, "2020-W02"), (2, "2020-W02")], [(1, "2020-W03")])
    # the same citizen-weeks in another order, repeated, or from the other source: the same
    assert base == digest([(2, "2020-W02"), (1, "2020-W02")], [(1, "2020-W03"), (1, "2020-W02")])
    assert base == digest([], [(1, "2020-W03"), (2, "2020-W02"), (1, "2020-W02")])
    # a citizen in another week, one more citizen, a week fewer: different
    assert base != digest([(1, "2020-W02"), (2, "2020-W03")], [(1, "2020-W03")])
    assert base != digest([(1, "2020-W02"), (2, "2020-W02"), (3, "2020-W02")], [(1, "2020-W03")])
    assert base != digest([(1, "2020-W02"), (2, "2020-W02")], [])
    # the keys are not shown: a fixed-size hex digest
    assert len(base) == 32 and int(base, 16) >= 0


def _benefits_as_built(wh: Warehouse, months: list[str]) -> None:
    """fct_borger_ydelse_uge and _maaned of each month equal a build from the stored facts."""
    from dfdg_assets.facts.benefit_assets import BENEFIT_MONTH_COLS, BENEFIT_WEEK_COLS
    from dfdg_assets.facts.schemas import ACTIVITY_WEEK_COLS, VISITATION_WEEK_COLS
    from dfdg_assets.rules.benefits import citizen_month_benefits, citizen_week_benefits_sorted

    for m in months:
        weeks = citizen_week_benefits_sorted(
            wh.scan("fct_visitation_uge", [m], schema=VISITATION_WEEK_COLS),
            wh.scan("fct_aktivitet_uge", [m], schema=ACTIVITY_WEEK_COLS),
            wh.scan("stg_ydelse", [m], schema=YDELSE_COLS),
        ).with_columns(pl.lit(m).alias("maaned"))
        stored = wh.read("fct_borger_ydelse_uge", [m], schema=BENEFIT_WEEK_COLS)
        assert stored.height > 0 and stored.equals(weeks.select(stored.columns)), m
        by_month = citizen_month_benefits(weeks.lazy()).collect()
        stored = wh.read("fct_borger_ydelse_maaned", [m], schema=BENEFIT_MONTH_COLS)
        assert stored.equals(by_month.select(stored.columns)), m


def test_rollout_keeps_benefit_months_whose_citizen_weeks_did_not_change(
    generated_loaded, tmp_path, monkeypatch
):
    """fct_borger_ydelse_uge keeps a month whose YR partition and citizen-weeks are as recorded
    (its activity rows may have been rewritten), fct_borger_ydelse_maaned a month whose weekly
    partition is; a month whose citizen-weeks changed is built again, and every month equals a
    build from scratch."""
    from dfdg_assets.facts.schemas import ACTIVITY_WEEK_COLS
    from dfdg_assets.rules import benefits as rules_benefits

    subprocess.run(
        ["cp", "-a", str(generated_loaded.root.root), str(tmp_path / "data")], check=True
    )
    root = DataRoot.of(tmp_path / "data")
    wh = Warehouse(root.warehouse)
    yr_months = ["2020-01", "2020-02"]
    tables = ("fct_borger_ydelse_uge", "fct_borger_ydelse_maaned")
    for m in yr_months:  # the load recorded what each month was built from
        assert month_sources.recorded_content(wh, "fct_borger_ydelse_uge", m, {"stg_ydelse": [m]})
        assert month_sources.unchanged(
            wh, "fct_borger_ydelse_maaned", m, {"fct_borger_ydelse_uge": [m]}
        )

    # a roll-out that rewrites every weekly fact with the same rows keeps both YR months
    versions = {(t, m): wh.current_version(t, m) for t in tables for m in yr_months}
    real = benefit_assets.citizen_week_benefits_of

    def no_build(*_args):
        raise AssertionError("built although the citizen-weeks did not change")

    monkeypatch.setattr(benefit_assets, "citizen_week_benefits_of", no_build)
    monkeypatch.setattr(benefit_assets, "citizen_month_benefits", no_build)
    _rollout(root)
    assert {k: wh.current_version(*k) for k in versions} == versions
    assert wh.current_version("fct_aktivitet_uge", "2020-02") is not None
    _benefits_as_built(wh, yr_months)
    monkeypatch.setattr(benefit_assets, "citizen_week_benefits_of", real)
    monkeypatch.setattr(
        benefit_assets, "citizen_month_benefits", rules_benefits.citizen_month_benefits
    )

    # a February citizen-week appears (a citizen's activity there is the only one in its week):
    # February is built again, January is kept
    acts = wh.read("fct_aktivitet_uge", ["2020-02"], schema=ACTIVITY_WEEK_COLS)
    assert acts.height
    weekly = wh.read("fct_borger_ydelse_uge", ["2020-02"])
    known = set(zip(weekly["borger_key"], weekly["uge"], strict=True))
    stranger = max(weekly["borger_key"]) + 1
    assert (stranger, acts["uge"][0]) not in known
    stg = "stg_aktivitet"
    part = next(p for p in wh.partitions(stg) if wh.read(stg, [p]).height)
    rows = wh.read(stg, [part])
    week = acts["uge"][0]  # YYYY-Www: its Wednesday, a day of that February week
    day = dt.date.fromisocalendar(int(week[:4]), int(week[6:8]), 3)
    one = rows.head(1).with_columns(
        pl.lit(stranger).alias("borger_key"),
        pl.lit("NY-1").alias("aktivitet_id"),
        pl.lit(day).alias("startdato"),
        pl.lit(day).alias("slutdato"),
    )
    wh.write(stg, pl.concat([rows, one]), part)
    _rollout(root)
    assert (
        wh.current_version("fct_borger_ydelse_uge", "2020-01")
        == versions[("fct_borger_ydelse_uge", "2020-01")]
    )
    assert (
        wh.current_version("fct_borger_ydelse_uge", "2020-02")
        != versions[("fct_borger_ydelse_uge", "2020-02")]
    )
    assert (
        wh.current_version("fct_borger_ydelse_maaned", "2020-02")
        != versions[("fct_borger_ydelse_maaned", "2020-02")]
    )
    assert stranger in wh.read("fct_borger_ydelse_uge", ["2020-02"])["borger_key"].to_list()
    _benefits_as_built(wh, yr_months)


_WEEK = st.builds(lambda y, w: f"{y}-W{w:02d}", st.sampled_from([2020, 2021]), st.integers(1, 52))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    deliveries=st.lists(
        st.tuples(st.lists(_WEEK, max_size=30), st.booleans()), min_size=1, max_size=5
    )
)
def test_week_spans_from_statistics_equal_the_rows(tmp_path_factory, deliveries):
    """The first and last week of each YR partition, taken from the footers' statistics (or
    from the rows of a file written without them), equal the rows' min and max; a partition
    without rows carries no week."""
    wh = Warehouse(tmp_path_factory.mktemp("spans") / "warehouse")
    expected = {}
    for i, (weeks, with_stats) in enumerate(deliveries):
        p = f"2020-{i + 1:02d}"
        df = pl.DataFrame(
            {"cpr": ["x"] * len(weeks), "uge": weeks}, schema={"cpr": pl.String, "uge": pl.String}
        )
        f = wh.partition_file("raw_ydelse", p)
        f.parent.mkdir(parents=True, exist_ok=True)
        df.write_parquet(f, statistics=with_stats, row_group_size=7)
        if weeks:
            expected[p] = (min(weeks), max(weeks))
    assert week_spans(wh, wh.partitions("raw_ydelse")) == expected


def test_yr_rows_read_from_the_carriers_equal_r3_over_every_version(generated_loaded):
    """Each month's YR rows, read from the partitions carrying its weeks, are R3 over every
    stored YR version (all partitions read)."""
    wh = Warehouse(generated_loaded.root.warehouse)
    everything = versions(wh, "ydelse")
    for m in MONTHS:
        ((_, got),) = yr_rows_by_month(wh, [m])
        weeks = week_frame([m])
        if m < YR_FIRST_MONTH:
            assert got.is_empty()
            continue
        plain = current_yr_rows(everything, weeks["uge"].to_list()).collect()
        plain = plain.with_columns(
            surrogate_keys(plain["cpr"], wh.key_secret()).alias("borger_key")
        )
        assert got.height == plain.height > 0, m
        cols = ["borger_key", "uge", "beskaeftigelsesydelse", "udbetalt_beloeb", "data_maaned"]
        assert got.select(cols).sort(cols).equals(plain.select(cols).sort(cols)), m


def test_a_kept_month_is_still_checked_on_its_key_columns(generated_loaded, tmp_path):
    """A kept month is read for its checks with only the columns they use, and a broken key
    in it still fails its check in the run that keeps it."""
    groups = {"visitation": "2020-02", "aktivitet": "2020-02", "samtale": "2020-02"}
    root, wh = _root_owing(generated_loaded, tmp_path, "gaeld2", groups)
    broken = wh.read("fct_aktivitet_uge", ["2020-01"])
    assert broken.height
    wh.write("fct_aktivitet_uge", pl.concat([broken, broken.head(3)]), "2020-01")
    version = wh.current_version("fct_aktivitet_uge", "2020-01")

    instance = open_instance(root)
    tags = RolloutPlan(DEBT_MONTHS[0], DEBT_MONTHS[-1], "gaeld2").tags
    outcome = run_job(instance, ROLLOUT_JOB, _run_config(root), tags)
    assert wh.current_version("fct_aktivitet_uge", "2020-01") == version  # kept, not rebuilt
    check = dg.AssetCheckKey(dg.AssetKey("fct_aktivitet_uge"), "noegle_unik")
    verdicts = {
        rec.partition[:7]: rec.status.value
        for rec in instance.event_log_storage.get_asset_check_execution_history(check, limit=50)
        if rec.run_id == outcome.run_id
    }
    assert verdicts["2020-01"] == "FAILED", verdicts
    assert verdicts["2019-12"] == "SUCCEEDED", verdicts
    latest = _run_metadata(instance, "fct_aktivitet_uge", outcome.run_id)
    assert latest["2020-01"]["dagster/row_count"].value == broken.height + 3
