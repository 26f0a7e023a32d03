"""Incremental builds of the unpartitioned tables (storage/increments.py): merging a newer month
into the current table gives exactly the rows a build from all history gives, and anything but
newer months (a corrected month, a re-ingest, a killed build) falls back to the full build."""

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dfdg_assets.core.publishing import Segments, build_incrementally
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.dimensions.assets import BORGER_SCHEMA, CITIZEN_SOURCES, _dim_borger
from dfdg_assets.generate import generate
from dfdg_assets.raw.ingest import history_table, ingest_delivery, raw_table, versions
from dfdg_assets.staging import assets as stg
from dfdg_assets.staging.schemas import course_schema
from dfdg_assets.storage import Warehouse, increments

MONTHS = ["2020-10", "2020-11", "2020-12", "2021-01"]
RECORDS = ("visitation", "aktivitet", "samtale")


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "inbox"
    generate(out, kommuner=2, borgere=200, fra=MONTHS[0], til=MONTHS[-1], seed=11)
    return out


def _ingest(wh: Warehouse, inbox: Path, month: str) -> None:
    d = ingest_delivery(inbox / month, wh, accept_over_threshold=True)
    wh.write_many(d.frames)


def _builders(root: DataRootResource):
    """(table, sources, full build, merge, schema) of every incrementally built table, as its
    asset builds it."""
    wh = root.warehouse
    out = [
        (
            f"stg_{n}",
            [raw_table(n), history_table(n)],
            lambda n=n: stg.record_segments(wh, n),
            lambda m, n=n: stg.merge_record_staging(wh, n, m),
            stg.staging_table_schema(n, list(stg.RECORD_KEYS[n])),
        )
        for n in RECORDS
    ]
    out.append(
        (
            "stg_samtale_deltager",
            [raw_table("samtale"), raw_table("samtale_deltager")],
            lambda: stg.participants(versions(wh, "samtale"), versions(wh, "samtale_deltager")),
            lambda m: stg.merge_participants(wh, m),
            stg.staging_table_schema("samtale_deltager", None),
        )
    )
    out.append(
        (
            "stg_visitationsforloeb",
            [raw_table("visitation")],
            lambda: stg.courses(stg.scan_staging(root, "visitation")),
            lambda m: stg.merge_courses(root, m),
            course_schema(),
        )
    )
    out.append(
        (
            "dim_borger",
            [raw_table(n) for n in CITIZEN_SOURCES],
            lambda: _dim_borger(wh, None),
            lambda m: _dim_borger(wh, m),
            BORGER_SCHEMA,
        )
    )
    return out


def _build(root: DataRootResource) -> dict[str, str]:
    """Build every table as the assets do (`build_incrementally`); returns how each was built."""
    how = {}
    for table, sources, full, merge, schema in _builders(root):
        months = increments.new_months(root.warehouse, table, sources)
        build_incrementally(root, table, sources, full, merge, schema)
        how[table] = "full" if months is None else ",".join(months)
    return how


def _as_stored(table: str, built) -> pl.DataFrame:
    """A full build's rows in the order the table stores them (segment by segment)."""
    if isinstance(built, Segments):
        parts = [df for _, df in built.parts]
        return pl.concat(parts) if parts else built.new_rows
    return built


def _assert_as_full(root: DataRootResource) -> None:
    for table, _, full, _, _ in _builders(root):
        got = root.warehouse.read(table)
        assert_frame_equal(got, _as_stored(table, full()), check_row_order=True)


def test_month_by_month_merges_and_equals_the_full_build(inbox, tmp_path):
    root = DataRootResource(root=str(tmp_path / "data"))
    wh = root.warehouse
    hows = []
    for month in MONTHS:
        _ingest(wh, inbox, month)
        hows.append(_build(root))
        _assert_as_full(root)
    assert set(hows[0].values()) == {"full"}  # nothing recorded yet
    for month, how in zip(MONTHS[1:], hows[1:], strict=True):
        assert set(how.values()) == {month}, how  # every later month merged alone
    # the merged tables are real content: citizens, courses, participants
    assert wh.read("dim_borger").height > 200
    assert wh.read("stg_visitationsforloeb").height > 50
    assert wh.read("stg_samtale_deltager").height > 0


@pytest.mark.parametrize("per_pass", [1, 4])
def test_several_new_months_merge_together_as_the_full_build(
    inbox, tmp_path, monkeypatch, per_pass
):
    """A load catching up on several months merges them at once: their versions are read
    newest month first, `per_pass` months at a time, and give the full build's rows."""
    from dfdg_assets.dimensions.build import latest_of_months

    monkeypatch.setattr(
        stg, "latest_of_months", lambda frames, key: latest_of_months(frames, key, per_pass)
    )
    root = DataRootResource(root=str(tmp_path / "data"))
    wh = root.warehouse
    _ingest(wh, inbox, MONTHS[0])
    _build(root)
    for month in MONTHS[1:]:
        _ingest(wh, inbox, month)
    how = _build(root)
    assert set(how.values()) == {",".join(MONTHS[1:])}, how
    _assert_as_full(root)
    assert wh.read("stg_aktivitet").height > 100


def _built_through(inbox, tmp_path, months: int):
    """A data root with the first `months` deliveries ingested and built one at a time."""
    root = DataRootResource(root=str(tmp_path / "data"))
    for month in MONTHS[:months]:
        _ingest(root.warehouse, inbox, month)
        _build(root)
    return root, root.warehouse


def test_a_corrected_month_rebuilds_from_all_history(inbox, tmp_path):
    root, wh = _built_through(inbox, tmp_path, 3)
    # the November delivery again (a correction): a source month changed -> full build
    _ingest(wh, inbox, MONTHS[1])
    assert set(_build(root).values()) == {"full"}
    _assert_as_full(root)
    # then the next month merges again
    _ingest(wh, inbox, MONTHS[3])
    assert set(_build(root).values()) == {MONTHS[3]}
    _assert_as_full(root)


def test_an_older_month_arriving_late_rebuilds(inbox, tmp_path):
    root = DataRootResource(root=str(tmp_path / "data"))
    wh = root.warehouse
    for month in (MONTHS[0], MONTHS[2]):
        _ingest(wh, inbox, month)
        _build(root)
    _ingest(wh, inbox, MONTHS[1])  # November after December
    assert set(_build(root).values()) == {"full"}
    _assert_as_full(root)


def test_a_table_replaced_after_its_record_was_written_rebuilds(inbox, tmp_path):
    """A kill between publishing a table and writing its record leaves a record naming an older
    version of the table: the next build cannot trust it and builds from all history."""
    root = DataRootResource(root=str(tmp_path / "data"))
    wh = root.warehouse
    _ingest(wh, inbox, MONTHS[0])
    _build(root)
    _ingest(wh, inbox, MONTHS[1])
    wh.write("stg_visitation", wh.read("stg_visitation").head(3))  # published, record not
    sources = [raw_table("visitation"), history_table("visitation")]
    assert increments.new_months(wh, "stg_visitation", sources) is None
    assert increments.new_months(wh, "stg_aktivitet", [raw_table("aktivitet")]) == [MONTHS[1]]


def test_no_record_or_a_torn_record_means_full(tmp_path):
    wh = Warehouse(tmp_path / "wh")
    wh.write("raw_visitation", pl.DataFrame({"a": [1]}), "2020-10")
    wh.write("stg_visitation", pl.DataFrame({"a": [1]}))
    assert increments.new_months(wh, "stg_visitation", ["raw_visitation"]) is None
    increments.record_sources(
        wh, "stg_visitation", increments.source_versions(wh, ["raw_visitation"])
    )
    assert increments.new_months(wh, "stg_visitation", ["raw_visitation"]) == []
    (wh.path / increments.STATE_DIR / "stg_visitation.json").write_text("{not json")
    assert increments.new_months(wh, "stg_visitation", ["raw_visitation"]) is None


def test_the_full_build_reads_months_newest_first_with_the_same_rows(inbox, tmp_path):
    """The full build of a record table (months newest first, a few at a time, then the versions
    carried from pruned deliveries) equals R3 over every version at once, with re-sent records
    in several months and carried versions older than every delivery."""
    from dfdg_assets.core.cpr import surrogate_keys
    from dfdg_assets.ingest import contract
    from dfdg_assets.staging.versions import latest_version, with_borger_key

    root = DataRootResource(root=str(tmp_path / "data"))
    wh = root.warehouse
    for month in MONTHS:
        _ingest(wh, inbox, month)
    for n in RECORDS:
        first = wh.read(raw_table(n), [MONTHS[0]])
        carried = pl.concat(  # two older versions of some records, and records no delivery has
            [
                first.head(5).with_columns(pl.lit("2019-11").alias("data_maaned")),
                first.head(3).with_columns(pl.lit("2019-12").alias("data_maaned")),
                first.tail(2).with_columns(
                    pl.lit("2019-12").alias("data_maaned"),
                    (pl.col(contract.RECORD_KEYS[n][0]) + "-gl").alias(contract.RECORD_KEYS[n][0]),
                ),
            ]
        )
        wh.write(history_table(n), carried)
        key = list(contract.RECORD_KEYS[n])
        current = latest_version(versions(wh, n), key).collect()
        keys = pl.DataFrame(
            {"cpr": current["cpr"], "borger_key": surrogate_keys(current["cpr"], wh.key_secret())}
        ).unique()
        want = with_borger_key(current.lazy(), keys).sort(key).collect()
        got = stg.build_record_staging(wh, n)
        assert_frame_equal(got, want, check_row_order=True)
        assert got.filter(pl.col(key[0]).str.ends_with("-gl")).height == 2


def test_a_visitation_resent_for_another_citizen_rebuilds_both_chains(inbox, tmp_path):
    """R3 moves a re-sent visitation to its new citizen: the course chain of the citizen who had
    it must be built again too, or the merge keeps a course the full build no longer has."""
    root, wh = _built_through(inbox, tmp_path, 2)
    _ingest(wh, inbox, MONTHS[2])
    first = wh.read(raw_table("visitation"), [MONTHS[0]])
    new = wh.read(raw_table("visitation"), [MONTHS[2]])
    moved = first.head(1)
    other = new.filter(pl.col("cpr") != moved["cpr"][0])["cpr"][0]
    resent = moved.with_columns(pl.lit(other).alias("cpr"), pl.lit(MONTHS[2]).alias("data_maaned"))
    wh.write(raw_table("visitation"), pl.concat([new, resent.select(new.columns)]), MONTHS[2])
    how = _build(root)
    assert how["stg_visitationsforloeb"] == MONTHS[2]  # merged, not rebuilt
    _assert_as_full(root)


def test_a_merge_rewrites_only_the_segments_its_records_fall_in(inbox, tmp_path):
    """The record tables are stored by the month of each record's date: a new month rewrites
    the segments holding its records (new ones, or earlier versions of them), and every other
    segment keeps its version file."""
    root, wh = _built_through(inbox, tmp_path, 2)
    before = {t: increments.table_versions(wh, t) for t in (f"stg_{n}" for n in RECORDS)}
    _ingest(wh, inbox, MONTHS[2])
    assert _build(root)["stg_aktivitet"] == MONTHS[2]
    _assert_as_full(root)
    for n in RECORDS:
        table = f"stg_{n}"
        after = increments.table_versions(wh, table)
        new = wh.read(raw_table(n), [MONTHS[2]])
        date = stg.SEGMENT_DATE[n]
        touched = {f"start-{d:%Y-%m}" for d in new[date]}
        changed = {p for p, v in after.items() if before[table].get(p) != v}
        assert touched <= changed, table
        # an unchanged segment is one the month's records do not fall in (nor held them before)
        assert len(changed) < len(after), table
        assert all(p.startswith("start-") for p in after), table
        assert "alle" not in after


def test_a_corrected_date_moves_the_record_to_its_new_segment(inbox, tmp_path):
    root, wh = _built_through(inbox, tmp_path, 2)
    _ingest(wh, inbox, MONTHS[2])
    old = wh.read(raw_table("aktivitet"), [MONTHS[0]]).head(1)
    moved = old.with_columns(
        pl.col("startdato") - pl.duration(days=400), pl.lit(MONTHS[2]).alias("data_maaned")
    )
    new = wh.read(raw_table("aktivitet"), [MONTHS[2]])
    wh.write(raw_table("aktivitet"), pl.concat([new, moved.select(new.columns)]), MONTHS[2])
    assert _build(root)["stg_aktivitet"] == MONTHS[2]
    _assert_as_full(root)
    rows = wh.scan("stg_aktivitet").filter(pl.col("aktivitet_id") == old["aktivitet_id"][0])
    assert rows.select(pl.len()).collect().item() == 1
    assert rows.collect()["startdato"][0] == moved["startdato"][0]


def test_a_table_of_the_earlier_layout_is_rebuilt_into_segments(inbox, tmp_path):
    """A record table stored whole (`alle`, the layout before segments) is built again from all
    history into segments, and the whole-table file is deleted with every version of it."""
    root = DataRootResource(root=str(tmp_path / "data"))
    wh = root.warehouse
    _ingest(wh, inbox, MONTHS[0])
    _build(root)
    whole = stg.build_record_staging(wh, "samtale")
    for p in wh.partitions("stg_samtale"):
        wh.delete("stg_samtale", p)
    wh.write("stg_samtale", whole)
    increments.record_sources(  # as the earlier layout recorded it: the table's one file
        wh, "stg_samtale", increments.source_versions(wh, [raw_table("samtale")])
    )
    (wh.path / increments.STATE_DIR / "stg_samtale.json").write_text(
        '{"tabel": "alle~0.parquet", "kilder": {}}'
    )
    _ingest(wh, inbox, MONTHS[1])
    assert _build(root)["stg_samtale"] == "full"
    assert "alle" not in wh.partitions("stg_samtale")
    assert not list((wh.table_dir("stg_samtale") / "_v").glob("alle~*"))
    _assert_as_full(root)
