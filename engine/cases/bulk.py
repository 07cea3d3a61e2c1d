"""Bulk actions of the inbox: claim, release or approve several tasks at once, each on its own.

Every task is its own transaction through the single-task action (``claim``, ``unclaim``,
``complete``), so one refusal (taken by someone else, a decision field missing) leaves the
others done, and the answer lists a result per task, in the order asked.

Per task idempotent: with a request key, each task gets its own key derived from it (the
request key's digest and the task id) in the caller's idempotency store. A decision records
its outcome in that key in its own transaction and the per-task answer is stored after it,
so a retried bulk request (its first try died half-way, or its answer was lost) never
decides a task twice: a task this bulk already did answers with its earlier result. A
refusal hands the task's key back, so a retry tries that task again.

May import: ``engine.cases``, ``engine.people``, ``engine.storage``, ``engine.errors``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.cases.states import Outcome
from engine.cases.task_actions import TaskActions
from engine.cases.views import Label
from engine.errors import (
    AlreadyClaimed,
    Conflict,
    EngineError,
    InvalidInput,
    NotAllowed,
    NotFound,
    Problem,
    split_languages,
)
from engine.people.actors import Actor
from engine.storage.idempotency import IdempotencyStore, Reservation, StoredAnswer

MAX_BULK = 100  # tasks in one bulk request
_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
# A refusal said by its kind, where the message itself cannot be said in one language.
NO_TASK = Label("没有这个任务，或您无权查看。", "No such task, or you may not see it.")
TAKEN = Label("该任务已由其他窗口人员认领。", "Another clerk has already claimed this task.")
_BY_KIND: tuple[tuple[type[EngineError], Label], ...] = (
    (NotAllowed, Label("您无权办理该任务。", "You may not work this task.")),
    (Conflict, Label("任务状态已变化，未能办理。", "The task changed meanwhile; it was not done.")),
    (InvalidInput, Label("填写的内容有误。", "Some of what was filled in is not valid.")),
    (EngineError, Label("未能办理。", "It could not be done.")),
)


class BulkAction(StrEnum):
    """What a bulk request does to each of its tasks."""

    CLAIM = "claim"
    UNCLAIM = "unclaim"
    APPROVE = "approve"


class BulkStatus(StrEnum):
    """One task's result."""

    OK = "ok"
    REFUSED = "refused"


@dataclass(frozen=True)
class BulkResult:
    """What happened to one task of a bulk request; ``detail`` says why a refusal, in words."""

    task: int
    status: BulkStatus
    detail: str
    replayed: bool = False
    reason: Label | None = None  # a refusal in each language alone, for pages (``detail`` mixes them)

    def as_json(self) -> dict[str, Any]:
        """The result as stored for a retry."""
        return {"task": self.task, "status": self.status.value, "detail": self.detail}


def _why(exc: EngineError) -> str:
    """A refusal in words: the message and, for invalid input, each problem."""
    if isinstance(exc, InvalidInput) and exc.problems:
        return f"{exc}: " + "; ".join(f"{p.where}: {p.message}" for p in exc.problems)
    return str(exc)


def refusal(exc: EngineError) -> Label:
    """A refusal in Chinese and in English, each alone: no error code, no username, no mixed language.

    Engine messages are written "中文 (English)"; a message that cannot be split cleanly so
    (one language only, or a code inside) is said by its kind. Invalid input lists each
    problem's own words, which name the field by its label.
    """
    if isinstance(exc, NotFound):
        return NO_TASK
    if isinstance(exc, AlreadyClaimed):
        return TAKEN  # its message names the holder by username
    kind = next(words for cls, words in _BY_KIND if isinstance(exc, cls))
    if isinstance(exc, InvalidInput) and exc.problems:
        # A problem's message is Chinese by contract (a letter in it is content: "不含 I、O");
        # its English is message_en, left out when any problem has none.
        en = [p.message_en for p in exc.problems if p.message_en and not _CJK.search(p.message_en)]
        return Label(
            kind.zh + "".join(f"{p.message}。" for p in exc.problems if p.message),
            kind.en + (" " + "; ".join(en) + "." if len(en) == len(exc.problems) else ""),
        )
    glossed = split_languages(exc.message)
    if glossed is None:
        return kind
    said_zh, said_en = glossed
    return Label(
        kind.zh if _LATIN.search(said_zh) else f"{said_zh}。",
        kind.en if _CJK.search(said_en) else f"{said_en[:1].upper()}{said_en[1:]}.",
    )


def task_key(request_key: str, task: int) -> str:
    """The per-task key derived from a bulk request's key (bounded length, whatever the request key)."""
    return f"bulk:{hashlib.sha256(request_key.encode()).hexdigest()[:40]}:task:{task}"


def request_digest(action: BulkAction, data: Mapping[str, Any], comment: str) -> str:
    """What a task of a bulk request was asked to undergo: a per-task key is refused for another."""
    text = json.dumps([action.value, dict(data), comment], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class BulkActions(TaskActions):
    """Several tasks at once, one transaction each."""

    def bulk(
        self,
        actor: Actor,
        action: BulkAction | str,
        tasks: Sequence[int],
        data: Mapping[str, Any] | None = None,
        comment: str = "",
        *,
        idempotency: IdempotencyStore | None = None,
        key: str | None = None,
    ) -> list[BulkResult]:
        """Do ``action`` to each task (at most ``MAX_BULK``, repeats once), each in its own transaction."""
        action = BulkAction(action)
        asked = list(dict.fromkeys(tasks))
        if not asked or len(asked) > MAX_BULK:
            raise InvalidInput("批量办理的任务数不符", [_count_problem(len(asked))])
        decision = dict(data or {})
        work: Callable[[int, Reservation | None], object]
        if action is BulkAction.CLAIM:
            work = lambda task, _r: self.claim(actor, task)  # noqa: E731
        elif action is BulkAction.UNCLAIM:
            work = lambda task, r: self.unclaim(actor, task, reservation=r)  # noqa: E731
        else:
            work = lambda task, r: self.complete(  # noqa: E731
                actor, task, Outcome.APPROVE, decision, comment, reservation=r
            )
        digest = request_digest(action, decision, comment)
        return [self._one(actor, task, work, idempotency if key else None, key, digest) for task in asked]

    @staticmethod
    def _one(
        actor: Actor,
        task: int,
        work: Callable[[int, Reservation | None], object],
        store: IdempotencyStore | None,
        key: str | None,
        digest: str,
    ) -> BulkResult:
        """One task: its own key (when the request has one), its own transaction, its own result."""
        if store is None or key is None:
            try:
                work(task, None)
            except EngineError as exc:
                return _refused(task, exc)
            return BulkResult(task, BulkStatus.OK, "")
        try:
            reserved = store.reserve(actor.username, task_key(key, task), digest)
        except EngineError as exc:  # still running elsewhere, or the key reused for another request
            return _refused(task, exc)
        if isinstance(reserved, StoredAnswer):
            body = reserved.body
            return BulkResult(task, BulkStatus(body["status"]), str(body["detail"]), replayed=True)
        if reserved.outcome is not None:  # done by an earlier try whose answer was lost
            result = BulkResult(task, BulkStatus.OK, "", replayed=True)
        else:
            try:
                work(task, reserved)
            except EngineError as exc:
                store.release(reserved)
                return _refused(task, exc)
            except BaseException:
                store.release(reserved)
                raise
            result = BulkResult(task, BulkStatus.OK, "")
        store.finish(reserved, 200, result.as_json())
        return result


def _refused(task: int, exc: EngineError) -> BulkResult:
    """A task's refusal: ``detail`` as the API has always said it, ``reason`` for a page in each language."""
    detail = f"没有这个任务 (no task {task})" if isinstance(exc, NotFound) else _why(exc)
    return BulkResult(task, BulkStatus.REFUSED, detail, reason=refusal(exc))


def _count_problem(count: int) -> Problem:
    """The bound of one bulk request, as a problem of its ``tasks``."""
    return Problem(
        f"每次可批量办理 1 至 {MAX_BULK} 个任务，本次 {count} 个",
        where="tasks",
        rule="bulk-size",
        message_en=f"a bulk request takes 1 to {MAX_BULK} tasks; this one has {count}",
    )
