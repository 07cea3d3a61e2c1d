"""Statements run on every action or page seek what they need, never the history behind it.

- A queue filtered by bundle (an analyst's ``GET /api/tasks?bundle=...``) reads open tasks
  only: its page must not cost more as the bundle's finished tasks pile up.
- A new task's message to its office's clerks reads clerk accounts only, never the applicants'
  (every applicant who signs up is an account).

The plans are SQLite's (``EXPLAIN QUERY PLAN``, the embedded default). PostgreSQL's planner
picks by table statistics, which a test's few rows do not make meaningful; the indexes are the
same on both (the schema is one), and their migration goes down and up on both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect

from engine.service import Engine
from engine.storage.db import Database
from tests.engine.test_certificate_content_migration import downgrade
from tests.support.engines import ANALYST, MINI_STARTUP_DECISIONS, make_engine, start_mini_startup, work_all

BUNDLES = Path(__file__).resolve().parent / "bundles"


def plan_of(engine: Engine, statement: str, parameters: Any) -> str:
    """SQLite's plan of a statement the engine ran, as one line."""
    with engine.db.read() as s:
        rows = s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return " ".join(str(row[-1]) for row in rows)


def statements(engine: Engine, marker: str) -> tuple[list[tuple[str, Any]], Any]:
    """The statements holding ``marker`` (a list filled as they run) and the listener to remove."""
    seen: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if marker in statement:
            seen.append((statement, parameters))

    event.listen(engine.db.engine, "before_cursor_execute", capture)
    return seen, capture


def test_a_bundle_queue_seeks_its_open_tasks_and_keeps_the_answer(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url, tmp_path)
    engine.deployments.deploy_dir(BUNDLES / "mini-startup")
    finished = start_mini_startup(engine)
    work_all(engine, finished, MINI_STARTUP_DECISIONS)
    running = start_mini_startup(engine)
    seen, capture = statements(engine, "ORDER BY work_items.due_at")
    try:
        page = engine.list_tasks(ANALYST, bundle="mini-startup")
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", capture)
    # The page holds the running case's open tasks only, by due time.
    assert page.items and {t.case_id for t in page.items} == {running}
    assert [(t.due_at, t.id) for t in page.items] == sorted((t.due_at, t.id) for t in page.items)
    assert all(t.state in ("ready", "claimed") for t in page.items)
    ((statement, parameters),) = seen
    plan = plan_of(engine, statement, parameters)
    assert "ix_work_items_bundle_queue (bundle_key=? AND state=?)" in plan, plan
    engine.db.dispose()


def test_a_new_tasks_message_reads_the_clerk_accounts_only(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url, tmp_path)
    engine.deployments.deploy_dir(BUNDLES / "mini-startup")
    seen, capture = statements(engine, "FROM accounts")
    try:
        start_mini_startup(engine)  # its first tasks tell their offices' clerks
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", capture)
    clerks = [(statement, parameters) for statement, parameters in seen if "accounts.role" in statement]
    assert clerks
    for statement, parameters in clerks:
        plan = plan_of(engine, statement, parameters)
        assert "ix_accounts_office (role=?" in plan and "SCAN accounts" not in plan, plan
    engine.db.dispose()


def test_the_index_migrations_go_down_and_up(db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()

    def indexes() -> set[str]:
        return {
            str(index["name"])
            for table in ("work_items", "accounts")
            for index in inspect(db.engine).get_indexes(table)
        }

    new = {"ix_work_items_bundle_queue", "ix_accounts_office"}
    assert new <= indexes() and "ix_work_items_bundle" not in indexes()
    downgrade(db, "0015_certificate_content")
    assert "ix_work_items_bundle" in indexes() and not new & indexes()
    db.upgrade()
    assert new <= indexes() and "ix_work_items_bundle" not in indexes()
    db.dispose()
