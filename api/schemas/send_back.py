"""Sending a case back to an earlier department step, and a supervisor's move, over REST.

May import: api.schemas.common.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from api.schemas.common import FromView, LabelPublic, RequestBody, with_examples


class StepTargetPublic(FromView):
    """An earlier step the case may go back to, with its department's last decision on it."""

    model_config = with_examples(
        {
            "item": "business-registration",
            "item_name": {"zh": "企业设立登记", "en": "Business registration"},
            "department": "market-regulation",
            "element_id": "Task_register_business",
            "work_item_id": 7,
            "outcome": "approve",
            "decision": {"uscc": "91310115MA1K4B7C2U"},
            "comment": "同意",
        }
    )

    item: str
    item_name: LabelPublic
    department: str
    element_id: str = Field(description="BPMN 元素 id (the step's BPMN element id)")
    work_item_id: int = Field(description="上次办理该环节的任务 (the task that last decided the step)")
    outcome: str | None
    decision: dict[str, Any]
    comment: str


class SendBackCreate(RequestBody):
    """Where to send the case back to (an item key or a BPMN element id), and why (mandatory)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"target": "business-registration", "reason": "经营范围与发票票种不符，请重新核定"}]
        },
    )

    target: str = Field(
        min_length=1,
        max_length=128,
        description="前序环节的事项 key 或 BPMN 元素 id (the earlier step's item key or element id)",
    )
    reason: str = Field(max_length=2000, description="退回原因，必填 (the reason, required)")
