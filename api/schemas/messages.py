"""The message centre as the API answers it: one's own messages, the unread count, marking read.

May import: api.schemas.common.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.common import EXAMPLE_AT, FromView, LabelPublic, with_examples


class MessagePublic(FromView):
    """One message: what it tells (written at send time in both languages) and the page to open."""

    model_config = with_examples(
        {
            "id": 7,
            "kind": "correction_notice",
            "title": {"zh": "需要补正：企业开办一件事", "en": "Correction needed: Enterprise startup"},
            "body": {
                "zh": "您的办件 YW310000-20260302-000001 有 1 处需要补正（公安局）。……",
                "en": "Your case YW310000-20260302-000001 needs 1 correction(s) (Public security). ...",
            },
            "link": "/cases/42",
            "case_id": 42,
            "task_id": None,
            "created_at": EXAMPLE_AT,
            "read_at": None,
            "unread": True,
        }
    )

    id: int
    kind: str = Field(
        description="消息类型 (what it tells): task_ready | correction_notice | case_finished | "
        "supplement_received | rating_answered | complaint_answered | rectification_opened | escalated | "
        "task_assigned"
    )
    title: LabelPublic
    body: LabelPublic
    link: str = Field(
        description="本站页面 (a page of this site: /cases/{id}, /tasks/{id}, /complaints/{id}, /supervision)"
    )
    case_id: int | None
    task_id: int | None
    created_at: datetime
    read_at: datetime | None
    unread: bool


class MessageListPublic(BaseModel):
    """One page of the caller's messages, newest first; the next page's cursor (null at the end)."""

    items: list[MessagePublic]
    next: str | None
    unread: int = Field(description="未读消息总数 (unread messages in all)")


class UnreadCountPublic(BaseModel):
    """How many of the caller's messages are unread."""

    model_config = with_examples({"unread": 3})

    unread: int


class ReadAllPublic(BaseModel):
    """How many messages marking all read changed; nothing is left unread."""

    model_config = with_examples({"marked": 3, "unread": 0})

    marked: int
    unread: int
