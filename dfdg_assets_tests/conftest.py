import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dfdg_assets.core.settings import DataRoot


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(dbapi_connection, _record) -> None:
    """The Dagster instances of the tests keep their runs and events in SQLite files under tmp
    folders. Dagster opens a connection per event and SQLite syncs the disk on every commit and
    checkpoint: most of a small load's time. The tests never survive a power cut, so the files are
    written without syncing (a killed process still loses nothing: the OS keeps what was written).
    Only this test process; the product and the CLI subprocesses keep SQLite's default."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


def _engines_shared_per_database() -> None:
    """Dagster's SQLite storages build a new SQLAlchemy engine (NullPool) for every connection
    they open: thousands per load, each compiling its statements afresh, a third of a small
    load's time. In this test process an engine is built once per database file and reused; with
    NullPool every connection is still a fresh SQLite connection opened and closed as before
    (`engine.dispose()` keeps working), only the engine object and its statement cache are
    shared. Only this test process; the product and the CLI subprocesses keep Dagster's own."""
    from dagster._core.storage.event_log.sqlite import (
        consolidated_sqlite_event_log,
        sqlite_event_log,
    )
    from dagster._core.storage.runs.sqlite import sqlite_run_storage
    from dagster._core.storage.schedules.sqlite import sqlite_schedule_storage
    from sqlalchemy.pool import NullPool

    modules = (
        sqlite_event_log,
        consolidated_sqlite_event_log,
        sqlite_run_storage,
        sqlite_schedule_storage,
    )
    for module in modules:
        build = module.create_engine
        if getattr(build, "_dfdg_shared", False):
            continue
        engines: dict = {}

        def shared(url, *args, _build=build, _engines=engines, **kwargs):
            if args or kwargs.get("poolclass") is not NullPool or not str(url).startswith("sqlite"):
                return _build(url, *args, **kwargs)
            key = (str(url), repr(sorted(kwargs.get("connect_args", {}).items())))
            engine = _engines.get(key)
            if engine is None:
                if len(_engines) > 500:  # every run has its own database: keep the newest
                    _engines.pop(next(iter(_engines)))
                engine = _engines[key] = _build(url, **kwargs)
            return engine

        shared._dfdg_shared = True
        module.create_engine = shared


_engines_shared_per_database()


@pytest.fixture
def root(tmp_path: Path) -> DataRoot:
    r = DataRoot.of(tmp_path / "data")
    r.inbox.mkdir(parents=True)
    return r


@pytest.fixture(autouse=True)
def _no_ambient_data_root(monkeypatch):
    monkeypatch.delenv("DFDG_DATA_ROOT", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DFDG_POSTGRES_URL", raising=False)  # tests choose their instance storage
    yield


def warehouse_snapshot(root: DataRoot) -> dict[str, bytes]:
    """Every file under the warehouse with its bytes (the catalogue excluded: it is rebuilt)."""
    out = {}
    if root.warehouse.exists():
        for p in sorted(root.warehouse.rglob("*")):
            if p.is_file() and p.name != "dfdg.duckdb":
                out[str(p.relative_to(root.warehouse))] = p.read_bytes()
    return out


def clone_root(template: DataRoot, dest: Path) -> DataRoot:
    """A private copy of a data root (instance, warehouse, inbox, exports): a test that changes
    a shared loaded root works on one of these. (The copy's DuckDB catalogue still names the
    template's files until its next load rebuilds it; the template never changes.)"""
    shutil.copytree(template.root, dest)
    return DataRoot.of(dest)


# ------------------------------------------------------------------------------------------
# loaded data roots shared by every module (built once per session, never changed by a test:
# a test that writes copies one with clone_root)


@dataclass(frozen=True)
class Loaded:
    root: DataRoot
    report: object  # the LoadReport of the load that built it


def _loaded_worked(tmp_path_factory, name: str, through: str | None) -> Loaded:
    from dfdg_assets.orchestration.loader import load
    from dfdg_assets_tests.deliveries import copy_worked

    root = DataRoot.of(tmp_path_factory.mktemp(name) / "data")
    copy_worked(root.inbox)
    report = load(root, through=through, out=lambda _: None)
    return Loaded(root, report)


@pytest.fixture(scope="session")
def worked_through_october(tmp_path_factory) -> Loaded:
    """Both deliveries of the worked example in the inbox, `dfdg load --through 2020-10`."""
    return _loaded_worked(tmp_path_factory, "worked-oct", "2020-10")


@pytest.fixture(scope="session")
def worked_loaded(tmp_path_factory) -> Loaded:
    """The worked example loaded with one `dfdg load` (two ingests, one rollout)."""
    return _loaded_worked(tmp_path_factory, "worked-all", None)


SAMPLE_KOMMUNER = [101, 751, 825]
SAMPLE_FRA, SAMPLE_TIL = "2019-12", "2020-02"


@pytest.fixture(scope="session")
def generated_loaded(tmp_path_factory) -> Loaded:
    """A generated sample (three municipalities, 500 citizens, 2019-12..2020-02, seed 11) loaded
    with one `dfdg load`."""
    from dfdg_assets.generate import generate
    from dfdg_assets.orchestration.loader import load

    root = DataRoot.of(tmp_path_factory.mktemp("generated") / "data")
    generate(
        root.inbox, kommuner=SAMPLE_KOMMUNER, borgere=500, fra=SAMPLE_FRA, til=SAMPLE_TIL, seed=11
    )
    report = load(root, out=lambda _: None)
    return Loaded(root, report)


os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
