"""Department tasks over REST: a task in a queue and in detail, a page of a queue, a clerk's decision.

May import: api.schemas.common, api.schemas.reviews, engine.cases (states, views).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import (
    EXAMPLE_AT,
    EXAMPLE_DUE,
    FromView,
    LabelPublic,
    RequestBody,
    fields_of,
    with_examples,
)
from api.schemas.reviews import MaterialReviewPublic
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.cases.views import TaskDetail


class TaskProblemCreate(RequestBody):
    """One reason for returning a task: which field or material, and what is wrong."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"material": "lease_contract", "message": "租赁合同缺少出租方签章"}]},
    )

    field: str | None = Field(default=None, max_length=64)
    material: str | None = Field(default=None, max_length=64)
    message: str = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _names_something(self) -> TaskProblemCreate:
        if not self.field and not self.material:
            raise ValueError("a problem names a field or a material")
        return self


class TaskProblemPublic(BaseModel):
    """A reason a clerk gave when returning a task."""

    model_config = ConfigDict(extra="allow")

    field: str | None = None
    material: str | None = None
    message: str = ""


class TaskPublic(FromView):
    """A department task as a queue shows it."""

    model_config = with_examples(
        {
            "id": 17,
            "case_id": 5,
            "bundle": "enterprise-startup",
            "version": 1,
            "item": "business-registration",
            "item_name": {"zh": "设立登记", "en": "Business registration"},
            "task_name": "register_business",
            "department": "market-regulation",
            "division": "310101",
            "office": {
                "zh": "上海市黄浦区市场监督管理局",
                "en": "Market Regulation, Huangpu District, Shanghai",
            },
            "state": "ready",
            "assignee": None,
            "round": 1,
            "created_at": EXAMPLE_AT,
            "due_at": EXAMPLE_DUE,
            "claimed_at": None,
            "completed_at": None,
            "outcome": None,
            "comment": "",
            "problems": [],
            "overdue": False,
        }
    )

    id: int
    case_id: int
    bundle: str
    version: int
    item: str
    item_name: LabelPublic
    task_name: str
    department: str
    division: str = Field(description="办理机构所在行政区划 (the division of the task's office)")
    office: LabelPublic = Field(description="办理机构 (the office that handles the task)")
    state: WorkItemState
    assignee: str | None
    round: int
    created_at: datetime
    due_at: datetime | None
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    outcome: Outcome | None = None
    comment: str = ""
    problems: list[TaskProblemPublic] = Field(default_factory=list)
    overdue: bool = False


class TaskListPublic(BaseModel):
    """One page of a queue, by due time, and the cursor of the next page (null at the end)."""

    items: list[TaskPublic]
    next: str | None


class TaskDetailPublic(TaskPublic):
    """A task with its department's view of the case: only its item's fields and materials."""

    data: dict[str, Any] = Field(description="本部门可见的表单数据 (the form data this department may see)")
    materials: dict[str, str] = Field(description="材料类型 -> 材料 id (material kind -> material id)")
    decision_fields: list[str]
    asked_decision_fields: list[str] = Field(
        description="本件须填写的办理字段 (the decision fields this case asks; the rest do not apply)"
    )
    example: dict[str, Any] = Field(
        description="示例办理数据 (example decision data, when the item asks for any)"
    )
    case_status: CaseStatus
    reviews: dict[str, MaterialReviewPublic] = Field(
        default_factory=dict,
        description="材料类型 -> 智能预审结果，仅本事项可见的字段 (kind -> pre-review of this item's fields)",
    )

    @classmethod
    def from_detail(cls, detail: TaskDetail) -> TaskDetailPublic:
        """From the engine's task detail: the task's fields, the detail's own, its ``fields`` as ``data``."""
        merged = {**fields_of(detail.task), **fields_of(detail), "data": detail.fields}
        return cls.model_validate(merged, from_attributes=True)


class TaskComplete(RequestBody):
    """A clerk's decision: approve (with the item's decision data) or return (with every problem)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcome": "approve", "data": {"uscc": "91350100M000100Y43"}, "comment": "", "problems": []},
                {
                    "outcome": "return",
                    "data": {},
                    "comment": "请补正",
                    "problems": [{"material": "lease_contract", "message": "租赁合同缺少出租方签章"}],
                },
            ]
        },
    )

    outcome: Outcome
    data: dict[str, Any] = Field(default_factory=dict)
    comment: str = Field(default="", max_length=4000)
    problems: list[TaskProblemCreate] = Field(default_factory=list, max_length=200)
