"""An applicant sees a department system's step as at work, never its failures or error texts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from engine.cases.states import WorkItemState
from engine.service import Engine
from engine.storage.models import CaseEvent, WorkItem
from tests.support.engines import ANALYST, APPLICANT, bundle_engine, clerk, start_mini_startup

SECRET = "ORA-00942: table or view does not exist (tax core system)"


@pytest.fixture
def engine(sqlite_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = bundle_engine(sqlite_url, tmp_path, "mini-startup")
    yield eng
    eng.close()


def incident(engine: Engine) -> int:
    """A case whose first step is a department system's task that ran out of retries (an incident).

    The rows are set as the external-task code leaves them: the task failed with its error
    text, and the trail has the failure and the incident.
    """
    case_id = start_mini_startup(engine)
    task = engine.get_case(ANALYST, case_id).tasks[0]
    with engine.db.write() as s:
        s.execute(
            update(WorkItem)
            .where(WorkItem.id == task.id)
            .values(kind="external", state=WorkItemState.FAILED, retries=0, error_message=SECRET)
        )
        for kind, detail in (
            ("external_task_failed", {"item": task.item, "retries": 0}),
            ("incident_raised", {"item": task.item, "department": task.department}),
        ):
            s.add(
                CaseEvent(
                    case_id=case_id,
                    at=engine.clock.now(),
                    actor="system.market-regulation",
                    kind=kind,
                    work_item_id=task.id,
                    detail=detail,
                )
            )
    return case_id


def test_an_incident_reads_as_at_work_for_the_applicant(engine: Engine) -> None:
    case_id = incident(engine)
    seen = engine.get_case(APPLICANT, case_id)
    (task,) = seen.tasks
    assert (task.kind, task.by_system, task.state) == ("external", True, "ready")
    assert task.error_message is None and task.retries is None
    lines = {e.kind: e.detail for e in seen.timeline}
    assert lines["external_task_failed"] == {"item": "business-registration"}
    assert lines["incident_raised"] == {"item": "business-registration"}
    assert SECRET not in repr(seen)
    listed = engine.list_cases(APPLICANT).items[0].tasks[0]
    assert (listed.state, listed.error_message) == ("ready", None)


def test_staff_see_the_incident_and_its_error(engine: Engine) -> None:
    case_id = incident(engine)
    (task,) = engine.get_case(ANALYST, case_id).tasks
    assert (task.state, task.retries, task.error_message) == ("failed", 0, SECRET)
    (own,) = engine.get_case(clerk("market-regulation"), case_id).tasks
    assert own.error_message == SECRET
    lines = {e.kind: e.detail for e in engine.get_case(ANALYST, case_id).timeline}
    assert lines["external_task_failed"] == {"item": "business-registration", "retries": 0}
