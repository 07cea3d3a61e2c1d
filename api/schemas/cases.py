"""Cases over REST: an application, a supplement, a case as listed and in full with its timeline and notice.

May import: api.schemas.common, api.schemas.tasks, engine.cases (states, views).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import EXAMPLE_AT, EXAMPLE_DUE, FromView, RequestBody, fields_of, with_examples
from api.schemas.tasks import TaskPublic
from engine.cases.states import CaseStatus
from engine.cases.views import CaseView


class ProgressPublic(BaseModel):
    """How many of the case's items are done."""

    done: int
    total: int


class TimelineEntryPublic(FromView):
    """One line of a case's audit trail."""

    id: int
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]
    work_item_id: int | None = None


class NoticePublic(BaseModel):
    """The one correction notice (一次性告知) of a round: every problem of every department."""

    model_config = ConfigDict(extra="allow")

    round: int
    issued_at: datetime
    items: list[dict[str, Any]]
    problems: list[dict[str, Any]]


class CaseSummaryPublic(BaseModel):
    """A case as a listing shows it."""

    model_config = with_examples(
        {
            "id": 5,
            "code": "2025030300000005",
            "bundle": "enterprise-startup",
            "version": 1,
            "applicant": "applicant1",
            "status": "running",
            "progress": {"done": 1, "total": 4},
            "tasks": [],
            "notice": None,
            "created_at": EXAMPLE_AT,
            "updated_at": EXAMPLE_AT,
            "finished_at": None,
            "due_at": EXAMPLE_DUE,
        }
    )

    id: int
    code: str | None = Field(
        default=None,
        description="办件编码 (case code, assigned at submission; the business key of messages)",
    )
    bundle: str
    version: int
    applicant: str
    status: CaseStatus
    progress: ProgressPublic
    tasks: list[TaskPublic]
    notice: NoticePublic | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    due_at: datetime | None = None

    @classmethod
    def from_view(cls, view: CaseView) -> Self:
        """From the engine's case view (a subclass takes the further fields it declares)."""
        progress = {"done": view.done, "total": view.total}
        return cls.model_validate({**fields_of(view), "progress": progress}, from_attributes=True)


class CasePublic(CaseSummaryPublic):
    """A case with its timeline; form data and materials only for those allowed to see them."""

    timeline: list[TimelineEntryPublic]
    data: dict[str, Any] | None = Field(
        default=None, description="申请数据 (null for clerks: they see their task)"
    )
    materials: dict[str, str] | None = None
    pending_materials: dict[str, dict[str, Any]] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    origin_case_id: int | None = None

    @classmethod
    def from_case(cls, view: CaseView) -> CasePublic:
        """From the engine's case view, with everything the caller may see."""
        return cls.from_view(view)


class CaseListPublic(BaseModel):
    """One page of cases, newest first, and the cursor of the next page (null at the end)."""

    items: list[CaseSummaryPublic]
    next: str | None


class CaseCreate(RequestBody):
    """An application: one merged form, one set of materials (kind -> material id)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bundle": "enterprise-startup",
                    "data": {"company_name": "福州一件事科技有限公司", "legal_rep_name": "王五"},
                    "materials": {"lease_contract": "m_3f2a9c..."},
                    "promised": [],
                }
            ]
        },
    )

    bundle: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    materials: dict[str, str] = Field(default_factory=dict)
    promised: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="容缺受理: 承诺后补的材料类型 (material kinds promised for later)",
    )


class SupplementCreate(RequestBody):
    """The applicant's answer to a correction notice: changed fields and new materials."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"data": {"address": "福州市鼓楼区五四路 1 号"}, "materials": {"lease_contract": "m_9b1e..."}}
            ]
        },
    )

    data: dict[str, Any] = Field(default_factory=dict)
    materials: dict[str, str] = Field(default_factory=dict)
