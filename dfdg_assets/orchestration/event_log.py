"""Dagster's embedded SQLite event log, with each database's connection kept for the next event.

Dagster's `SqliteEventLogStorage` opens a new SQLAlchemy engine and SQLite connection for every
read and write, and asks SQLite whether a table exists before every check event. A national
refresh stores about 860 events (each asset and check event in two databases: the run's and the
index), and those connections cost 1.8-2.0 ms each against 0.6 ms for one kept open: about
4-5 s of a refresh. This storage keeps one engine per database for the few most recent
databases (the index and the current runs), and remembers tables it has found.

Everything else is Dagster's: the same files (`history/runs/<run id>.db` and `index.db`
under the Dagster home), the same schema and migrations, WAL mode, and one lock around every
use of a connection in the process, as before. SQLite keeps no lock between transactions, so
other processes (the webserver, the daemon, a second `dfdg`) read and write as they did. A killed
process leaves its databases as SQLite leaves them after any kill (the WAL is recovered on next
open). `wipe` closes the kept connections before it deletes files.

Selected in `dagster.yaml` as `event_log_storage` (`orchestration.instance`) when no PostgreSQL
URL is set; PostgreSQL keeps Dagster's own pooled storage.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import check_alembic_revision, get_alembic_config
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

MODULE = __name__
CLASS = "KeptSqliteEventLogStorage"
#: engines kept: the index and the databases of the runs being written or watched
KEPT_ENGINES = 6


class KeptSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose engines (one connection each) outlive a single event."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)
        self._finish_index()

    def _finish_index(self) -> None:
        """Initialise an index database that a killed process left unfinished.

        Dagster initialises the index only when its file does not exist. A process killed after
        SQLite created the file, but before the tables and their alembic revision were
        committed, left a file that the next process never initialises: its first look for the
        dynamic partitions table then fails ("run `dagster instance migrate`"). An index without
        its revision holds no events (they are written after it), so it is initialised as a new
        one is: the tables, the revision at head, the secondary indexes marked as built."""
        engine = create_engine(
            self.conn_string_for_shard(INDEX_SHARD_NAME),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        try:
            with engine.connect() as conn:
                revision, _head = check_alembic_revision(
                    get_alembic_config(sqlite_event_log.__file__), conn
                )
                if revision:
                    return
                # events without a revision: a database of an older Dagster, not ours to stamp
                if (
                    engine.dialect.has_table(conn, "event_logs")
                    and conn.execute(text("SELECT 1 FROM event_logs LIMIT 1")).first()
                ):
                    return
            self._initdb(engine)  # not as the index shard: the revision stamped is head
        finally:
            engine.dispose()
        self.reindex_events()
        self.reindex_assets()

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> KeptSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, made (and its database initialised) on first use."""
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        url = self.conn_string_for_shard(shard)
        timeout = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        if shard not in self._initialized_dbs:  # as Dagster does it: an engine of its own
            init = create_engine(url, poolclass=NullPool, connect_args=timeout)
            self._initdb(init)
            init.dispose()
            self._initialized_dbs.add(shard)
        # one connection, used under the lock; any thread may be the one holding it
        engine = create_engine(
            url, pool_size=1, max_overflow=0, connect_args={**timeout, "check_same_thread": False}
        )
        self._engines[shard] = engine
        while len(self._engines) > KEPT_ENGINES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        """Whether the index has the table; a table found stays found (Dagster's migrations add
        tables, nothing here drops one)."""
        if table_name in self._tables:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables.add(table_name)
        return found

    def close_connections(self) -> None:
        """Close every kept connection (they are opened again on next use)."""
        with self._db_lock:
            while self._engines:
                _, engine = self._engines.popitem(last=False)
                engine.dispose()

    def wipe(self) -> None:
        self.close_connections()
        super().wipe()

    def dispose(self) -> None:
        self.close_connections()
        super().dispose()
