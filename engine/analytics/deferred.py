"""Work run last in a transaction, just before it commits: the analytics facts of its completions.

A completed task or finished case is queued for the aggregates (``engine.analytics.projection``)
with what it counts for: its working times, its day, the applicant's materials. ``later``
works that out as the transaction's last statements, from the task and case as the whole
action leaves them, so an ORM read it needs (a paused case's pauses) flushes the action's
changes once, with the commit's own flush, and never in the middle of the action. It runs in
the same transaction, so the fact still commits or rolls back with the change.

May import: ``engine.storage`` (nothing else: the work is handed in).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

_PENDING = "analytics.later"


def later(session: Session, work: Callable[[], None]) -> None:
    """Run ``work`` in this session's transaction just before it commits (dropped on rollback)."""
    session.info.setdefault(_PENDING, []).append(work)


def _before_commit(session: Session) -> None:
    pending: list[Callable[[], None]] | None = session.info.pop(_PENDING, None)
    for work in pending or ():
        work()


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


sa_event.listen(Session, "before_commit", _before_commit)
sa_event.listen(Session, "after_rollback", _after_rollback)
