"""Domain errors of the engine.

The tree, so callers can catch at the depth they need::

    EngineError
    ├── DefinitionError        a bundle or diagram that cannot be deployed or run
    │   └── UnsafeXml          hostile or oversized XML refused before parsing
    ├── ExpressionRefused      an expression or script outside the allowed language
    ├── ExpressionFailed       an allowed expression that failed while evaluating
    ├── NotFound               unknown id (also: exists but the caller may not see it)
    │   ├── BundleNotFound
    │   ├── CaseNotFound
    │   ├── WorkItemNotFound
    │   ├── MaterialNotFound
    │   └── ExternalTaskNotFound
    ├── NotAllowed             the caller may see it but not do this
    ├── Conflict               the state forbids the action now
    │   ├── AlreadyClaimed
    │   ├── TaskNotReady
    │   ├── CaseNotWaiting
    │   ├── StaleCase          another writer changed the case first (retried internally)
    │   ├── ExternalTaskLockLost   another worker holds the external task's lock
    │   ├── ExternalTaskNotLocked  the lock to extend has expired or was never taken
    │   └── KeyInUse           a request with the same Idempotency-Key is still running
    ├── InvalidInput           input with a list of problems (all of them at once)
    ├── TooLarge               an upload or document above its size limit
    └── TooManyAttempts        sign-in refused for a while after repeated failures

SpiffWorkflow exceptions are translated at the facade with ``raise ... from exc``; the
API maps each class to one HTTP status in a single table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def in_languages(self) -> tuple[str, str]:
        """The message as (Chinese, English), for a page in one language; the whole text for both
        when it is not written "中文 (English)"."""
        return split_languages(self.message) or (self.message, self.message)


# An engine message written "中文 (English)": the Chinese text and its English gloss.
_GLOSSED = re.compile(r"^(?P<zh>.*?\S)\s*[(（](?P<en>[\x20-\x7e]+)[)）]$")


def split_languages(message: str) -> tuple[str, str] | None:
    """An engine message written "中文 (English)" as its two languages, or None when it is not.

    Engine messages carry both languages in one string so that logs and the REST ``detail``
    stay readable to everyone; a page shows only its own language.
    """
    glossed = _GLOSSED.match(message)
    return (glossed["zh"], glossed["en"]) if glossed else None


@dataclass(frozen=True)
class Problem:
    """One problem found in input: where it is, what is wrong, which rule failed."""

    message: str
    where: str = ""
    rule: str = ""
    message_en: str = ""
    file: str = ""
    element: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for APIs and the CLI."""
        out: dict[str, Any] = {"message": self.message}
        for key in ("where", "rule", "message_en", "file", "element"):
            value = getattr(self, key)
            if value:
                out[key] = value
        out.update(self.extra)
        return out


class DefinitionError(EngineError):
    """A bundle or diagram that cannot be deployed or run; carries every problem found."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [Problem(message)]


class UnsafeXml(DefinitionError):
    """XML refused before it was parsed: entities, DTDs, external references, size."""


class ExpressionRefused(EngineError):
    """An expression or script uses something outside the allowed language."""


class ExpressionFailed(EngineError):
    """An allowed expression failed while evaluating (unknown name, type error, limit)."""


class NotFound(EngineError):
    """Unknown id, or an id the caller may not see (answered the same, so ids cannot be probed)."""


class BundleNotFound(NotFound):
    """No deployed bundle with that key or version."""


class CaseNotFound(NotFound):
    """No case with that id visible to the caller."""


class WorkItemNotFound(NotFound):
    """No task with that id visible to the caller."""


class MaterialNotFound(NotFound):
    """No material with that id visible to the caller."""


class ExternalTaskNotFound(NotFound):
    """No external task with that id visible to the caller (or it is done, cancelled, handed over)."""


class NotAllowed(EngineError):
    """The caller may see the resource but not perform this action on it."""


class Conflict(EngineError):
    """The current state forbids the action."""


class AlreadyClaimed(Conflict):
    """Someone else holds the task."""


class TaskNotReady(Conflict):
    """The task is not in a state that allows the action (done, cancelled, not yours)."""


class ExternalTaskLockLost(Conflict):
    """The external task is locked by another worker (or by none): Camunda's BadUserRequestException.

    A worker whose lock expired and was taken by another worker may no longer complete,
    fail or throw on the task; the text names both workers as Camunda's does.
    """


class ExternalTaskNotLocked(Conflict):
    """The external task's lock expired (or was never taken), so it cannot be extended."""


class CaseNotWaiting(Conflict):
    """The case is not waiting for what the caller tries to give it."""


class StaleCase(Conflict):
    """Another writer changed the case between our read and our write."""


class KeyInUse(Conflict):
    """A request with the same ``Idempotency-Key`` is still running; ask again in ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidInput(EngineError):
    """Input with problems; every problem is listed, never only the first."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


class TooLarge(EngineError):
    """An upload or document above its size limit."""


class TooManyAttempts(EngineError):
    """Sign-in refused until ``retry_after`` seconds have passed (repeated failures; see engine.sign_in)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MessageNotCorrelated(Conflict):
    """No waiting case and no message start event matches a message (Camunda's text in ``message``)."""


class MessageAmbiguous(Conflict):
    """Several waiting cases match a message that was to reach exactly one (Camunda's text in ``message``)."""


class CaseSuspendedError(Conflict):
    """The case is suspended (挂起): nothing moves it, no task of it is claimed or decided, until a resume."""


class AssigneeChanged(Conflict):
    """A task's assignee is no longer the one the caller saw: someone else reassigned or released it first."""
