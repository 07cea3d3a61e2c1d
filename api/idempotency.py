"""Idempotent routes: run the work once per ``Idempotency-Key`` and replay its first answer.

The key belongs to the caller (two callers may use the same key independently) and to one
request: the same key with another path or body is refused (422). A replayed answer has
the first answer's status and body, and the header ``Idempotent-Replayed: true``.

The work gets the reservation and writes what it created into it in its own transaction;
when a process died between that commit and storing the answer, the next request with the
key answers from what was created (``recover``) and does not do the work again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import Services
from engine.actors import Actor
from engine.idempotency import Reservation, StoredAnswer

REPLAYED_HEADER = "Idempotent-Replayed"


def fingerprint(method: str, path: str, body: Any) -> str:
    """A digest of what was asked, to tell a true repeat from a reused key."""
    text = json.dumps([method.upper(), path, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def run_once(
    services: Services,
    actor: Actor,
    key: str | None,
    request: tuple[str, str, BaseModel | None],
    status_code: int,
    work: Callable[[Reservation | None], BaseModel],
    recover: Callable[[str], BaseModel],
) -> JSONResponse:
    """Answer ``work(reservation)`` with ``status_code``; with a key, do it at most once.

    ``recover(outcome)`` rebuilds the answer from what an interrupted earlier run created.
    """
    if key is None:
        return JSONResponse(work(None).model_dump(mode="json"), status_code=status_code)
    method, path, body = request
    digest = fingerprint(method, path, body.model_dump(mode="json") if body is not None else None)
    store = services.idempotency
    clock = services.engine.clock
    reserved = store.reserve(actor.username, key, digest, clock.now())
    if isinstance(reserved, StoredAnswer):
        return JSONResponse(
            reserved.body, status_code=reserved.status_code, headers={REPLAYED_HEADER: "true"}
        )
    try:
        done = recover(reserved.outcome) if reserved.outcome is not None else work(reserved)
        answer = done.model_dump(mode="json")
    except BaseException:
        store.release(reserved)
        raise
    store.finish(reserved, status_code, answer, clock.now())
    return JSONResponse(answer, status_code=status_code)
