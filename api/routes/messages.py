"""The message centre (消息中心): every signed-in account reads and marks its own messages.

Messages are written by the engine as cases move (``engine.portal.notifications``); here
the caller lists theirs (newest first, ``?unread=true`` for the unread ones only), reads the
unread count (the navigation badge), and marks one or all read. Only one's own: another
account's message id answers 404, as an unknown one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import MAX_ID, CurrentActor, Cursor, EngineDep, IdempotencyKey, Limit, ServicesDep
from api.errors import responses
from api.idempotency import run_once
from api.routing import PrefixedRouter
from api.schemas.messages import MessageListPublic, MessagePublic, ReadAllPublic, UnreadCountPublic

router = PrefixedRouter(prefix="/api/messages", tags=["messages"])

MessageId = Annotated[int, Path(ge=1, le=MAX_ID, description="消息 id (message id)")]


@router.get("", response_model=MessageListPublic, responses=responses(422))
def list_messages(
    actor: CurrentActor,
    engine: EngineDep,
    unread: Annotated[bool, Query(description="只看未读 (unread messages only)")] = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> MessageListPublic:
    """The caller's messages, newest first, with the unread count."""
    page = engine.messages.list(actor, unread=unread, cursor=cursor, limit=limit)
    return MessageListPublic(
        items=[MessagePublic.from_view(m) for m in page.items], next=page.next, unread=page.unread
    )


@router.get("/unread-count", response_model=UnreadCountPublic, responses=responses())
def unread_count(actor: CurrentActor, engine: EngineDep) -> UnreadCountPublic:
    """How many of the caller's messages are unread."""
    return UnreadCountPublic(unread=engine.messages.unread_count(actor.username))


@router.post("/read-all", response_model=ReadAllPublic, responses=responses(409, 422))
def read_all(
    actor: CurrentActor, services: ServicesDep, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Mark every message of the caller read (marking is idempotent; a repeated key replays the answer)."""
    engine = services.engine

    def work(_reservation: object) -> ReadAllPublic:
        marked = engine.messages.mark_all_read(actor)
        return ReadAllPublic(marked=marked, unread=engine.messages.unread_count(actor.username))

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, None), 200, work)


@router.post("/{message_id}/read", response_model=MessagePublic, responses=responses(404, 409, 422))
def read_one(
    message_id: MessageId,
    actor: CurrentActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Mark one of the caller's messages read (404 for another's or an unknown id)."""
    engine = services.engine

    def work(_reservation: object) -> MessagePublic:
        return MessagePublic.from_view(engine.messages.mark_read(actor, message_id))

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, None), 200, work)
