"""When a task's supervision entries fire: the bundle's escalation policy and its moments.

``escalation.notify_at`` (bundle.yaml, default 0.8) of an item's limit in working time
(``engine.time.calendar``) after the task was created, the department is warned;
``escalation.escalate_at`` (default 1.0, i.e. the due time) of it, the supervisor is told.
An item's limit is its ``time_limit_days``, else the working time from creation to due.
``reschedule`` moves a scheduled entry when its task's due time moved (a paused case).

May import: ``engine.deadlines.supervision``, ``engine.storage``, ``engine.time``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deadlines.supervision import Escalation, Level
from engine.storage.models import Deployment, WorkItem
from engine.time.calendar import WorkCalendar


@dataclass(frozen=True)
class Policy:
    """A bundle's escalation fractions (``notify_at``, ``escalate_at``) and its items' limits in days."""

    notify_at: float
    escalate_at: float
    limits: dict[str, float]


DEFAULT_POLICY = Policy(0.8, 1.0, {})  # bundle.yaml's ``escalation`` defaults, no item limits


def load_policies(session: Session, deployment_ids: Iterable[int]) -> dict[int, Policy]:
    """The policies of these deployments, read from their manifests."""
    ids = sorted(set(deployment_ids))
    if not ids:
        return {}
    out = {}
    for deployment_id, manifest in session.execute(
        select(Deployment.id, Deployment.manifest).where(Deployment.id.in_(ids))
    ):
        escalation = manifest.get("escalation") or {}
        out[deployment_id] = Policy(
            float(escalation.get("notify_at", 0.8)),
            float(escalation.get("escalate_at", 1.0)),
            {str(i["key"]): float(i.get("time_limit_days", 0)) for i in manifest.get("items", [])},
        )
    return out


def moments(
    calendar: WorkCalendar, created_at: datetime, due_at: datetime, allowed: float, policy: Policy
) -> tuple[datetime, datetime]:
    """When to warn and when to escalate, given the allowed working seconds and the current due time.

    Working time between creation and due beyond ``allowed`` is time the clock stood still
    (a paused case): both moments move by it, as the due time did.
    """
    extra = max(0.0, calendar.working_time_between(created_at, due_at).total_seconds() - allowed)
    warn = calendar.add_working_time(created_at, timedelta(seconds=policy.notify_at * allowed + extra))
    if policy.escalate_at == 1.0:
        return warn, due_at
    escalate = calendar.add_working_time(created_at, timedelta(seconds=policy.escalate_at * allowed + extra))
    return warn, escalate


def reschedule(
    session: Session, calendar: WorkCalendar, entry: Escalation, item: WorkItem
) -> datetime | None:
    """Move a scheduled entry after its task's due time moved; the new moment (None if unknown)."""
    if item.due_at is None:
        return None
    detail = entry.detail
    stored = DEFAULT_POLICY
    if "notify_at" not in detail or "escalate_at" not in detail:
        # The sweep's tracking writes both into every entry; only an entry without them needs the manifest.
        stored = load_policies(session, [item.deployment_id]).get(item.deployment_id, DEFAULT_POLICY)
    policy = Policy(
        float(detail.get("notify_at", stored.notify_at)),
        float(detail.get("escalate_at", stored.escalate_at)),
        stored.limits,
    )
    allowed = float(detail.get("allowed_s", 0.0))
    warn, escalate = moments(calendar, item.created_at, item.due_at, allowed, policy)
    entry.fire_at = warn if entry.level == Level.WARNING else escalate
    entry.due_at = item.due_at
    entry.detail = {**entry.detail, "due_at": item.due_at.isoformat()}
    return entry.fire_at
