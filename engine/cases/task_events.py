"""The fields every audit event about one of a case's tasks opens with.

A department step's event (sent back from it, handed to a clerk, an incident on it) names
the case, the moment, who acted, the task and its item and department; the event classes of
``engine.cases.events`` then add their own fields. Building that opening in one place keeps
the audit lines of send-back and of external tasks alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from engine.cases.store import OpenCase
from engine.storage.models import WorkItem


class TaskEventFields(TypedDict):
    """The opening fields of an event about one task (``Event`` plus ``item`` and ``department``)."""

    case_id: int
    at: datetime
    actor: str
    work_item_id: int
    item: str
    department: str


def task_event_fields(oc: OpenCase, item: WorkItem, actor: str) -> TaskEventFields:
    """The case, the time, the actor and the task (its item and department) of an event about ``item``."""
    return TaskEventFields(
        case_id=oc.case.id,
        at=oc.now,
        actor=actor,
        work_item_id=item.id,
        item=item.item_key,
        department=item.department,
    )
