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
    """Where a department task stands in its queue."""

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


OPEN_WORK_STATES = (WorkItemState.READY, WorkItemState.CLAIMED)
FINISHED_CASE_STATES = (CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN)
