"""BPMN timers of cases: fire the ones whose time has come, each exactly once.

The worker calls ``fire_due_timers`` on every tick. Each due case fires in its own
transaction with its row locked; a case another worker holds is skipped (that worker fires
it), and a timer found already fired on the locked row is left alone, so any number of
workers may run against one database.

May import: ``engine.cases``, ``engine.storage``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.applying import Applying
from engine.cases.events import TimerFired
from engine.cases.states import CaseStatus
from engine.cases.store import OpenCase
from engine.storage.models import Case
from engine.storage.spine import emit


class Timers(Applying):
    """Firing the BPMN timers that have come due."""

    def fire_due_timers(self, limit: int = 100) -> int:
        """Fire BPMN timers whose time has come, each exactly once (in the case's transaction)."""
        now = self.clock.now()
        with self.db.read() as s:
            due = s.scalars(
                select(Case.id)
                # SpiffWorkflow fires a timer once the clock is past its moment, not at it.
                .where(
                    Case.next_timer_at.is_not(None),
                    Case.next_timer_at < now,
                    # A suspended case's timers wait for the resume (Camunda runs no job of one).
                    Case.status != CaseStatus.SUSPENDED.value,
                )
                .order_by(Case.next_timer_at)
                .limit(limit)
            ).all()
        fired = 0
        for case_id in due:

            def locate(session: Session, case_id: int = case_id) -> int:
                # Another worker holding this case is firing it: take the next one, don't queue.
                held = session.scalar(
                    select(Case.id)
                    .where(Case.id == case_id)
                    .with_for_update(skip_locked=True, key_share=True)
                )
                if held is None:
                    raise _HeldElsewhere
                return case_id

            def change(oc: OpenCase) -> bool:
                at = oc.case.next_timer_at
                if at is None or at >= oc.now or oc.case.status == CaseStatus.SUSPENDED:
                    return False  # another worker fired it first, or the case was suspended meanwhile
                self.runner.fire_timers(oc.workflow)
                emit(oc.session, TimerFired(case_id=oc.case.id, at=oc.now, due=at.isoformat()))
                self._after_progress(oc, "system")
                return True

            try:
                if self._mutate(locate, change):
                    fired += 1
            except _HeldElsewhere:
                continue
        return fired


class _HeldElsewhere(Exception):
    """A due case another worker has locked (it fires the timer; this worker moves on)."""
