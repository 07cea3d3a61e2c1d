"""Idempotent routes: run the work once per ``Idempotency-Key`` and replay its first answer.

Every mutating route under ``/api`` takes the header (a test walks the OpenAPI document). The
key belongs to the caller (two callers may use the same key independently) and to one
request: the same key with another path or body is refused (422). A replayed answer has the
first answer's status and body, and the header ``Idempotent-Replayed: true``.

The work gets the reservation; a work that is not naturally repeatable writes what it
created into it in its own transaction (``record_outcome``), and the route's ``recover``
rebuilds the answer from that: a request that finds an outcome answers from it at once,
without doing the work again, whether the first request died, lost its database or is still
storing its answer. A work that is naturally repeatable (an upload stored by content, a claim
of one's own task, a deploy of the same files) records nothing: after a crash the next
holder simply does it again, with the same result.

When the work committed but its answer could not be stored (the database went away in
between), the answer is still given: the work is done, and a retry answers from its outcome.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import Services
from engine.people.actors import Actor
from engine.storage.idempotency import IdempotencyStore, Reservation, StoredAnswer

log = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class Reply:
    """An answer whose status depends on the work (a deploy: 201 new version, 200 unchanged)."""

    body: BaseModel
    status_code: int


Asked = BaseModel | Mapping[str, Any] | None


def fingerprint(method: str, path: str, body: Any) -> str:
    """A digest of what was asked, to tell a true repeat from a reused key."""
    text = json.dumps([method.upper(), path, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class _PreRendered(JSONResponse):
    """A JSON answer whose body pydantic already wrote (no dict built and dumped again)."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


def _rendered(done: BaseModel | Reply, status_code: int) -> JSONResponse:
    """The answer of a run without a key: serialized straight to bytes by the schema."""
    if isinstance(done, Reply):
        return _PreRendered(done.body.model_dump_json().encode(), status_code=done.status_code)
    return _PreRendered(done.model_dump_json().encode(), status_code=status_code)


def _answer(done: BaseModel | Reply, status_code: int) -> tuple[int, Any]:
    if isinstance(done, Reply):
        return done.status_code, done.body.model_dump(mode="json")
    return status_code, done.model_dump(mode="json")


def run_once(
    services: Services,
    actor: Actor,
    key: str | None,
    request: tuple[str, str, Asked],
    status_code: int,
    work: Callable[[Reservation | None], BaseModel | Reply],
    recover: Callable[[str], BaseModel] | None = None,
) -> JSONResponse:
    """Answer ``work(reservation)`` with ``status_code``; with a key, do it at most once.

    ``request`` is (method, path, body) for the fingerprint; ``recover(outcome)`` rebuilds the
    answer from what an earlier run of the work created (routes whose work records an outcome).
    """
    if key is None:
        return _rendered(work(None), status_code)
    method, path, asked = request
    digest = fingerprint(
        method, path, asked.model_dump(mode="json") if isinstance(asked, BaseModel) else asked
    )
    store = services.idempotency
    reserved = store.reserve(actor.username, key, digest)
    if isinstance(reserved, StoredAnswer):
        return JSONResponse(
            reserved.body, status_code=reserved.status_code, headers={REPLAYED_HEADER: "true"}
        )
    if reserved.outcome is not None:
        if recover is None:
            raise RuntimeError(f"{method} {path} records no outcome, yet its key names {reserved.outcome!r}")
        code, body = _answer(recover(reserved.outcome), status_code)
    else:
        try:
            code, body = _answer(work(reserved), status_code)
        except BaseException:
            _release(store, reserved)
            raise
    _store(store, reserved, code, body)
    return JSONResponse(body, status_code=code)


def _release(store: IdempotencyStore, reserved: Reservation) -> None:
    """Hand the key back; when the database is gone too, its lease runs out by itself."""
    try:
        store.release(reserved)
    except Exception:
        log.warning("could not release an idempotency key; its lease runs out instead", exc_info=True)


def _store(store: IdempotencyStore, reserved: Reservation, code: int, body: Any) -> None:
    """Keep the answer for repeats; when that fails the work stands, and a retry answers from its outcome."""
    try:
        store.finish(reserved, code, body)
    except Exception:
        log.warning("could not store the answer of an idempotency key; a retry rebuilds it", exc_info=True)
