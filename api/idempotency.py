"""Idempotent routes: run the work once per ``Idempotency-Key`` and replay its first answer.

The key belongs to the caller (two callers may use the same key independently) and to one
request: the same key with another path or body is refused (422). A replayed answer has
the first answer's status and body, and the header ``Idempotent-Replayed: true``.
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
from engine.idempotency import StoredAnswer

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
    work: Callable[[], BaseModel],
) -> JSONResponse:
    """Answer ``work()`` with ``status_code``; with a key, do it at most once and replay the answer."""
    if key is None:
        return JSONResponse(work().model_dump(mode="json"), status_code=status_code)
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
        answer = work().model_dump(mode="json")
    except BaseException:
        store.release(reserved)
        raise
    store.finish(reserved, status_code, answer, clock.now())
    return JSONResponse(answer, status_code=status_code)
