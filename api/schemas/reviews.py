"""A material's pre-review (智能预审) as the API answers it, beside the material.

May import: pydantic, api.schemas.common, engine.review.views.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from engine.review.views import ReviewView

ReviewState = Literal["pending", "done", "unreadable", "not_applicable"]
Verdict = Literal["match", "mismatch", "unreadable"]


class FindingPublic(BaseModel):
    """One form field compared with what the document says."""

    field: str = Field(description="表单字段 (the form element key)")
    form_value: str | None = Field(default=None, description="填报的值 (the value in the form)")
    document_value: str | None = Field(default=None, description="证照上读出的值 (the value read)")
    verdict: Verdict = Field(description="match 一致 | mismatch 不一致 | unreadable 无法识别")


class MaterialReviewPublic(BaseModel):
    """What the worker read from a document and how it compares with the form (advice, never a refusal)."""

    status: ReviewState = Field(
        description="pending 待识别 | done 已识别 | unreadable 无法识别 | not_applicable 此类材料不预审"
    )
    fields: dict[str, str] = Field(
        default_factory=dict, description="证照字段 -> 读出的值 (document field -> value read)"
    )
    confidence: float | None = Field(default=None, description="识别置信度 0..1 (mean over the fields read)")
    findings: list[FindingPublic] = Field(default_factory=list)

    @classmethod
    def of(cls, view: ReviewView) -> MaterialReviewPublic:
        """From the engine's review view."""
        return cls.model_validate(view.as_json())


def reviews_public(views: dict[str, ReviewView]) -> dict[str, MaterialReviewPublic]:
    """Kind -> review, for the case and task answers."""
    return {kind: MaterialReviewPublic.of(view) for kind, view in views.items()}
