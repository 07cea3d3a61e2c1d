"""The schema comes from migrations on both backends, timestamps stay UTC-aware, and SQLite writers queue."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect, select
from sqlalchemy.exc import OperationalError

from engine.storage import db as storage_db
from engine.storage.db import Database
from engine.storage.models import CaseEvent, Deployment, utcnow
from engine.tables import metadata


def test_upgrade_creates_every_table_and_timestamps_round_trip_in_utc(db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()
    db.upgrade()  # a second start on a current database changes nothing
    tables = set(inspect(db.engine).get_table_names())
    assert {"accounts", "deployments", "cases", "work_items", "case_events", "materials"} <= tables
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with db.write() as s:
        s.add(
            Deployment(key="k", version=1, digest="d" * 64, manifest={"名": "企业"}, files={}, created_at=at)
        )
    with db.read() as s:
        row = s.scalars(select(Deployment)).one()
        assert row.created_at == at and row.created_at.tzinfo is not None
        assert row.manifest == {"名": "企业"}
        assert s.scalars(select(CaseEvent)).all() == []
    db.dispose()


def test_migrations_build_exactly_the_schema_the_models_declare(db_url: str) -> None:
    """A table or column added to a model without a migration (or the reverse) fails here."""
    db = Database(db_url)
    db.upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        drift = compare_metadata(context, metadata)
    db.dispose()
    assert drift == [], drift


def _deploy(
    db: Database, key: str, entered: threading.Event | None = None, release: threading.Event | None = None
) -> None:
    """A write adding a deployment row; with events, held open from ``entered`` until ``release``."""
    with db.write() as s:
        s.add(Deployment(key=key, version=1, digest=key[0] * 64, manifest={}, files={}, created_at=utcnow()))
        if entered is not None and release is not None:
            s.flush()  # SQLite's write lock is held from here
            entered.set()
            release.wait(10)


def _functions_on_stack(thread: threading.Thread) -> list[str]:
    """The names of the functions a running thread is in now, innermost first."""
    frame: FrameType | None = sys._current_frames().get(thread.ident or 0)
    names: list[str] = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return names


def test_an_sqlite_writer_waits_for_the_writer_before_it_in_this_process_not_in_sqlites_busy_loop(
    tmp_path: Path,
) -> None:
    """A second writer starts its transaction only once the first has committed (no polling for the file)."""
    db = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    db.upgrade()
    moments: list[tuple[str, str, float]] = []

    def seen(what: str) -> Callable[[Any], None]:
        return lambda _conn: moments.append((what, threading.current_thread().name, time.monotonic()))

    event.listen(db.engine, "begin", seen("begin"), insert=True)  # before BEGIN IMMEDIATE runs
    event.listen(db.engine, "commit", seen("commit"))
    entered, release = threading.Event(), threading.Event()
    first = threading.Thread(target=_deploy, args=(db, "held", entered, release), name="first")
    first.start()
    assert entered.wait(10)

    second = threading.Thread(target=_deploy, args=(db, "next"), name="second")
    second.start()
    time.sleep(0.3)  # the second writer has asked for its turn by now
    waiting_in = _functions_on_stack(second)
    assert "_turn_to_write" in waiting_in and "_sqlite_begin" not in waiting_in  # not polling SQLite
    assert [what for what, who, _at in moments if who == "second"] == []  # not begun: waiting its turn
    release.set()
    first.join(10)
    second.join(10)
    begun = {who: at for what, who, at in moments if what == "begin"}
    committed = {who: at for what, who, at in moments if what == "commit"}
    assert set(committed) == {"first", "second"} and begun["second"] >= committed["first"]
    with db.read() as s:
        assert sorted(s.scalars(select(Deployment.key))) == ["held", "next"]
    db.dispose()


def test_an_sqlite_writer_that_waits_too_long_for_its_turn_gets_the_database_locked_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    db.upgrade()
    monkeypatch.setattr(storage_db, "SQLITE_LOCK_SECONDS", 0.2)
    entered, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_deploy, args=(db, "held", entered, release))
    holder.start()
    try:
        assert entered.wait(10)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), db.write():
            pass
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join(10)
    with db.write() as s:  # the turn comes back once the holder is done
        assert s.scalars(select(Deployment.key)).all() == ["held"]
    db.dispose()
