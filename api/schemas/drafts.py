"""A saved draft of an application as the API takes and answers it.

May import: api.schemas.common.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import EXAMPLE_AT, FromView, RequestBody, with_examples

# One answer as a draft keeps it: what the applicant typed so far (text, number, yes/no or empty).
DraftValue = str | int | float | bool | None


class DraftSave(RequestBody):
    """The answers and uploaded material ids so far; replaces the caller's draft of the bundle."""

    model_config = with_examples(
        {"data": {"company_name": "上海澄川信息科技有限公司", "registered_capital": "100"}, "materials": {}}
    )

    data: dict[str, DraftValue] = Field(
        default_factory=dict, description="表单字段的答案 (answers by form field key; unfinished is fine)"
    )
    materials: dict[str, str] = Field(
        default_factory=dict, description="已上传材料 (material kind -> id of the caller's own upload)"
    )


class DraftPublic(FromView):
    """A saved draft: the bundle, the answers and material ids, when it was first and last saved."""

    model_config = with_examples(
        {
            "bundle": "enterprise-startup",
            "data": {"company_name": "上海澄川信息科技有限公司"},
            "materials": {"articles_of_association": "m_3f2a9c..."},
            "created_at": EXAMPLE_AT,
            "updated_at": EXAMPLE_AT,
        }
    )

    bundle: str
    data: dict[str, DraftValue]
    materials: dict[str, str]
    created_at: datetime
    updated_at: datetime
