"""An uploaded material as the API answers it (stored once by content).

May import: api.schemas.common, api.schemas.reviews.
"""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import FromView, with_examples
from api.schemas.reviews import MaterialReviewPublic


class MaterialPublic(FromView):
    """An uploaded material, stored once by content (same bytes, same id)."""

    model_config = with_examples(
        {
            "id": "m_3f2a9c...",
            "sha256": "3f2a9c...",
            "kind": "lease_contract",
            "size": 48213,
            "mime": "application/pdf",
            "filename": "lease.pdf",
            "review": {"status": "not_applicable", "fields": {}, "confidence": None, "findings": []},
        }
    )

    id: str
    sha256: str
    kind: str
    size: int
    mime: str = ""
    filename: str = ""
    review: MaterialReviewPublic | None = Field(
        default=None,
        description="智能预审结果 (pre-review; in GET /api/materials/{id}, null in the upload answer)",
    )
