"""Suspend and resume (挂起/恢复) over REST: the requests and a suspension as a case shows it.

May import: api.schemas.common, engine.cases (suspension views).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from api.schemas.common import EXAMPLE_AT, FromView, RequestBody

MAX_TEXT = 2000  # engine.cases.suspending.MAX_TEXT


class SuspensionPublic(FromView):
    """One suspension of a case; ``resumed_at`` null while it lasts. Who acted is empty for the applicant."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "suspended_at": EXAMPLE_AT,
                    "suspended_by": "supervisor.market-regulation",
                    "reason": "等待现场核查结果",
                    "legal_basis": "《市场主体登记管理条例实施细则》第四十条",
                    "resumed_at": None,
                    "resumed_by": None,
                    "resume_note": "",
                    "working_seconds": 0,
                }
            ]
        },
    )

    id: int
    suspended_at: datetime
    suspended_by: str = Field(description="挂起人账号 (empty for the applicant)")
    reason: str = Field(description="暂停原因 (reason)")
    legal_basis: str = Field(description="法律依据 (legal basis)")
    resumed_at: datetime | None = None
    resumed_by: str | None = None
    resume_note: str = ""
    working_seconds: float = Field(
        description="暂停的工作时间（秒），不计入办理时限 (working seconds stood still; set on resume)"
    )


class SuspendCreate(RequestBody):
    """Suspend a running case: why, and the legal basis that leaves the time out of the time limit."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reason": "等待法院裁判结果", "legal_basis": "《行政许可法》第四十五条"},
            ]
        },
    )

    reason: str = Field(max_length=MAX_TEXT, description="暂停原因 (reason; required, not blank)")
    legal_basis: str = Field(max_length=MAX_TEXT, description="法律依据 (legal basis; required, not blank)")


class ResumeCreate(RequestBody):
    """Resume a suspended case, with an optional note."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "已收到核查结果"}]})

    note: str = Field(default="", max_length=MAX_TEXT, description="恢复说明 (optional note)")
