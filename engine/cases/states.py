"""The states of cases and work items, and the outcomes a clerk can choose."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class CaseStatus(StrEnum):
    """Where a case stands, as the applicant sees it."""

    RUNNING = "running"
    AWAITING_APPLICANT = "awaiting_applicant"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    # 挂起: waiting for something outside the procedure (a court ruling, an inspection) that the
    # law leaves out of the time limit; nothing moves it but a resume (``engine.cases.suspending``).
    SUSPENDED = "suspended"


class WorkItemState(StrEnum):
    """Where a department task stands in its queue (or, for an external task, with its system)."""

    READY = "ready"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    # An external task whose retries reached 0: an incident, waiting for retries or a clerk.
    FAILED = "failed"


class Outcome(StrEnum):
    """A clerk's decision on a task."""

    APPROVE = "approve"
    RETURN = "return"


# An incident (FAILED) is still open: the workflow waits on it, its clock runs, and the
# case store must not queue it again.
OPEN_WORK_STATES = (WorkItemState.READY, WorkItemState.CLAIMED, WorkItemState.FAILED)
FINISHED_CASE_STATES = (CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN)


def decided(work_states: Iterable[str]) -> bool:
    """Whether a department has already decided on the case (a work item was completed).

    The applicant may withdraw (撤回) only before that: a decision made (a licence issued, an
    account opened, a correction asked) is not undone by taking the application back.
    """
    return any(state == WorkItemState.COMPLETED for state in work_states)
