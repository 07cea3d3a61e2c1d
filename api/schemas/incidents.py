"""Incidents over REST: external tasks whose retries ran out, and handing one to a clerk.

An incident is a department system's task that failed for good (retries 0). Its supervisors
and the admins see it with the system's error text (applicants never do) and resolve it by
setting retries (``PUT /engine-rest/external-task/{id}/retries``) or by handing the item to a
clerk of the department as an ordinary human task (``POST /api/tasks/{id}/handover``).

May import: api.schemas.common.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from api.schemas.common import EXAMPLE_AT, EXAMPLE_DUE, FromView, LabelPublic, RequestBody, with_examples


class IncidentPublic(FromView):
    """An external task in trouble: where it stands, and what the department's system reported."""

    model_config = with_examples(
        {
            "id": 41,
            "case_id": 12,
            "case_code": "YW-20260302-00000012",
            "bundle": "enterprise-startup",
            "version": 2,
            "item": "tax-registration",
            "item_name": {"zh": "涉税信息确认", "en": "Tax registration"},
            "department": "tax",
            "topic": "tax",
            "activity_id": "tax_registration",
            "state": "failed",
            "worker_id": "tax-system-1",
            "retries": 0,
            "error_message": "税务系统核心库不可用 (tax core unavailable)",
            "error_details": "ConnectTimeout after 30 s",
            "priority": 0,
            "created_at": EXAMPLE_AT,
            "due_at": EXAMPLE_DUE,
            "overdue": False,
        }
    )

    id: int
    case_id: int
    case_code: str | None
    bundle: str
    version: int
    item: str
    item_name: LabelPublic
    department: str
    topic: str
    activity_id: str
    state: str
    worker_id: str | None
    retries: int | None
    error_message: str | None
    error_details: str | None
    priority: int
    created_at: datetime
    due_at: datetime | None
    overdue: bool = False


class HandoverCreate(RequestBody):
    """Why a department system's task goes to a clerk (recorded on the case's trail)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "税务系统故障，转人工办理 (tax system down, done by hand)"}]
        },
    )

    reason: str = Field(min_length=1, max_length=1000)
