"""An uploaded material as the API answers it (stored once by content).

May import: api.schemas.common.
"""

from __future__ import annotations

from api.schemas.common import FromView, with_examples


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
        }
    )

    id: str
    sha256: str
    kind: str
    size: int
    mime: str = ""
    filename: str = ""
