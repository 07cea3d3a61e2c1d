"""The message centre page (/messages): every signed-in person's own messages, newest first.

Opening a message is a small form post: it marks the message read and goes on to the page
the message is about (a case, a task), so a link prefetch or a crawler never marks anything
read. "全部标为已读" marks every message read. The unread count in the navigation comes
from ``PageContext.render`` (one indexed COUNT per page).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import MAX_ID, Cursor
from api.pages.base import Ctx, PageRoute, local_path, redirect

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 20
MessageId = Annotated[int, Path(ge=1, le=MAX_ID, description="消息 id (message id)")]


@router.get("/messages")
def messages_page(
    ctx: Ctx,
    unread: Annotated[bool, Query()] = False,
    cursor: Cursor = None,
) -> Response:
    """The signed-in person's messages, unread ones marked; ``?unread=true`` shows only those."""
    page = ctx.engine.messages.list(ctx.actor, unread=unread, cursor=cursor, limit=PAGE_SIZE)
    return ctx.render(
        "messages.html", messages=page.items, next=page.next, unread_only=unread, unread_total=page.unread
    )


@router.post("/messages/read-all")
def read_all(ctx: Ctx) -> Response:
    """Mark every message of the signed-in person read, and show the list again."""
    ctx.engine.messages.mark_all_read(ctx.actor)
    return redirect("/messages")


@router.post("/messages/{message_id}/open")
def open_message(ctx: Ctx, message_id: MessageId) -> Response:
    """Mark one's own message read and go to the page it is about (404 for another's)."""
    message = ctx.engine.messages.mark_read(ctx.actor, message_id)
    return redirect(local_path(message.link, "/messages"))
