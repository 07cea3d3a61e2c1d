"""The states of cases and work items, and the outcomes a clerk can choose."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    """Where a case stands, as the applicant sees it."""

    RUNNING = "running"
    AWAITING_APPLICANT = "awaiting_applicant"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


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
