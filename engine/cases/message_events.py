"""The events of BPMN messages between a case and the departments' own systems.

Kept beside ``engine.cases.events`` (same base, same rules: ``KIND`` is the audit line's kind,
the fields its detail): a message correlated to a waiting case, a case started by a message,
and a message the workflow threw (send tasks, message throw and end events), which the
outbox delivers to the subscribed systems. No case data travels in these events (data
minimisation): a receiver that needs data asks for it with its own rights.

May import: ``engine.storage`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.storage.spine import Event


@dataclass(frozen=True, kw_only=True)
class MessageCorrelated(Event):
    """A message reached the case's workflow, which was waiting for it (``actor``: who sent it)."""

    KIND = "message_correlated"
    name: str
    # The process variables it set, by name only (their values stay in the workflow).
    variables: list[str]


@dataclass(frozen=True, kw_only=True)
class CaseStartedByMessage(Event):
    """A message start event started this case (after its ``Submitted``; ``actor``: who sent it)."""

    KIND = "started_by_message"
    name: str
    applicant: str


@dataclass(frozen=True, kw_only=True)
class MessageSent(Event):
    """The workflow threw a message (send task, message throw or end event) at ``element_id``."""

    KIND = "message_sent"
    name: str
    element_id: str
