"""A queue filtered by bundle (an analyst's ``GET /api/tasks?bundle=...``) reads open tasks only.

Its page must not cost more as the bundle's finished tasks pile up. The plan is SQLite's
(``EXPLAIN QUERY PLAN``, the embedded default): the statement's seek must take the state, so
finished rows are never visited. PostgreSQL's planner picks by table statistics, which a test's
few rows do not make meaningful; the index is the same on both (the schema is one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect

from engine.storage.db import Database
from tests.engine.test_certificate_content_migration import downgrade
from tests.support.engines import ANALYST, MINI_STARTUP_DECISIONS, make_engine, start_mini_startup, work_all

BUNDLES = Path(__file__).resolve().parent / "bundles"


def test_a_bundle_queue_seeks_its_open_tasks_and_keeps_the_answer(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url, tmp_path)
    engine.deployments.deploy_dir(BUNDLES / "mini-startup")
    finished = start_mini_startup(engine)
    work_all(engine, finished, MINI_STARTUP_DECISIONS)
    running = start_mini_startup(engine)
    seen: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if "FROM work_items" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine.db.engine, "before_cursor_execute", capture)
    try:
        page = engine.list_tasks(ANALYST, bundle="mini-startup")
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", capture)
    # The page holds the running case's open tasks only, by due time.
    assert page.items and {t.case_id for t in page.items} == {running}
    assert [(t.due_at, t.id) for t in page.items] == sorted((t.due_at, t.id) for t in page.items)
    assert all(t.state in ("ready", "claimed") for t in page.items)
    ((statement, parameters),) = seen
    with engine.db.read() as s:
        rows = s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        plan = " ".join(str(row[-1]) for row in rows)
    assert "ix_work_items_bundle_queue (bundle_key=? AND state=?)" in plan, plan
    engine.db.dispose()


def test_the_index_migration_goes_down_and_up(db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()

    def indexes() -> set[str]:
        return {str(index["name"]) for index in inspect(db.engine).get_indexes("work_items")}

    assert "ix_work_items_bundle_queue" in indexes() and "ix_work_items_bundle" not in indexes()
    downgrade(db, "0015_certificate_content")
    assert "ix_work_items_bundle" in indexes() and "ix_work_items_bundle_queue" not in indexes()
    db.upgrade()
    assert "ix_work_items_bundle_queue" in indexes() and "ix_work_items_bundle" not in indexes()
    db.dispose()
