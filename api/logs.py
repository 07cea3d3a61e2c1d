"""Request context and structured logs: a request id for every request, one JSON line for each.

Every log record written while a request is handled carries its request id (a logging
filter reads it from a context variable). Every request writes exactly one line, as its
answer goes out: a state-changing call its ``onething.audit`` line (who, what, which case
and task, outcome, status, request id), any other call an ``onething.access`` line (who,
what, status, duration); liveness probes and static files write theirs at debug level.
Routes and dependencies add what they learn (the caller, the case) to the request's
``AuditNote`` with ``note()``; the middleware writes the line when the answer is sent.

At the default level the log holds what happened, not how the engine stepped through it:
SpiffWorkflow's per-task "State changed" lines (``spiff.*``), Alembic's migration steps
and uvicorn's own start-up chatter show only at debug level (``configure_logging``).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

AUDIT_LOGGER = "onething.audit"
ACCESS_LOGGER = "onething.access"
# Looked up once: ``getLogger`` takes the logging module's lock, and every request writes a line.
_audit_log = logging.getLogger(AUDIT_LOGGER)
_access_log = logging.getLogger(ACCESS_LOGGER)
_NO_REQUEST = "-"
# Libraries whose info lines narrate their own steps: shown at debug level only.
CHATTY_LOGGERS = ("spiff", "alembic", "uvicorn.error")
# Requests that are no one's business at the default level: liveness probes, static files.
QUIET_PATHS = ("/healthz", "/static/")


@dataclass
class AuditNote:
    """What one request did, filled in as it is handled."""

    request_id: str
    who: str | None = None
    case_id: int | None = None
    task_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[AuditNote | None] = ContextVar("onething_request", default=None)


def begin_request(request_id: str) -> AuditNote:
    """Start the note of a request (the middleware calls this; the note is shared by its threads)."""
    current = AuditNote(request_id)
    _current.set(current)
    return current


def current_request_id() -> str:
    """The id of the request being handled, or ``-`` outside requests."""
    current = _current.get()
    return current.request_id if current is not None else _NO_REQUEST


def note(
    *, who: str | None = None, case_id: int | None = None, task_id: int | None = None, **extra: Any
) -> None:
    """Record facts about the current request for its audit line (no-op outside requests)."""
    current = _current.get()
    if current is None:
        return
    if who is not None:
        current.who = who
    if case_id is not None:
        current.case_id = case_id
    if task_id is not None:
        current.task_id = task_id
    current.extra.update(extra)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record, so any handler can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, pid and the record's ``event``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", current_request_id()),
            # Which process wrote it: ``serve --workers N`` runs several on one log.
            "pid": record.process,
        }
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            out.update(event)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Send every log record to stderr as JSON lines (called by the CLI, never at import).

    Above debug level the chatty libraries (``CHATTY_LOGGERS``) say only warnings and errors;
    uvicorn's own access line never shows (ours is the one line of a request).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLinesFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # A record gathers only what a line prints (its pid): no thread or process names, which
    # every record would otherwise look up (the logging HOWTO's "Optimization").
    logging.logThreads = False
    logging.logMultiprocessing = False


def audit(
    current: AuditNote,
    *,
    method: str,
    path: str,
    route: str | None,
    status: int,
    duration_ms: float,
    error: str | None,
) -> None:
    """Write the audit line of one state-changing request."""
    outcome = (
        "ok"
        if status < 400
        else ("denied" if status in (401, 403) else "refused" if status < 500 else "failed")
    )
    event: dict[str, Any] = {
        "event": "api.change",
        "who": current.who,
        "method": method,
        "path": path,
        "route": route,
        "case_id": current.case_id,
        "task_id": current.task_id,
        "status": status,
        "outcome": outcome,
        "duration_ms": round(duration_ms, 1),
    }
    if error:
        event["error"] = error
    # What the route noted adds to the line; it never replaces who, what or the outcome.
    event = {**current.extra, **event}
    _audit_log.info(
        "%s %s -> %s", method, route or path, status, extra={"event": event, "request_id": current.request_id}
    )


def access(
    current: AuditNote, *, method: str, path: str, route: str | None, status: int, duration_ms: float
) -> None:
    """Write the access line of one request that changes nothing (debug level for probes and static files)."""
    event: dict[str, Any] = {
        "event": "api.read",
        "who": current.who,
        "method": method,
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": round(duration_ms, 1),
    }
    level = logging.DEBUG if path.startswith(QUIET_PATHS) else logging.INFO
    _access_log.log(
        level,
        "%s %s -> %s",
        method,
        route or path,
        status,
        extra={"event": event, "request_id": current.request_id},
    )
