"""Returns between departments (退回到指定环节): how often an item sent a case back, or was reopened.

A send-back is not a return to the applicant (``returned`` counts those): one department
hands the case back to an earlier department's step. Two counts per item and office, read
from the audit trail when asked rather than kept in an aggregate table (send-backs are
rare, and the trail already holds them with the task they concern): ``sent_back``, the
times this item's task sent the case to *another* department's step; ``reopened``, the
times this item's decision was reopened by another department (``step_reopened`` lines
whose ``from_department`` is set and differs; a supervisor's move counts in neither).

May import: ``engine.analytics.grouping``, ``engine.storage``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.analytics.grouping import DivisionScope
from engine.storage.models import CaseEvent, Deployment, WorkItem

# (bundle, version, item, department, division group)
Key = tuple[str, int, str, str, str | None]


@dataclass
class StepReturns:
    """Counts of returns between departments per (bundle, version, item, department, division group)."""

    sent_back: Counter[Key] = field(default_factory=Counter)
    reopened: Counter[Key] = field(default_factory=Counter)

    def by_department(self) -> tuple[Counter[tuple[str, str | None]], Counter[tuple[str, str | None]]]:
        """The same counts summed per (department, division group)."""
        sent: Counter[tuple[str, str | None]] = Counter()
        opened: Counter[tuple[str, str | None]] = Counter()
        for key, n in self.sent_back.items():
            sent[(key[3], key[4])] += n
        for key, n in self.reopened.items():
            opened[(key[3], key[4])] += n
        return sent, opened


def step_returns(
    session: Session, scope: DivisionScope, bundle: str | None = None, version: int | None = None
) -> StepReturns:
    """The returns between departments within the scope (of one bundle, or one version of it)."""
    query = (
        select(
            CaseEvent.kind,
            CaseEvent.detail,
            WorkItem.bundle_key,
            Deployment.version,
            WorkItem.item_key,
            WorkItem.department,
            WorkItem.division,
        )
        .join(WorkItem, WorkItem.id == CaseEvent.work_item_id)
        .join(Deployment, Deployment.id == WorkItem.deployment_id)
        .where(CaseEvent.kind.in_(("sent_back", "step_reopened")))
    )
    if scope.codes is not None:
        query = query.where(WorkItem.division.in_(sorted(scope.codes)))
    if bundle is not None:
        query = query.where(WorkItem.bundle_key == bundle)
    if version is not None:
        query = query.where(Deployment.version == version)
    found = StepReturns()
    for kind, detail, bundle_key, row_version, item, department, division in session.execute(query):
        key: Key = (bundle_key, row_version, item, department, scope.group(division))
        if kind == "sent_back" and detail.get("between_departments"):
            found.sent_back[key] += 1
        elif kind == "step_reopened" and detail.get("from_department") not in (None, department):
            found.reopened[key] += 1
    return found
