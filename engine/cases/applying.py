"""The applicant's side of a case, and how a case moves on: apply, supplement, withdraw, finish.

- ``start_case``: validate everything at once, start the workflow, queue the first tasks;
  the case's division (where it is decided) is the one asked for, else the applicant's
  division field, else the default, and picks the bundle's regional variant; a clerk at a
  window may receive an application for an applicant (异地代收: any division, the receiving
  office recorded);
- ``supplement``: answer the one correction notice (一次性告知) or deliver promised materials
  (容缺受理); only what was asked may change, and the returned tasks run again;
- ``withdraw``: end an unfinished case;
- ``_after_progress`` (after any step of the workflow: an application, a task action, a
  timer): finish the case, or gather the round's returns into one notice. A completed case
  may start follow-on bundles without an application (免申即享), which is applying again,
  so it lives here with ``start_case``.

Each step says what happened by emitting a typed event at the moment the change is made
(``Submitted``, ``ReceivedAtWindow``, ``Supplemented``, ``Withdrawn``, ``NoticeIssued``,
``Completed``/``Rejected``, ``FollowOn*``): the subscribers (analytics, the SLA clock) see the
case as the step left it.

May import: ``engine.cases``, ``engine.bpmn``, ``engine.people``, ``engine.regions``, ``engine.storage``,
``engine.errors``, ``forms``.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from engine.bpmn.expressions import evaluate
from engine.bpmn.model_metrics import promised_days
from engine.cases import supplement_scope
from engine.cases.codes import assign_code
from engine.cases.core import form_materials, problems_from_form
from engine.cases.duplicates import ApplicationChecks, DuplicateCase, find_duplicates
from engine.cases.events import (
    Completed,
    FollowOnDue,
    FollowOnFailed,
    FollowOnStarted,
    NoticeIssued,
    ReceivedAtWindow,
    Rejected,
    Submitted,
    Supplemented,
    Withdrawn,
)
from engine.cases.materials import material_id
from engine.cases.message_events import CaseStartedByMessage, MessageSent
from engine.cases.reading import CaseReading
from engine.cases.review_blocking import blocking_problems
from engine.cases.review_queue import carry_review
from engine.cases.states import FINISHED_CASE_STATES, OPEN_WORK_STATES, CaseStatus, Outcome, decided
from engine.cases.store import OpenCase
from engine.cases.suspension_guard import refuse_if_suspended
from engine.cases.views import CaseView
from engine.errors import CaseNotFound, CaseNotWaiting, Conflict, InvalidInput, NotAllowed, Problem
from engine.people.actors import Actor, Role
from engine.storage.db import upsert_insert
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Account, Deployment, Material, table_of
from engine.storage.prepared import Prepared
from engine.storage.spine import Event, emit
from forms.checks import Format

MATERIALS = table_of(Material)
# The materials an application names (one statement for all, run on the driver): what
# checking them needs, not their rows as objects.
_MATERIALS_OF = Prepared(
    select(MATERIALS.c.id, MATERIALS.c.owner, MATERIALS.c.kind).where(
        MATERIALS.c.id.in_(bindparam("ids", expanding=True))
    )
)


@dataclass(frozen=True)
class StartMessage:
    """A message that starts a case at its message start event, and the account that sent it."""

    name: str
    sender: str


@dataclass(frozen=True)
class Received:
    """An application a clerk received at a window for an applicant (异地代收), and where."""

    clerk: str
    applicant: str
    department: str  # the receiving office: the clerk's department ...
    division: str  # ... at the clerk's division


def _hand_over(session: Session, clerk: str, applicant: str, materials: Mapping[str, str]) -> dict[str, str]:
    """The materials a clerk uploaded for an applicant become the applicant's (kind -> new id).

    Each becomes the material the applicant's own upload of the same bytes would be (its id
    is of the owner, kind and content), and the clerk's copy goes: the applicant and the
    deciding offices see it as any of the applicant's materials, the window keeps nothing.
    """
    handed = dict(materials)
    for kind, old_id in materials.items():
        row = session.get(Material, old_id)
        if row is None or row.owner != clerk:
            continue
        new_id = material_id(applicant, row.kind, row.sha256)
        values = {
            "id": new_id,
            "sha256": row.sha256,
            "kind": row.kind,
            "size": row.size,
            "mime": row.mime,
            "owner": applicant,
            "filename": row.filename,
            "issued_by_case": None,
            "created_at": row.created_at,
            "content": row.content,
        }
        session.execute(
            upsert_insert(session, Material).values(**values).on_conflict_do_nothing(index_elements=["id"])
        )
        carry_review(session, old_id, new_id)
        session.execute(delete(Material).where(Material.id == old_id))
        handed[kind] = new_id
    return handed


class Applying(ApplicationChecks, CaseReading):
    """Applying, supplementing and withdrawing; finishing a case and its follow-ons."""

    def _check_materials(
        self, session: Session, owners: Collection[str], materials: Mapping[str, str]
    ) -> list[Problem]:
        """Each material exists, belongs to one of ``owners`` and is of the kind it is given as."""
        problems: list[Problem] = []
        ids = sorted(set(materials.values()))
        rows = {row.id: row for row in _MATERIALS_OF.rows(session, {"ids": ids})} if ids else {}
        for kind, material_id_ in materials.items():
            row = rows.get(material_id_)
            if row is None or row.owner not in owners:
                problems.append(
                    Problem(
                        f"材料不存在: {material_id_}",
                        where=kind,
                        rule="material-unknown",
                        message_en=f"unknown material {material_id_}",
                        extra={"kind": "material"},
                    )
                )
            elif row.kind != kind:
                problems.append(
                    Problem(
                        f"材料类型不符: 上传为 {row.kind}",
                        where=kind,
                        rule="material-kind",
                        message_en=f"material was uploaded as {row.kind}",
                        extra={"kind": "material"},
                    )
                )
        return problems

    def start_case(
        self,
        actor: Actor,
        bundle: str,
        data: Mapping[str, Any],
        materials: Mapping[str, str],
        promised: Collection[str] = (),
        *,
        division: str | None = None,
        applicant: str | None = None,
        received_department: str | None = None,
        origin_case_id: int | None = None,
        reservation: Reservation | None = None,
        confirm_duplicate: bool | None = None,
    ) -> CaseView:
        """Apply for a bundle: validate everything at once, start the workflow, queue the first tasks.

        ``division`` is where the case is decided (a known code; else the applicant's
        division field decides, else the default division), and it picks the bundle's
        regional variant. A clerk applies only for an applicant (``applicant``, 异地代收): the
        receiving office (``received_department``, needed when the clerk has several, and the
        clerk's division) is recorded and the materials the clerk uploaded become the
        applicant's. ``reservation`` (an ``Idempotency-Key``'s) learns the new case in the
        same transaction. ``confirm_duplicate``: False looks for a duplicate case first and
        raises ``DuplicateCase`` when there is one; True is the applicant's confirmation; None
        (callers that predate the warning, follow-ons) does not look.
        """
        problems: list[Problem] = []
        received = self._window(actor, applicant, received_department, problems)
        if division is not None and not self.regions.tree().known(division):
            problems.append(
                Problem(
                    f"未知的行政区划代码: {division}",
                    where="division",
                    rule="division-unknown",
                    message_en=f"unknown division code {division}",
                    extra={"kind": "field"},
                )
            )
            division = None
        with self.db.read() as s:
            base = self.deployments.latest(s, bundle)
            case_division = self._case_division(base, data, division)
            row = self.deployments.for_division(s, bundle, self.regions.chain(case_division), base)
        case_id = self._start(
            row,
            received.applicant if received else actor.username,
            data,
            materials,
            promised,
            division=case_division,
            received=received,
            problems=problems,
            origin_case_id=origin_case_id,
            reservation=reservation,
            check_duplicates=confirm_duplicate is False,
        )
        return self.get_case(actor if actor.username != "system" else Actor.system(), case_id)

    def _window(
        self, actor: Actor, applicant: str | None, department: str | None, problems: list[Problem]
    ) -> Received | None:
        """Who applies: the applicant themself, or an applicant received by a clerk at a window.

        Applicants apply for themselves only (naming anyone else, or a receiving department, is
        refused); a clerk must name an active applicant's account and, when in several
        departments, the receiving one. What is missing or wrong joins ``problems``.
        """
        if actor.role is Role.APPLICANT or actor.username == "system":
            if (applicant is not None and applicant != actor.username) or department is not None:
                raise NotAllowed("申请人只能为自己申请 (applicants apply for themselves only)")
            return None
        if actor.role is not Role.CLERK:
            raise NotAllowed("只有申请人或窗口人员可以申请 (only applicants and window clerks apply)")
        if department is None and len(actor.departments) == 1:
            (department,) = actor.departments
        if department is None or department not in actor.departments:
            problems.append(
                Problem(
                    "请选择受理部门(您所在的部门之一)",
                    where="received_department",
                    rule="received-department",
                    message_en="name the receiving department (one of yours)",
                    extra={"kind": "field"},
                )
            )
        known = None
        if applicant:
            with self.db.read() as s:
                known = s.scalar(
                    select(Account.username).where(
                        Account.username == applicant,
                        Account.role == Role.APPLICANT,
                        Account.active.is_(True),
                    )
                )
        if known is None:
            problems.append(
                Problem(
                    "请填写申请人的账号" if not applicant else f"没有这个申请人账号: {applicant}",
                    where="applicant",
                    rule="applicant-unknown",
                    message_en="name the applicant's account"
                    if not applicant
                    else f"no applicant {applicant}",
                    extra={"kind": "field"},
                )
            )
        return Received(
            clerk=actor.username,
            applicant=known or "",
            department=department or "",
            division=self.regions.own(actor.division),
        )

    def _case_division(self, row: Deployment, data: Mapping[str, Any], asked: str | None) -> str:
        """Where a case is decided: the division asked for, else the division field's value, else the default.

        The division field is the manifest's ``division_field``, else the form's first field
        holding a division code. An unknown code is the default's; the data keeps what the
        applicant wrote.
        """
        if asked is not None:
            return self.regions.home(asked)
        name = self.deployments.definition(row).manifest.division_field
        if name is None:
            form = self.deployments.form(row)
            name = next((f for f in form.fields if form.element(f).format == Format.DIVISION_CODE), None)
        value = data.get(name) if name is not None else None
        return self.regions.home(value if isinstance(value, str) else None)

    def _start(
        self,
        row: Deployment,
        applicant: str,
        data: Mapping[str, Any],
        materials: Mapping[str, str],
        promised: Collection[str] = (),
        *,
        division: str | None = None,
        received: Received | None = None,
        problems: Collection[Problem] = (),
        origin_case_id: int | None = None,
        reservation: Reservation | None = None,
        message: StartMessage | None = None,
        check_duplicates: bool = False,
    ) -> int:
        """Validate an application to a deployed version, start its workflow and save the new case.

        The one way a case begins: an applicant's application (perhaps received by a clerk:
        ``received``), a follow-on case (免申即享), or a department system's message
        (``message``: its start event runs instead of the plain start, and
        ``CaseStartedByMessage`` follows ``Submitted``). ``division`` is where the case is
        decided (None: from the data, as ``_case_division``); ``problems`` found by the
        caller are listed with the application's; ``check_duplicates`` refuses a duplicate
        the applicant has not confirmed (``DuplicateCase``). Returns the case id.
        """
        owners = (applicant, received.clerk) if received else (applicant,)
        found = list(problems)
        form = self.deployments.form(row)
        with self.db.read() as s:
            found += self._check_materials(s, owners, materials)
            # 智能预审: a document field the catalog marks blocking that differs from the form.
            found += blocking_problems(s, self.catalog, form, data, materials)
        # Certificates the form takes, of the company (or child ...) applied for, never another one's.
        held = self.materials.certificates_for(applicant, data, form_materials(form)) if applicant else {}
        attached = {**held, **materials}
        found += problems_from_form(
            form.validate(data, attached.keys(), promised) + self.plausibility(form, data)
        )
        if found:
            raise InvalidInput(f"申请有 {len(found)} 处问题 ({len(found)} problem(s))", found)
        if check_duplicates:
            with self.db.read() as s:
                name = self.deployments.definition(row).manifest.name
                duplicates = find_duplicates(s, form, row.key, (name.zh, name.en), applicant, data)
            if duplicates:
                raise DuplicateCase(duplicates)
        if division is None:
            division = self._case_division(row, data, None)
        definition = self.deployments.definition(row)
        if message is None:
            workflow = self.runner.start(definition, data)
        else:
            workflow = self.runner.start_by_message(definition, message.name, data)
        with self.db.write() as session:
            if received is not None:
                attached = _hand_over(session, received.clerk, applicant, attached)
            oc = self.store.create(session, row, applicant, dict(data), attached, workflow, division=division)
            oc.case.origin_case_id = origin_case_id
            if received is not None:
                oc.case.received_by = received.clerk
                oc.case.received_department = received.department
                oc.case.received_division = received.division
            assign_code(oc.case, self.settings.case_code_pattern, self.calendar)
            # The promise (限时办结): the longest remaining route from where the answers led.
            route_days = promised_days(definition, (t.name for t in self.runner.ready_tasks(workflow)))
            oc.case.due_at = self.calendar.due_for(route_days, oc.now)
            promises = {p.material: p.days for p in definition.manifest.accept_with_promise}
            oc.case.pending_materials = {
                kind: {
                    "due": self.calendar.due_for(float(promises[kind]), oc.now).isoformat(),
                    "promised_at": oc.now.isoformat(),
                }
                for kind in promised
                if kind in promises and kind not in attached
            }
            emit(
                session,
                Submitted(
                    case_id=oc.case.id,
                    at=oc.now,
                    actor=applicant,
                    bundle=row.key,
                    version=row.version,
                    materials=sorted(attached),
                    reused_certificates=sorted(k for k in attached if k not in materials),
                    promised=sorted(oc.case.pending_materials),
                    origin_case_id=origin_case_id,
                ),
            )
            if received is not None:
                emit(
                    session,
                    ReceivedAtWindow(
                        case_id=oc.case.id,
                        at=oc.now,
                        actor=received.clerk,
                        applicant=applicant,
                        department=received.department,
                        division=received.division,
                        decided_in=division,
                    ),
                )
            if message is not None:
                emit(
                    session,
                    CaseStartedByMessage(
                        case_id=oc.case.id,
                        at=oc.now,
                        actor=message.sender,
                        name=message.name,
                        applicant=applicant,
                    ),
                )
            self._after_progress(oc, applicant)
            self.store.save(oc)
            case_id = oc.case.id
            record_outcome(session, reservation, outcome_ref("case", case_id))
        self.store.remember(oc)
        for hook in oc.after_commit:
            hook()
        return case_id

    def _after_progress(self, oc: OpenCase, actor: str) -> None:
        """Bookkeeping after the workflow moved: its outbound messages, then finish or one notice.

        Every run of a workflow (an application, a task action, a timer, a message, an
        external task's result) ends here, so this is where the messages it threw (send
        tasks, message throw and end events) go onto the spine as ``MessageSent``, for the
        outbox to deliver.
        """
        case = oc.case
        for message in self.runner.outbound(oc.workflow):
            emit(
                oc.session,
                MessageSent(case_id=case.id, at=oc.now, name=message.name, element_id=message.element_id),
            )
        if self.runner.is_completed(oc.workflow):
            rejected = self.runner.ended_in_rejection(oc.workflow)
            case.status = CaseStatus.REJECTED if rejected else CaseStatus.COMPLETED
            case.finished_at = oc.now
            self.store.sync_work_items(oc)  # the open rows are cancelled; nothing the case counts changes
            finished = Rejected if rejected else Completed
            emit(oc.session, finished(case_id=case.id, at=oc.now, outputs=sorted(case.outputs)))
            if not rejected:
                self._follow_on(oc)
            return
        self.store.sync_work_items(oc)
        open_count = sum(1 for r in oc.live if r.state in OPEN_WORK_STATES)
        returned = sorted(  # this round's returned rows are live
            (r for r in oc.live if r.round == case.round and r.outcome == Outcome.RETURN), key=lambda r: r.id
        )
        if open_count == 0 and returned and case.status == CaseStatus.RUNNING:
            case.status = CaseStatus.AWAITING_APPLICANT
            case.notice = {
                "round": case.round,
                "issued_at": oc.now.isoformat(),
                "items": [
                    {
                        "item": r.item_key,
                        "department": r.department,
                        "work_item_id": r.id,
                        "comment": r.comment,
                        "problems": list(r.problems),
                    }
                    for r in returned
                ],
                "problems": [
                    {**p, "item": r.item_key, "department": r.department}
                    for r in returned
                    for p in r.problems
                ],
            }
            emit(
                oc.session,
                NoticeIssued(
                    case_id=case.id,
                    at=oc.now,
                    round=case.round,
                    departments=sorted({r.department for r in returned}),
                    problems=len(case.notice["problems"]),
                ),
            )

    def _follow_on(self, oc: OpenCase) -> None:
        """免申即享: start the follow-on bundles the manifest declares, without an application."""
        manifest = oc.definition.manifest
        if not manifest.follow_on:
            return
        names = {**oc.case.data, **self.runner.data(oc.workflow)}
        for follow in manifest.follow_on:
            try:
                if not evaluate(follow.when, names):
                    continue
                data = {key: evaluate(expr, names) for key, expr in follow.data.items()}
            except Exception as exc:  # an analyst's expression failing must not undo the finished case
                emit(
                    oc.session,
                    FollowOnFailed(case_id=oc.case.id, at=oc.now, bundle=follow.bundle, error=str(exc)),
                )
                continue
            emit(oc.session, FollowOnDue(case_id=oc.case.id, at=oc.now, bundle=follow.bundle, data=data))
            oc.after_commit.append(
                functools.partial(self._start_follow_on, oc.case.id, oc.case.applicant, follow.bundle, data)
            )

    def _start_follow_on(self, origin: int, applicant: str, bundle: str, data: dict[str, Any]) -> None:
        """Start one follow-on case after the origin's completion committed (its own transaction)."""
        outcome: Event
        try:
            started = self.start_case(
                Actor(applicant, Role.APPLICANT), bundle, data, {}, origin_case_id=origin
            )
            outcome = FollowOnStarted(
                case_id=origin, at=self.clock.now(), bundle=bundle, started_case_id=started.id
            )
        except Exception as exc:  # recorded on the origin case; the applicant can still apply by hand
            outcome = FollowOnFailed(case_id=origin, at=self.clock.now(), bundle=bundle, error=str(exc))
        with self.db.write() as session:
            emit(session, outcome)  # its line is written as the transaction commits

    def supplement(
        self,
        actor: Actor,
        case_id: int,
        data: Mapping[str, Any],
        materials: Mapping[str, str],
        reservation: Reservation | None = None,
    ) -> CaseView:
        """The applicant answers the correction notice; only the returned tasks run again.

        Only what the notice asked may change, and materials owed on a promise may come
        at any time (``engine.cases.supplement_scope``); anything else is refused, each named.
        ``reservation`` (an ``Idempotency-Key``'s) learns the case in the same transaction.
        """
        with self.db.read() as s:
            case = self._visible_case(s, actor, case_id)
            if case.applicant != actor.username:
                raise CaseNotFound(f"没有这个办件 (no case {case_id})")
            refuse_if_suspended(case)
            problems = self._check_materials(s, (actor.username,), materials)
            row = self.deployments.row(s, case.deployment_id)
        form = self.deployments.form(row)
        scope = supplement_scope.asked(case.status, case.notice, case.pending_materials)
        problems += scope.refusals(data, materials)
        # The form checks what was asked; a field not asked is refused above, whatever its value.
        merged_data = {**case.data, **{k: v for k, v in data.items() if k in scope.fields}}
        merged_materials = {**case.materials, **{k: v for k, v in materials.items() if k in scope.materials}}
        pending = set(case.pending_materials) - set(materials)
        problems += problems_from_form(form.validate(merged_data, merged_materials.keys(), pending))
        # A rule is the supplement's only when it reads a field the supplement changes.
        problems += problems_from_form(
            [p for p in self.plausibility(form, merged_data) if set(p.fields) & set(data)]
        )
        if problems:
            raise InvalidInput(f"补正有 {len(problems)} 处问题", problems)

        def change(oc: OpenCase) -> None:
            c = oc.case
            # Checked again on the locked row: another supplement or a new notice may have come between.
            refuse_if_suspended(c)
            late = supplement_scope.asked(c.status, c.notice, c.pending_materials).refusals(data, materials)
            if late:
                raise InvalidInput(f"补正有 {len(late)} 处问题", late)
            supplied_promises = sorted(set(c.pending_materials) & set(materials))
            if c.status != CaseStatus.AWAITING_APPLICANT and not supplied_promises:
                raise CaseNotWaiting("办件当前不需要补正 (the case is not waiting for a supplement)")
            record_outcome(oc.session, reservation, outcome_ref("case", c.id))
            self.runner.update_data(oc.workflow, data)
            c.data = {**c.data, **dict(data)}
            c.materials = {**c.materials, **dict(materials)}
            c.pending_materials = {k: v for k, v in c.pending_materials.items() if k not in materials}
            resumes = c.status == CaseStatus.AWAITING_APPLICANT
            issued_at = c.notice.get("issued_at") if resumes and c.notice else None
            # A resumed case's departments' clocks stood still since the notice: the SLA clock
            # follows this event and moves their due times, before the new round's rows exist.
            emit(
                oc.session,
                Supplemented(
                    case_id=c.id,
                    at=oc.now,
                    actor=actor.username,
                    round=c.round,
                    fields=sorted(data),
                    materials=sorted(materials),
                    promises_kept=supplied_promises,
                    waited_from=datetime.fromisoformat(issued_at) if issued_at else None,
                ),
            )
            if resumes:
                c.notice = None
                c.round += 1
                c.status = CaseStatus.RUNNING
                self.store.sync_work_items(oc)

        self._mutate(case_id, change)
        return self.get_case(actor, case_id)

    def withdraw(self, actor: Actor, case_id: int, reservation: Reservation | None = None) -> CaseView:
        """The applicant withdraws an unfinished case no department has decided on; open tasks are cancelled.

        ``reservation`` (an ``Idempotency-Key``'s) learns the case in the same transaction.
        """
        with self.db.read() as s:
            case = self._visible_case(s, actor, case_id)
            if case.applicant != actor.username:
                raise CaseNotFound(f"没有这个办件 (no case {case_id})")

        def change(oc: OpenCase) -> None:
            if oc.case.status in FINISHED_CASE_STATES:
                raise Conflict("办件已结束 (the case is finished)")
            refuse_if_suspended(oc.case)
            if decided(row.state for row in oc.rows):
                raise Conflict("已有部门作出办理决定，不能撤回 (a department has decided: no withdrawal)")
            record_outcome(oc.session, reservation, outcome_ref("case", oc.case.id))
            oc.workflow.cancel()
            oc.case.status = CaseStatus.WITHDRAWN
            oc.case.finished_at = oc.now
            emit(oc.session, Withdrawn(case_id=oc.case.id, at=oc.now, actor=actor.username))

        self._mutate(case_id, change)
        return self.get_case(actor, case_id)
