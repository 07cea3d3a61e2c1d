"""Cases over REST: an application, a supplement, a case as listed and in full with its timeline and notice.

May import: api.schemas.common, api.schemas.reviews, api.schemas.suspension, api.schemas.tasks, engine.cases
(states, views).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import (
    DIVISION_CODE,
    EXAMPLE_AT,
    EXAMPLE_DUE,
    FromView,
    LabelPublic,
    RequestBody,
    fields_of,
    with_examples,
)
from api.schemas.reviews import MaterialReviewPublic
from api.schemas.suspension import SuspensionPublic
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


class ReceivedPublic(BaseModel):
    """异地代收: the office (department at a division) whose window received the application."""

    division: str = Field(description="受理窗口所在行政区划代码 (division code of the receiving window)")
    department: str = Field(description="受理部门 (the receiving department)")
    office: LabelPublic = Field(description="受理机构名称 (name of the receiving office)")


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
            "division": "310101",
            "division_name": {"zh": "上海市黄浦区", "en": "Huangpu District, Shanghai"},
            "received": {
                "division": "310104",
                "department": "market-regulation",
                "office": {
                    "zh": "上海市徐汇区市场监督管理局",
                    "en": "Xuhui District Market Regulation, Shanghai",
                },
            },
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
    division: str | None = Field(
        default=None,
        description="办件的办理地行政区划代码 (division code where the case is decided; null: the default's)",
    )
    division_name: LabelPublic = Field(description="办理地名称 (full name of that division)")
    received: ReceivedPublic | None = Field(
        default=None,
        description=(
            "代收: 受理窗口 (the office that received the application for the applicant; "
            "null: the applicant applied)"
        ),
    )

    @classmethod
    def from_view(cls, view: CaseView) -> Self:
        """From the engine's case view (a subclass takes the further fields it declares)."""
        progress = {"done": view.done, "total": view.total}
        received = None
        if view.received is not None:
            received = {
                "division": view.received_division or "",
                "department": view.received_department or "",
                "office": view.received,
            }
        fields = {**fields_of(view), "progress": progress, "received": received}
        return cls.model_validate(fields, from_attributes=True)


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
    suspension: SuspensionPublic | None = Field(
        default=None,
        description="挂起: 当前的暂停（原因、依据、起始时间）(the open suspension; null when not suspended)",
    )
    suspensions: list[SuspensionPublic] = Field(
        default_factory=list, description="历次挂起记录 (every suspension, oldest first)"
    )
    suspended_seconds: float = Field(
        default=0, description="累计暂停的工作时间（秒） (total working seconds suspended, not counted)"
    )
    reviews: dict[str, MaterialReviewPublic] | None = Field(
        default=None, description="材料类型 -> 智能预审结果 (kind -> pre-review; with the materials, in GET)"
    )

    @classmethod
    def from_case(cls, view: CaseView) -> CasePublic:
        """From the engine's case view, with everything the caller may see."""
        answer = cls.from_view(view)
        if view.suspensions:
            answer.suspension = SuspensionPublic.from_view(view.suspension) if view.suspension else None
            answer.suspended_seconds = view.suspended_seconds
        return answer


class CaseListPublic(BaseModel):
    """One page of cases, newest first, and the cursor of the next page (null at the end)."""

    items: list[CaseSummaryPublic]
    next: str | None


class CaseCreate(RequestBody):
    """An application: one merged form, one set of materials (kind -> material id).

    An applicant applies for themself. A clerk at a window receives an application for an
    applicant (异地代收: ``applicant`` names the account, ``division`` where it is decided,
    ``received_department`` the clerk's receiving department when the clerk has several).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bundle": "enterprise-startup",
                    "data": {"company_name": "福州一件事科技有限公司", "legal_rep_name": "王五"},
                    "materials": {"lease_contract": "m_3f2a9c..."},
                    "promised": [],
                },
                {
                    "bundle": "enterprise-startup",
                    "data": {"company_name": "上海一件事科技有限公司", "address_division": "310101"},
                    "materials": {"articles_of_association": "mat_9c1e..."},
                    "division": "310101",
                    "applicant": "applicant1",
                    "received_department": "market-regulation",
                },
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
    division: str | None = Field(
        default=None,
        pattern=DIVISION_CODE,
        description=(
            "办理地行政区划代码 (division code where the case is decided); "
            "absent: the form's division field, else the default division"
        ),
    )
    applicant: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="代收: 申请人账号 (clerks only: the applicant's account the case is for)",
    )
    received_department: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="代收: 受理部门 (clerks only: the receiving department, when the clerk has several)",
    )
    confirm_duplicate: bool | None = Field(
        default=None,
        description=(
            "重复申请提醒 (duplicate warning): false looks for an open case of the same bundle about the "
            "same company, child ... (or a certificate already issued) and answers 409 listing them "
            "(rule duplicate_case, no other applicant's data); true confirms and applies anyway; "
            "absent: no look (clients before the warning)"
        ),
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
