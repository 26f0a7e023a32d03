"""The SQLite event log that keeps its connections (`orchestration.event_log`): the same files,
rows and answers as Dagster's own storage, with far fewer connections opened."""

import dagster as dg
import pytest
import sqlalchemy
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.orchestration.event_log import KEPT_ENGINES, KeptSqliteEventLogStorage
from dfdg_assets.orchestration.instance import open_instance


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b", "c"]))
def maaned(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for key in context.partition_keys:
        context.add_asset_metadata({"n": len(key)}, partition_key=key)
    return dg.MaterializeResult()


@dg.asset_check(asset=maaned)
def tjek() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@pytest.fixture
def connects():
    """The event log's SQLite connections the process opens (its databases are in
    `history/runs/`; SQLAlchemy's `connect` event, any engine)."""
    opened: list[str] = []

    def count(dbapi_connection, record):
        (_, _, path), *_ = dbapi_connection.execute("PRAGMA database_list").fetchall()
        if "/history/runs/" in path:
            opened.append(path)

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "connect", count)
    yield opened
    sqlalchemy.event.remove(sqlalchemy.engine.Engine, "connect", count)


def _materialize(instance: dg.DagsterInstance) -> str:
    result = dg.materialize(
        [maaned, tjek],
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "a",
            "dagster/asset_partition_range_end": "c",
        },
    )
    assert result.success
    return result.run_id


def test_a_data_root_instance_keeps_its_event_log_connections(tmp_path, connects):
    instance = open_instance(DataRoot.of(tmp_path / "rod"))
    assert isinstance(instance.event_log_storage, KeptSqliteEventLogStorage)
    run_id = _materialize(instance)
    kept_connects = len(connects)
    events = instance.get_records_for_run(run_id, limit=10_000).records
    assert len(events) > 20
    # every partition's materialization and the check's evaluation, as Dagster records them
    mats = instance.fetch_materializations(dg.AssetKey("maaned"), limit=10).records
    assert sorted(r.partition_key for r in mats) == ["a", "b", "c"]
    assert {r.asset_materialization.metadata["n"].value for r in mats} == {1}
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("maaned"), "tjek")]
    )
    assert len(check) == 1

    # Dagster's own storage reads the same files and finds the same rows
    plain = SqliteEventLogStorage(instance.event_log_storage._base_dir)
    again = plain.get_records_for_run(run_id, limit=10_000).records
    assert [r.storage_id for r in again] == [r.storage_id for r in events]

    # the same run with Dagster's storage opens a connection per use: several times as many
    connects.clear()
    home = tmp_path / "plain"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    _materialize(dg.DagsterInstance.from_config(str(home)))
    assert len(connects) > 3 * kept_connects


def test_kept_connections_are_bounded_and_closed_before_a_wipe(tmp_path):
    storage = KeptSqliteEventLogStorage(str(tmp_path / "runs"))
    for i in range(KEPT_ENGINES + 4):
        with storage.run_connection(f"run-{i}") as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    assert len(storage._engines) == KEPT_ENGINES
    assert list(storage._engines)[-1] == f"run-{KEPT_ENGINES + 3}"
    storage.wipe()  # the run databases' connections closed before their files go
    assert set(storage._engines) <= {"index"}
    assert not list((tmp_path / "runs").glob("run-*.db"))
    with storage.run_connection("run-0") as conn:  # opened again on next use
        assert conn.execute(sqlalchemy.text("SELECT count(*) FROM event_logs")).scalar() == 0


def _index(root: DataRoot):
    return root.dagster_home / "history" / "runs" / "index.db"


@pytest.mark.parametrize("left", ["empty file", "tables without revision"])
def test_an_index_a_killed_process_left_unfinished_is_initialised(tmp_path, left):
    """A process killed while Dagster created the index database left the file without its
    tables (or with them, before their alembic revision was committed). Dagster initialises the
    index only when the file is missing, so the next load failed on the dynamic partitions
    table; the instance opened again now finishes the index, as a new one is made."""
    root = DataRoot.of(tmp_path / "rod")
    index = _index(root)
    index.parent.mkdir(parents=True)
    if left == "empty file":
        index.touch()
    else:
        from dagster._core.storage.event_log.schema import SqlEventLogStorageMetadata

        engine = sqlalchemy.create_engine(f"sqlite:///{index}")
        SqlEventLogStorageMetadata.create_all(engine)
        engine.dispose()
    instance = open_instance(root)
    assert instance.event_log_storage.has_table("dynamic_partitions")
    instance.add_dynamic_partitions("maaned", ["2020-01"])
    assert instance.get_dynamic_partitions("maaned") == ["2020-01"]
    _materialize(instance)
    fresh = open_instance(DataRoot.of(tmp_path / "ny"))
    _materialize(fresh)
    for inst in (instance, fresh):  # the same revision and secondary indexes as a new index
        storage = inst.event_log_storage
        with storage.index_connection() as conn:
            revision = conn.execute(sqlalchemy.text("SELECT * FROM alembic_version")).all()
            marks = conn.execute(
                sqlalchemy.text("SELECT name FROM secondary_indexes ORDER BY 1")
            ).all()
        assert revision and marks
        if inst is instance:
            got = (revision, marks)
        else:
            assert got == (revision, marks)


def test_an_index_with_events_but_no_revision_is_left_to_dagster(tmp_path):
    """An index holding events without a revision is an older Dagster's: not stamped here."""
    root = DataRoot.of(tmp_path / "rod")
    instance = open_instance(root)
    _materialize(instance)
    instance.dispose()
    engine = sqlalchemy.create_engine(f"sqlite:///{_index(root)}")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM alembic_version"))
    KeptSqliteEventLogStorage(str(_index(root).parent))
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT * FROM alembic_version")).all() == []
    engine.dispose()
