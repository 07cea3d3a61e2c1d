"""The message names each case waits for, as rows (``message_waits``) kept in step with its workflow.

Correlating a message must find the waiting cases without restoring every workflow, so
``CaseStore.save`` writes the names the saved workflow waits for (intermediate catch events,
receive tasks, message boundary events, event-based gateways). The store knows the names
the workflow waited for when the case was opened (the rows hold exactly those), so a save
that changes nothing about messages (nearly all of them) costs no statement at all.

May import: ``engine.storage``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.orm import Session

from engine.storage.models import MessageWait


def sync_message_waits(
    session: Session, case_id: int, before: frozenset[str], waiting: Iterable[str]
) -> frozenset[str]:
    """Make the case's rows name exactly ``waiting`` (they named ``before``); returns the new set."""
    after = frozenset(waiting)
    gone = before - after
    if gone:
        session.execute(
            delete(MessageWait)
            .where(MessageWait.name.in_(sorted(gone)), MessageWait.case_id == case_id)
            .execution_options(synchronize_session=False)
        )
    session.add_all(MessageWait(case_id=case_id, name=name) for name in sorted(after - before))
    return after
