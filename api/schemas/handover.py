"""Handing tasks over and bulk actions over REST: reassign, delegate, release, a bulk request's results.

May import: api.schemas.common, engine.cases (bulk, handover).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import RequestBody, with_examples
from engine.cases.bulk import MAX_BULK, BulkAction, BulkResult, BulkStatus
from engine.cases.handover import OfficeClerk, Released

USERNAME_FIELD = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
TaskNumber = Annotated[int, Field(ge=1, le=2**63 - 1)]


class TaskReassign(RequestBody):
    """转办: whom the claimed task goes to, and why; ``expected`` the assignee the caller saw."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to": "clerk2.market-regulation",
                    "reason": "原经办人休假",
                    "expected": "clerk.market-regulation",
                }
            ]
        },
    )

    to: str = Field(pattern=USERNAME_FIELD, description="接手的窗口人员 (the clerk who takes it)")
    reason: str = Field(min_length=1, max_length=1000, description="转办原因 (reason)")
    expected: str = Field(
        pattern=USERNAME_FIELD,
        description="调用方看到的当前认领人；已变更时 409 (the assignee the caller saw; 409 when it changed)",
    )


class TaskDelegate(RequestBody):
    """委托: whom the assignee hands the task to, with a note the new assignee reads."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"to": "clerk2.market-regulation", "note": "材料已核，待录入代码"}]},
    )

    to: str = Field(pattern=USERNAME_FIELD, description="受托的窗口人员 (the clerk who takes it)")
    note: str = Field(min_length=1, max_length=1000, description="委托留言 (note)")


class ClerkRelease(RequestBody):
    """Why a supervisor puts a clerk's tasks back in the queue (optional; on each task's staff trail)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "病假，任务转回队列"}]}
    )

    reason: str = Field(default="", max_length=1000, description="释放原因 (reason)")


class OfficeClerkPublic(BaseModel):
    """An active clerk of a task's office, for a picker: the display name people know."""

    model_config = with_examples(
        {"username": "clerk2.market-regulation", "display_name": "王博", "supervisor": False}
    )

    username: str
    display_name: str
    supervisor: bool

    @classmethod
    def from_view(cls, clerk: OfficeClerk) -> OfficeClerkPublic:
        """From the engine's view (the label stands in for an empty display name)."""
        return cls(username=clerk.username, display_name=clerk.label, supervisor=clerk.supervisor)


class ReleasedPublic(BaseModel):
    """What releasing a clerk's tasks did: how many tasks, and which, went back to the queue."""

    model_config = with_examples({"clerk": "clerk.market-regulation", "released": 2, "tasks": [17, 19]})

    clerk: str
    released: int
    tasks: list[int]

    @classmethod
    def from_view(cls, done: Released) -> ReleasedPublic:
        """From the engine's result."""
        return cls(clerk=done.clerk, released=done.count, tasks=list(done.tasks))


class TaskBulk(RequestBody):
    """Several tasks at once: claim, unclaim (release), or approve with the same decision data and comment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "claim", "tasks": [17, 18]},
                {
                    "action": "approve",
                    "tasks": [17, 18],
                    "data": {"uscc": "91350100M000100Y43"},
                    "comment": "同意",
                },
            ]
        },
    )

    action: BulkAction
    tasks: list[TaskNumber] = Field(
        min_length=1, max_length=MAX_BULK, description=f"任务 id，至多 {MAX_BULK} 个"
    )
    data: dict[str, Any] = Field(
        default_factory=dict, description="审批时的办理结果 (decision data, approve)"
    )
    comment: str = Field(default="", max_length=4000)


class BulkResultPublic(BaseModel):
    """One task's result: ``ok``, or ``refused`` with the reason in ``detail``."""

    model_config = with_examples({"task": 17, "status": "ok", "detail": ""})

    task: int
    status: BulkStatus
    detail: str

    @classmethod
    def from_view(cls, result: BulkResult) -> BulkResultPublic:
        """From the engine's result."""
        return cls(task=result.task, status=result.status, detail=result.detail)


class TaskBulkPublic(BaseModel):
    """A bulk request's answer: a result per task, in the order asked."""

    results: list[BulkResultPublic]
