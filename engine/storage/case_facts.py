"""The few columns of a case that every outbox row names, as the change that read them saw them.

Each event of a change goes to the outbox with its case's code, bundle and version
(``engine.integration.outbox``). The outbox takes them from the case row the session holds,
else reads them. A change that has them without loading the row (a claim's conditional
``UPDATE ... RETURNING`` returns them with the task, in the statement that decides the race)
notes them here, so the case row is read once per action, not again at the commit.

Only facts that the rest of the transaction does not change may be noted: a change that
assigns a case its code loads the row, and the row wins over a note.

May import: the standard library and SQLAlchemy only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

_NOTED = "onething.case_facts"


@dataclass(frozen=True)
class CaseFacts:
    """The case columns every outbox row needs (not the workflow state: that is large)."""

    id: int
    code: str | None
    bundle_key: str
    version: int
    deployment_id: int


def note(session: Session, facts: CaseFacts) -> None:
    """Tell the rest of this transaction what it knows of a case."""
    session.info.setdefault(_NOTED, {})[facts.id] = facts


def noted(session: Session, case_id: int) -> CaseFacts | None:
    """The facts of ``case_id`` noted in this transaction, if any."""
    found: dict[int, CaseFacts] | None = session.info.get(_NOTED)
    return found.get(case_id) if found else None
