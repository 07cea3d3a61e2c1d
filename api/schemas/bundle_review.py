"""Four-eyes review of bundle versions over REST: the versions of a bundle with their status, review notes.

May import: api.schemas.common, engine.bpmn.review (the ``Reviewed`` result), engine.cases.views.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import RequestBody, with_examples
from engine.bpmn.review import MAX_NOTE, Reviewed
from engine.cases.views import BundleVersion


class ReviewNoteCreate(RequestBody):
    """What the reviewer (or the author) says with the action; a return must say why."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "办理时限应为 1 个工作日"}]}
    )

    note: str | None = Field(
        default=None, max_length=MAX_NOTE, description="说明 (a note; required to return)"
    )


class BundleVersionPublic(BaseModel):
    """A stored version of a bundle and where it stands in review (draft, in_review, published, withdrawn)."""

    model_config = with_examples(
        {
            "key": "enterprise-startup",
            "version": 3,
            "division": None,
            "status": "in_review",
            "created_at": "2025-03-03T01:00:00Z",
            "created_by": "analyst",
            "submitted_by": "analyst",
            "reviewed_by": None,
            "reviewed_at": None,
            "review_note": None,
        }
    )

    key: str
    version: int
    division: str | None = None
    status: str
    created_at: datetime
    created_by: str
    submitted_by: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None

    @classmethod
    def from_view(cls, view: BundleVersion) -> BundleVersionPublic:
        """From the engine's version listing."""
        return cls(
            key=view.key,
            version=view.version,
            division=view.division,
            status=view.status,
            created_at=view.created_at,
            created_by=view.created_by,
            submitted_by=view.submitted_by,
            reviewed_by=view.reviewed_by,
            reviewed_at=view.reviewed_at,
            review_note=view.review_note,
        )


class ReviewedPublic(BaseModel):
    """A version after a review action; a published base lists the variant versions re-applied onto it."""

    model_config = with_examples(
        {
            "key": "enterprise-startup",
            "version": 3,
            "division": None,
            "status": "published",
            "author": "analyst",
            "submitted_by": "analyst",
            "reviewed_by": "admin",
            "reviewed_at": "2025-03-03T02:00:00Z",
            "review_note": "同意发布",
            "variants": [4],
        }
    )

    key: str
    version: int
    division: str | None = None
    status: str
    author: str
    submitted_by: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None
    variants: list[int] = Field(default_factory=list)

    @classmethod
    def from_reviewed(cls, reviewed: Reviewed) -> ReviewedPublic:
        """From the engine's review result."""
        return cls(
            key=reviewed.key,
            version=reviewed.version,
            division=reviewed.division,
            status=reviewed.status.value,
            author=reviewed.author,
            submitted_by=reviewed.submitted_by,
            reviewed_by=reviewed.reviewed_by,
            reviewed_at=reviewed.reviewed_at,
            review_note=reviewed.review_note,
            variants=list(reviewed.variants),
        )
