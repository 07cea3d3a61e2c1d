"""Feedback over REST: ratings (好差评) and the rectifications they open, complaints, replies, supervision.

May import: api.schemas.common, engine.deadlines (the supervision entry's kinds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from api.schemas.common import EXAMPLE_AT, EXAMPLE_DUE, FromView, LabelPublic, RequestBody, with_examples
from engine.deadlines.supervision import EntryState, Level, Subject


class RatingCreate(RequestBody):
    """The applicant's rating (好差评) of a finished case: the whole service, or one department of it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"score": 5, "comment": "一次办好，很方便"}, {"score": 2, "department": "tax"}]
        },
    )

    score: int = Field(
        ge=1, le=5, description="1 非常不满意 … 5 非常满意 (1 very dissatisfied … 5 very satisfied)"
    )
    comment: str = Field(default="", max_length=1000)
    department: str | None = Field(
        default=None,
        max_length=64,
        description="评价某一部门；缺省为整个服务 (one department; the whole service when absent)",
    )


class RectificationPublic(FromView):
    """A rectification (差评整改) a bad rating opened for the responsible department, and its reply."""

    model_config = with_examples(
        {
            "id": 4,
            "case_id": 5,
            "rating_id": 3,
            "bundle": "school-enrollment",
            "department": "public-security",
            "state": "open",
            "created_at": EXAMPLE_AT,
            "due_at": "2026-03-09T09:30:00Z",
            "overdue": False,
            "reply": "",
            "replied_by": "",
            "replied_at": None,
        }
    )

    id: int
    case_id: int
    rating_id: int
    bundle: str
    department: str
    state: Literal["open", "replied"]
    created_at: datetime
    due_at: datetime
    overdue: bool
    reply: str
    replied_by: str
    replied_at: datetime | None


class RatingPublic(FromView):
    """A recorded rating, with the rectification it opened when it was bad (1 or 2)."""

    model_config = with_examples(
        {
            "id": 3,
            "case_id": 5,
            "bundle": "enterprise-startup",
            "version": 1,
            "department": "",
            "score": 5,
            "level": {"zh": "非常满意", "en": "Very satisfied"},
            "comment": "一次办好，很方便",
            "created_at": EXAMPLE_AT,
            "rectification": None,
        }
    )

    id: int
    case_id: int
    bundle: str
    version: int
    department: str
    score: int
    level: LabelPublic
    comment: str
    created_at: datetime
    rectification: RectificationPublic | None


MAX_FEEDBACK_TEXT = 2000


class ComplaintCreate(RequestBody):
    """办不成事反映: an applicant reports that they could not get something done, on a case or alone."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"case_id": 5, "text": "材料已补正三天，仍没有人处理", "department": "public-security"},
                {"text": "窗口说这件事不归他们管，不知道该找谁"},
            ]
        },
    )

    case_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="所涉办件 (the case, if any)")
    text: str = Field(min_length=1, max_length=MAX_FEEDBACK_TEXT, description="反映内容 (what went wrong)")
    department: str | None = Field(
        default=None,
        max_length=64,
        description="所涉部门；缺省为正在办理的部门或政务服务中心 "
        "(the department; when absent, the one holding the case, else the service centre)",
    )


class ComplaintPublic(FromView):
    """A complaint, its supervisor queue and deadline, and the supervisor's answer once given."""

    model_config = with_examples(
        {
            "id": 7,
            "case_id": 5,
            "bundle": "school-enrollment",
            "complainant": "applicant1",
            "department": "public-security",
            "text": "材料已补正三天，仍没有人处理",
            "state": "answered",
            "created_at": EXAMPLE_AT,
            "due_at": "2026-03-09T09:30:00Z",
            "reply": "已督促户籍科当日办结，并向您致歉",
            "replied_by": "supervisor.public-security",
            "replied_at": EXAMPLE_DUE,
        }
    )

    id: int
    case_id: int | None
    bundle: str
    complainant: str
    department: str
    text: str
    state: Literal["open", "answered"]
    created_at: datetime
    due_at: datetime
    reply: str
    replied_by: str
    replied_at: datetime | None


class ReplyCreate(RequestBody):
    """An answer to a complaint (by its supervisor) or to a bad rating (by the department's clerk)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reply": "已督促户籍科当日办结，并向您致歉"}]},
    )

    reply: str = Field(min_length=1, max_length=MAX_FEEDBACK_TEXT, description="答复 (the answer)")


class ResolveCreate(RequestBody):
    """A supervisor closes an entry of the supervisor queue, saying what was done."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"note": "已约谈经办人，任务当日办结"}]},
    )

    note: str = Field(min_length=1, max_length=MAX_FEEDBACK_TEXT, description="督办结果 (what was done)")

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class SupervisionEntryPublic(FromView):
    """One entry of a supervisor queue (督办): an overdue task, a late rectification or a complaint.

    ``subject_id`` is the id of what it is about: the task, the rectification or the complaint
    (a complaint is closed by answering it, ``POST /api/complaints/{subject_id}/answer``).
    """

    model_config = with_examples(
        {
            "id": 12,
            "subject": "complaint",
            "subject_id": 7,
            "level": "filed",
            "state": "open",
            "department": "public-security",
            "title": {"zh": "办不成事反映", "en": "Complaint"},
            "case_id": 5,
            "bundle": "school-enrollment",
            "item": "",
            "opened_at": EXAMPLE_AT,
            "due_at": "2026-03-09T09:30:00Z",
            "resolved_at": None,
            "resolved_by": "",
            "note": "",
            "detail": {"complainant": "applicant1"},
            "division": "310101",
        }
    )

    id: int
    subject: Subject
    subject_id: int
    level: Level
    state: EntryState
    department: str
    title: LabelPublic
    case_id: int | None
    bundle: str
    item: str
    opened_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str
    note: str
    detail: dict[str, Any]
    # The division of the office the entry belongs to (its task's; a rectification's or
    # complaint's: the office that handled the department's part of the case).
    division: str = ""
