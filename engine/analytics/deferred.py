"""Aggregate rows written last: projections of a transaction run just before it commits.

The aggregate rows (``engine.analytics.rows``) are shared by every case of a bundle, item and
office, so a transaction that updates one holds that row's lock until it commits, and every
other completion of the same item waits for it. Counted when the event is emitted, the lock
would be held through the rest of the action (saving the workflow, syncing its tasks, the
audit lines, the outbox), and with several server processes those waits, not the CPU,
capped the throughput. ``later`` queues the counting instead; it runs in the same
transaction, as its last statements before the commit, so the count still commits or rolls
back with the change and the lock is held for the commit alone.

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
