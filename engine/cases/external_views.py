"""What a department system asks for and is handed: fetch requests and external task views.

The shapes follow Camunda 7's external task (``topicName``, ``lockDuration``, ``workerId``,
``retries``, ``errorMessage`` ...) in onething's words, so the REST layer
(``/engine-rest/external-task``) maps them field by field and nothing here knows HTTP.

May import: ``engine.cases.views``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.cases.views import Label


@dataclass(frozen=True)
class TopicRequest:
    """One topic of a fetch-and-lock: which tasks, for how long, with which variables.

    ``variables`` None hands every variable of the department's view; a list hands only
    those names (an empty list: none), as Camunda's ``variables`` does. ``business_key``
    (Camunda's topic ``businessKey``: the case code, or the case id of a case without one)
    limits the topic to that one case's tasks, so a system working one case locks no other's.
    """

    topic_name: str
    lock_duration_ms: int
    variables: list[str] | None = None
    business_key: str | None = None


@dataclass(frozen=True)
class ExternalTaskView:
    """An external task as its department's system (and its supervisors and admins) see it.

    ``variables`` and ``materials`` are the item's department view of the case, the same
    data minimisation as a clerk's; they are filled by fetch-and-lock only (Camunda's task
    list and single-task reads carry no variables either). ``materials`` lists
    ``{kind, name, id, sha256, size, mime}``; the bytes download through the task's
    material route, which a system account of the task's department may use.
    """

    id: int
    topic: str
    department: str
    # The division of the task's office (routing's ``WorkItem.division``).
    division: str
    item: str
    item_name: Label
    case_id: int
    case_code: str | None
    bundle: str
    version: int
    deployment_id: int
    activity_id: str
    spiff_id: str
    state: str
    worker_id: str | None
    lock_expires_at: datetime | None
    retries: int | None
    error_message: str | None
    error_details: str | None
    priority: int
    created_at: datetime
    due_at: datetime | None
    overdue: bool = False
    variables: dict[str, Any] = field(default_factory=dict)
    materials: tuple[dict[str, Any], ...] = ()
