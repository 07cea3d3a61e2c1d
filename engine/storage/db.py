"""Database access: one ``Database`` per process, built from the settings and passed down.

SQLite (the embedded default) runs in WAL mode. ``synchronous`` is a setting: FULL (the
default) makes every commit survive an OS crash or power cut, at one fsync of the WAL per
commit (1-2 ms on these machines, up to 8 ms on a busy disk), so an applicant told that
their application was received can rely on it. NORMAL keeps the database consistent
through a killed process and loses nothing the process committed, but an OS crash or power
cut can roll back the last transactions; it stays a setting for who accepts that. A write
transaction starts with ``BEGIN IMMEDIATE`` so that two processes writing one file queue
on SQLite's lock instead of failing on a read-to-write upgrade. PostgreSQL needs no such
care: mutating operations lock the case row (``SELECT ... FOR UPDATE``).

SQLite lets one writer in at a time, and a writer that finds the file locked polls: its busy
handler sleeps 1, 2, 5 ... up to 100 ms between tries, so under load a waiting writer sleeps
on while the lock is long free, and the unlucky ones wait seconds. The writers of one process
therefore queue on a lock of the process first (``Database.write``): the next one starts the
moment the last one commits, and only writers of other processes meet the busy handler. The
wait is bounded like the busy handler's (``SQLITE_LOCK_SECONDS``) and ends in the same error.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.storage.settings import check_sqlite_synchronous
from engine.storage.spine import Spine, attach

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# How long an SQLite writer waits for the file (``busy_timeout``) and for this process's gate.
SQLITE_LOCK_SECONDS = 30


def upsert_insert(session: Session, table: Any) -> Any:
    """``INSERT`` for the session's dialect, with ``on_conflict_do_nothing/do_update`` (both have them).

    PostgreSQL and SQLite spell upserts the same way in SQLAlchemy but through their own
    dialect's ``insert``; the statements that must not race (counters, first-time rows)
    pick it here.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(table)


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (a conditional UPDATE is how a race is decided)."""
    return int(cast(CursorResult[Any], result).rowcount)


def _sqlite_connect_with(synchronous: str) -> Any:
    level = check_sqlite_synchronous(synchronous)

    def connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (pysqlite's own
        # implicit BEGIN would be deferred, which deadlocks on lock upgrades).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_LOCK_SECONDS * 1000}")
        cursor.close()

    return connect


def _sqlite_begin(conn: Any) -> None:
    mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get("onething_write") else "BEGIN"
    # Straight to the driver: every transaction starts here, and SQLAlchemy's full statement
    # path (events, result set-up) costs several times what SQLite takes to run it.
    conn.connection.driver_connection.execute(mode)


def make_engine(url: str, sqlite_synchronous: str = "FULL", **kwargs: Any) -> Engine:
    """Create a SQLAlchemy engine with onething's connection settings for the dialect."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_LOCK_SECONDS, "check_same_thread": False}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_connect_with(sqlite_synchronous))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """The process's database: engine, sessions for reading and writing, and migrations."""

    def __init__(self, url: str, sqlite_synchronous: str = "FULL", **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, sqlite_synchronous, **engine_kwargs)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(onething_write=True), expire_on_commit=False)
        # SQLite's writers of this process queue here (see the module docstring); reentrant, so
        # a write opened inside another in one thread meets SQLite's own lock, as it did before.
        self._sqlite_gate = threading.RLock() if self.is_sqlite else None
        # What happened to cases, and who follows it (``engine.storage.spine``; subscribers
        # are registered by ``engine.subscribers``).
        self.spine = Spine()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; its transaction ends at the end of the block, never committed.

        ``close`` detaches the loaded objects (they stay readable after the block) and hands
        the connection back, which the pool rolls back. An explicit ``rollback`` first would
        also expire every loaded object, only for ``close`` to detach it: a fifth of a
        small read's cost.
        """
        session = self._read()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session for one atomic change: commits on success, rolls back on any error."""
        with self._turn_to_write(), self._write() as session, session.begin():
            attach(session, self.spine)
            yield session

    @contextmanager
    def _turn_to_write(self) -> Iterator[None]:
        """This process's turn to write to SQLite (see the module docstring); PostgreSQL needs none."""
        gate = self._sqlite_gate
        if gate is None:
            yield
            return
        if not gate.acquire(timeout=SQLITE_LOCK_SECONDS):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        try:
            yield
        finally:
            gate.release()

    def upgrade(self) -> None:
        """Bring the schema to the newest revision (an empty database gets all tables)."""
        config = alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def alembic_config() -> Config:
    """Alembic's configuration, built in code so no ``alembic.ini`` must be found at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
