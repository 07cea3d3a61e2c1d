"""BPMN messages from the departments' own systems: correlate one to a waiting case, or start a case.

The semantics are Camunda 7.20's ``POST /message`` (``MessageCorrelationBuilder.correlate``
and ``correlateAll``), so that the systems' existing clients work unchanged:

- the candidates are the cases waiting for the message (their ``message_waits`` rows, kept
  by ``CaseStore.save``), narrowed by the business key (the case's 办件编码, or its id as
  text) and by correlation keys (each equal to the case's answer or approved decision of
  that name; the REST layer has already decoded Camunda's typed values);
- exactly one waiting case: the message is delivered to it in its locked-case transaction
  (``_mutate``); several (without ``all``): ``MessageAmbiguous``; none: a bundle whose
  newest version has a message start event of that name starts a case, with the message's
  variables as its data, through the one start path (``Applying._start``); nothing at
  all: ``MessageNotCorrelated``. With ``all``, every waiting case and every such bundle,
  and nothing matching is an empty answer, as in Camunda;
- two systems racing for one waiting case: the second finds it no longer waiting once it
  holds the lock and is answered as if none waited.

Who may send: a department's system account, for cases and bundles its department takes
part in and cases in its division's subtree (others are treated as not there), and admins
in their scope (the engine itself included, everywhere).

The error texts are Camunda's (its REST layer answers 400 with them), in English, as the
clients that parse them expect.

May import: ``engine.cases``, ``engine.people``, ``engine.regions``, ``engine.storage``,
``engine.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.cases.applying import StartMessage
from engine.cases.core import with_decisions
from engine.cases.message_events import MessageCorrelated
from engine.cases.message_items import complete_message_items
from engine.cases.states import CaseStatus, Outcome
from engine.cases.store import OpenCase
from engine.cases.task_actions import TaskActions
from engine.cases.visibility import may_see_case
from engine.errors import MessageAmbiguous, MessageNotCorrelated, NotAllowed
from engine.people.actors import Actor, Role
from engine.storage.models import Account, Case, Deployment, MessageWait, WorkItem
from engine.storage.spine import emit

# The cases a message may still reach: a finished case waits for nothing.
_LIVE = (CaseStatus.RUNNING, CaseStatus.AWAITING_APPLICANT)


@dataclass(frozen=True)
class Correlation:
    """Where a message went: a waiting case (``Execution``) or a case it started (``ProcessDefinition``)."""

    kind: Literal["Execution", "ProcessDefinition"]
    case_id: int
    code: str | None
    bundle: str
    version: int


@dataclass(frozen=True)
class _Target:
    case_id: int
    code: str | None
    bundle: str
    version: int


class Messages(TaskActions):
    """Correlating messages from department systems to cases (see the module docstring)."""

    def correlate_message(
        self,
        actor: Actor,
        name: str,
        *,
        business_key: str | None = None,
        correlation_keys: Mapping[str, Any] | None = None,
        process_variables: Mapping[str, Any] | None = None,
        all: bool = False,  # Camunda's name for it
    ) -> list[Correlation]:
        """Deliver message ``name`` to the one waiting case it matches, or start a case (Camunda 7 semantics).

        Raises ``MessageNotCorrelated`` when nothing matches (not with ``all``) and
        ``MessageAmbiguous`` when several waiting cases (or several bundles' start events)
        match and ``all`` is false.
        """
        if actor.role is not Role.SYSTEM and actor.role is not Role.ADMIN:
            raise NotAllowed("只有部门系统账号可以发送消息 (only department systems send messages)")
        keys = dict(correlation_keys or {})
        variables = dict(process_variables or {})
        described = _describe(business_key, keys)
        waiting = self._waiting_for(actor, name, business_key, keys)
        if len(waiting) > 1 and not all:
            raise MessageAmbiguous(
                f"ENGINE-13031 Cannot correlate a message with name '{name}' to a single execution. "
                f"{len(waiting)} executions match the correlation keys: {described}"
            )
        results: list[Correlation] = []
        for target in waiting:
            try:
                self._deliver(actor, target.case_id, name, variables)
            except MessageNotCorrelated:
                if not all:
                    raise
                continue  # another sender's message moved it on meanwhile
            results.append(
                Correlation("Execution", target.case_id, target.code, target.bundle, target.version)
            )
        if waiting and not all:
            return results  # Camunda tries start events only when no execution matched
        starts = self._starting_bundles(actor, name)
        if len(starts) > 1 and not all:
            raise MessageAmbiguous(
                f"ENGINE-13030 Cannot correlate a message with name '{name}' to a single process definition. "
                f"{len(starts)} process definitions match the correlations keys: {described}"
            )
        for row in starts:
            started = self._start_by_message(actor, row, name, variables)
            results.append(
                Correlation("ProcessDefinition", started.case_id, started.code, row.key, row.version)
            )
        if not results and not all:
            raise MessageNotCorrelated(_none_matches(name))
        return results

    def _may_use_bundle(self, actor: Actor, row: Deployment) -> bool:
        """A system account uses the bundles its department takes part in; admins use every bundle."""
        if actor.role is Role.ADMIN:
            return True
        items = self.deployments.definition(row).manifest.items
        return any(item.department in actor.departments for item in items)

    def _may_reach(self, s: Session, actor: Actor, case: Case) -> bool:
        """Whether a message of the actor may reach the case: one in its division's subtree.

        A system account reaches the cases decided in its division's subtree (none: the
        default division's) and those with a step of its department there (多地联办); an
        admin the cases of its scope (the engine itself: every case).
        """
        if actor.role is Role.ADMIN:
            return may_see_case(s, actor, case, self.regions)
        own = self.regions.own(actor.division)
        if self.regions.in_scope(own, self.regions.own(case.division)):
            return True
        step = s.scalar(
            select(WorkItem.id)
            .where(
                WorkItem.case_id == case.id,
                WorkItem.department.in_(sorted(actor.departments)),
                WorkItem.division.in_(sorted(self.regions.tree().subtree(own))),
            )
            .limit(1)
        )
        return step is not None

    def _waiting_for(
        self, actor: Actor, name: str, business_key: str | None, keys: Mapping[str, Any]
    ) -> list[_Target]:
        """The live cases waiting for ``name`` that match the business key and correlation keys."""
        query = (
            select(Case)
            .join(MessageWait, MessageWait.case_id == Case.id)
            .where(MessageWait.name == name, Case.status.in_(_LIVE))
            .order_by(Case.id)
        )
        if business_key is not None:
            by_id = (
                [Case.id == int(business_key)] if business_key.isdigit() and len(business_key) < 19 else []
            )
            query = query.where(or_(Case.code == business_key, *by_id))
        found: list[_Target] = []
        with self.db.read() as s:
            for case in s.scalars(query).unique():
                if not self._may_use_bundle(actor, self.deployments.row(s, case.deployment_id)):
                    continue
                if not self._may_reach(s, actor, case):
                    continue
                if keys and not _matches(keys, _case_names(s, case)):
                    continue
                found.append(_Target(case.id, case.code, case.bundle_key, case.version))
        return found

    def _deliver(self, actor: Actor, case_id: int, name: str, variables: Mapping[str, Any]) -> None:
        """The message into one case's workflow, in its locked transaction; the case moves on."""

        def change(oc: OpenCase) -> None:
            # Checked again under the lock: another message may have taken this one's place.
            if oc.case.status not in _LIVE or not self.runner.correlate(oc.workflow, name, variables):
                raise MessageNotCorrelated(_none_matches(name))
            _emit_correlated(oc, actor, name, variables)
            # A receive task bound to an item (a department's step done by message) is approved.
            complete_message_items(oc, name, variables, actor.username, self._issue_outputs)
            self._after_progress(oc, actor.username)

        self._mutate(case_id, change)

    def _starting_bundles(self, actor: Actor, name: str) -> list[Deployment]:
        """The newest versions of bundles with a message start event for ``name`` that the actor may use."""
        with self.db.read() as s:
            rows = self.deployments.latest_all(s)
        return [
            row
            for row in rows
            if name in self.deployments.definition(row).message_starts and self._may_use_bundle(actor, row)
        ]

    def _start_by_message(
        self, actor: Actor, row: Deployment, name: str, variables: Mapping[str, Any]
    ) -> _Target:
        """Start a case of ``row`` at its message start event, through the one start path.

        The applicant is the process variable ``applicant`` when it names an applicant's
        account (免申即享 for that person), else the sending system account.
        """
        named = variables.get("applicant")
        applicant = actor.username
        if isinstance(named, str) and named:
            with self.db.read() as s:
                known = s.scalar(
                    select(Account.username).where(
                        Account.username == named, Account.role == Role.APPLICANT, Account.active.is_(True)
                    )
                )
            applicant = known or applicant
        data = {k: v for k, v in variables.items() if k != "applicant"}
        case_id = self._start(row, applicant, data, {}, message=StartMessage(name, actor.username))
        with self.db.read() as s:
            code = s.scalar(select(Case.code).where(Case.id == case_id))
        return _Target(case_id, code, row.key, row.version)


def _emit_correlated(oc: OpenCase, actor: Actor, name: str, variables: Mapping[str, Any]) -> None:
    """Say on the spine that a message reached the case (its variables by name only)."""
    emit(
        oc.session,
        MessageCorrelated(
            case_id=oc.case.id, at=oc.now, actor=actor.username, name=name, variables=sorted(variables)
        ),
    )


def _none_matches(name: str) -> str:
    """Camunda's text for a message that reaches no case and starts none."""
    return f"Cannot correlate message '{name}': No process definition or execution matches the parameters"


def _case_names(session: Session, case: Case) -> dict[str, Any]:
    """What correlation keys are matched against: the case's answers and its approved decisions."""
    approved = session.scalars(
        select(WorkItem).where(WorkItem.case_id == case.id, WorkItem.outcome == Outcome.APPROVE)
    ).all()
    return with_decisions(case.data, approved)


def _matches(keys: Mapping[str, Any], names: Mapping[str, Any]) -> bool:
    """Every correlation key present with an equal value."""
    return all(key in names and names[key] == value for key, value in keys.items())


def _describe(business_key: str | None, keys: Mapping[str, Any]) -> str:
    """Camunda's ``CorrelationSet`` as its error texts print it."""
    shown = "{" + ", ".join(f"{k}={v}" for k, v in keys.items()) + "}" if keys else "null"
    return (
        f"CorrelationSet [businessKey={'null' if business_key is None else business_key}, "
        "processInstanceId=null, processDefinitionId=null, "
        f"correlationKeys={shown}, localCorrelationKeys=null, tenantId=null, isTenantIdSet=false, "
        "isExecutionsOnly=false]"
    )
