"""Fetch-and-lock limited to one case by its business key (Camunda's topic ``businessKey``), and the
in-process department systems using it: working one case locks no other case's task, however many
wait on the same topic. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.cases.external_views import TopicRequest
from engine.demo import department_systems_work
from engine.storage.models import Case, WorkItem
from tests.engine.external.scenario import SOCIAL, TAX_SYSTEM, TAX_TOPIC, fetch_tax, start_case, tax_engine
from tests.engine.migration.support import examples, start_cases, startup_engine


def test_a_business_key_limits_the_fetch_to_that_cases_tasks(db_url: str, tmp_path: Path) -> None:
    engine = tax_engine(db_url, tmp_path)
    ids = [start_case(engine) for _ in range(3)]
    with engine.db.read() as s:
        code = s.scalars(select(Case.code).where(Case.id == ids[1])).one()
    assert code
    (task,) = engine.fetch_and_lock(TAX_SYSTEM, "w", 10, [TopicRequest(TAX_TOPIC, 60_000, None, code)], False)
    assert task.case_id == ids[1] and task.case_code == code
    # The other cases' tax tasks were not locked: an unkeyed fetch gets both of them.
    assert sorted(t.case_id for t in fetch_tax(engine)) == [ids[0], ids[2]]
    # An unknown key, or the key on another topic, fetches nothing.
    assert engine.fetch_and_lock(TAX_SYSTEM, "w", 10, [TopicRequest(TAX_TOPIC, 1, None, "nope")], False) == []
    assert engine.fetch_and_lock(TAX_SYSTEM, "w", 10, [TopicRequest(SOCIAL, 1, None, code)], False) == []


def test_the_demo_systems_do_the_cases_own_step_behind_many_waiting_ones(db_url: str, tmp_path: Path) -> None:
    engine = startup_engine(db_url, tmp_path)
    # Twelve cases wait on the tax system's step: more than one fetch of the demo took (ten,
    # oldest first), so the newest case's step used to stay undone while the walk said done.
    waiting = [start_cases(engine, 2)[1] for _ in range(12)]
    late = start_cases(engine, 2)[1]
    with engine.db.read() as s:
        external = s.execute(
            select(WorkItem.case_id, WorkItem.state, WorkItem.worker_id).where(WorkItem.kind == "external")
        ).all()
    assert {c for c, state, _ in external if state == "ready"} == {*waiting, late}
    done = department_systems_work(engine, late, examples(engine)[1]["decisions"])
    assert [(step.by, step.clerk) for step in done] == [("system", "system.tax")]
    with engine.db.read() as s:
        external = s.execute(
            select(WorkItem.case_id, WorkItem.state, WorkItem.worker_id).where(WorkItem.kind == "external")
        ).all()
    assert [state for c, state, _ in external if c == late] == ["completed"]
    # The others still wait, unlocked, for their own turn.
    assert {(c, state, worker) for c, state, worker in external if c != late} == {
        (c, "ready", None) for c in waiting
    }
