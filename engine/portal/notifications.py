"""The message centre (消息中心): short messages to applicants and clerks, written as cases move.

``Notifier.follow`` follows the event spine (``engine.subscribers`` subscribes it as
``portal.notifications`` to ``Notifier.KINDS``). For each event below it writes one
``notifications`` row per recipient, in the transaction of the change it tells about, so a
rolled-back change leaves no message, and a committed one always has its messages:

- ``TaskCreated`` of a human task, and ``HandedToClerk`` (a system's task given to people):
  ``task_ready`` to the active clerk accounts of the task's office (the department is one of
  theirs and their own division is the task's; a supervisor of that office works its queue
  too, supervisors above it only read it), linking ``/tasks/{id}``;
- ``NoticeIssued``: ``correction_notice`` to the applicant, linking ``/cases/{id}``;
- ``Completed`` / ``Rejected``: ``case_finished`` to the applicant, naming the certificates
  issued, linking ``/cases/{id}``;
- ``Supplemented`` answering a notice: ``supplement_received`` to each clerk who returned a
  task of that round, linking ``/cases/{id}``;
- ``RectificationReplied``: ``rating_answered`` to the applicant who rated (``/cases/{id}``);
- ``ComplaintAnswered``: ``complaint_answered`` to the complainant (``/complaints/{id}``);
- ``RectificationOpened``: ``rectification_opened`` to the supervisors of the office that
  answers the bad rating (the department's office that worked the case), ``/supervision``;
- ``Escalated``: ``escalated`` to the supervisors of the late task's department at its
  office's division and above it (who supervise it), ``/supervision``;
- ``CaseSuspended`` / ``CaseResumed`` (挂起/恢复): ``case_suspended`` / ``case_resumed`` to the
  applicant, with the reason and legal basis and that the time limit does not run
  meanwhile, linking ``/cases/{id}``.
- ``TaskReassigned`` / ``TaskDelegated``: ``task_assigned`` to the clerk who now holds the
  task (转办 names the reason, 委托 the note), linking ``/tasks/{id}``.

Left out on purpose: what the recipient did themselves (nobody is told of their own
action), materials promised under 容缺受理 arriving without a notice (no clerk asked for
them), and people without an active account (an application received at a window for
someone who never signed up). Messages are written once, in Chinese and English, with
names (bundle, item, department) and the case code, never keys; the link is a page of
this site.

Every message is also an outbound event: ``Notified`` (recipient, kind, title, body, link;
nothing else of the case) goes through the spine to the outbox, so an SMS or e-mail
gateway subscribed by webhook (kind ``notified``) sends it on. ``Notified`` names no case:
the case's audit trail records what happened to the case, not who was told about it.

``MessageCentre`` is what the API and pages call: a person's messages newest first
(paged, optionally unread only), the unread count (one COUNT on the
``(recipient, read_at, id)`` index), and marking their own messages read.

May import: ``engine.bpmn``, ``engine.cases``, ``engine.deadlines``, ``engine.feedback``,
``engine.people``, ``engine.regions``, ``engine.storage``, ``engine.time``, ``forms``.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from engine.bpmn.runtime import TaskKind
from engine.cases.cursors import MAX_PAGE, decode_cursor, encode_cursor
from engine.cases.events import (
    CaseFinished,
    CaseResumed,
    CaseSuspended,
    ComplaintAnswered,
    Escalated,
    HandedToClerk,
    NoticeIssued,
    RectificationOpened,
    RectificationReplied,
    Rejected,
    Supplemented,
    TaskCreated,
    TaskDelegated,
    TaskReassigned,
)
from engine.cases.views import Label
from engine.deadlines.supervision import responsible_division
from engine.errors import NotFound
from engine.feedback.rows import Complaint, Rating, Rectification
from engine.people.actors import Actor, Role
from engine.regions.service import Regions
from engine.storage.db import Database, rowcount
from engine.storage.models import Account, Case, Deployment, WorkItem, table_of
from engine.storage.portal_tables import Notification
from engine.storage.prepared import Prepared
from engine.storage.spine import Event, emit
from engine.time.clock import Clock
from forms.catalog import Catalog

REPLY_SHOWN = 200  # characters of a department's reply quoted in a message
ACCOUNTS = table_of(Account)
NOTIFICATIONS = table_of(Notification)
CASES = table_of(Case)
# Built once: every new human task writes its clerks' messages with it.
_NOTIFICATION_INSERT = Prepared(insert(NOTIFICATIONS))
UNREAD_COUNT = select(func.count()).where(
    NOTIFICATIONS.c.recipient == bindparam("recipient"), NOTIFICATIONS.c.read_at.is_(None)
)


def _clerks_query(*, default_office: bool, supervisors: bool) -> Any:
    """The active clerks at the ``codes`` divisions (and those without one, at the default office)."""
    a = ACCOUNTS.c
    at_office: ColumnElement[bool] = a.division.in_(bindparam("codes", expanding=True))
    if default_office:  # an account without a division sits at the default one
        at_office = or_(at_office, a.division.is_(None))
    query = select(a.username, a.departments).where(a.role == Role.CLERK.value, a.active.is_(True), at_office)
    if supervisors:
        query = query.where(a.supervisor.is_(True))
    return query.order_by(a.username)


# Built once (every new task asks): by (the default office among the codes, supervisors only).
_CLERKS = {
    (default_office, supervisors): Prepared(
        _clerks_query(default_office=default_office, supervisors=supervisors)
    )
    for default_office in (False, True)
    for supervisors in (False, True)
}
# Built once and run on the driver, without an autoflush (nothing here changes accounts):
# every finished case, notice and answer names its applicant.
_ACTIVE_AMONG = Prepared(
    select(ACCOUNTS.c.username).where(
        ACCOUNTS.c.username.in_(bindparam("names", expanding=True)), ACCOUNTS.c.active.is_(True)
    )
)
# Where a transaction's session keeps the offices' accounts it has read (``_office_clerks``).
_CLERKS_READ = "onething.office_clerks"
_CASE_FACTS = Prepared(
    select(CASES.c.id, CASES.c.code, CASES.c.deployment_id, CASES.c.applicant, CASES.c.notice).where(
        CASES.c.id == bindparam("case")
    )
)


class MessageKind(StrEnum):
    """What a message tells (``Notification.kind``)."""

    TASK_READY = "task_ready"
    CORRECTION_NOTICE = "correction_notice"
    CASE_FINISHED = "case_finished"
    SUPPLEMENT_RECEIVED = "supplement_received"
    RATING_ANSWERED = "rating_answered"
    COMPLAINT_ANSWERED = "complaint_answered"
    RECTIFICATION_OPENED = "rectification_opened"
    ESCALATED = "escalated"
    CASE_SUSPENDED = "case_suspended"
    CASE_RESUMED = "case_resumed"
    TASK_ASSIGNED = "task_assigned"


@dataclass(frozen=True, kw_only=True)
class Notified(Event):
    """A message went to one account's message centre (the outbound event gateways send on)."""

    KIND = "notified"
    recipient: str
    kind: str
    title: dict[str, str]
    body: dict[str, str]
    link: str


class MessageNotFound(NotFound):
    """No such message among the caller's own."""


@dataclass(frozen=True)
class MessageView:
    """One message as its recipient reads it."""

    id: int
    kind: str
    title: Label
    body: Label
    link: str
    case_id: int | None
    task_id: int | None
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        """Whether the recipient has not opened it yet."""
        return self.read_at is None


@dataclass(frozen=True)
class MessagePage:
    """One page of a person's messages, newest first, and how many are unread in all."""

    items: list[MessageView]
    next: str | None
    unread: int


# -- writing messages (the spine subscriber) ----------------------------------------------


@dataclass(frozen=True)
class _Bundle:
    """The names a message needs of a deployed bundle version (deployments never change)."""

    name: Label
    items: dict[str, Label]


_BUNDLES: weakref.WeakKeyDictionary[Any, OrderedDict[int, _Bundle]] = weakref.WeakKeyDictionary()
_BUNDLES_KEPT = 256
_BUNDLES_LOCK = threading.Lock()


def _label(value: Any, fallback: str) -> Label:
    names = value if isinstance(value, Mapping) else {}
    zh = str(names.get("zh") or fallback)
    return Label(zh, str(names.get("en") or zh))


def _bundle(session: Session, deployment_id: int) -> _Bundle:
    """A bundle version's names, cached per database (ids are unique within one database only)."""
    pool = session.connection().engine.pool
    with _BUNDLES_LOCK:
        cache = _BUNDLES.setdefault(pool, OrderedDict())
        found = cache.get(deployment_id)
    if found is not None:
        return found
    row = session.get(Deployment, deployment_id)
    manifest: Mapping[str, Any] = row.manifest if row is not None else {}
    fallback = Label("办事服务", "Service")
    found = _Bundle(
        name=_label(manifest.get("name"), fallback.zh) if manifest.get("name") else fallback,
        items={
            str(item["key"]): _label(item.get("name"), "办理事项")
            for item in manifest.get("items", ())
            if isinstance(item, Mapping) and "key" in item
        },
    )
    with _BUNDLES_LOCK:
        cache[deployment_id] = found
        while len(cache) > _BUNDLES_KEPT:
            cache.popitem(last=False)
    return found


@dataclass(frozen=True)
class _CaseFacts:
    """The columns of a case a message needs."""

    id: int
    code: str | None
    deployment_id: int
    applicant: str
    notice: dict[str, Any] | None

    @property
    def named(self) -> str:
        """The case as people know it: its code (办件编码), else its number."""
        return self.code or f"#{self.id}"


@dataclass(frozen=True)
class _Message:
    kind: MessageKind
    title: Label
    body: Label
    link: str


def _both(label: Label) -> dict[str, str]:
    return {"zh": label.zh, "en": label.en}


class Notifier:
    """The spine subscriber that writes the messages (see the module docstring for the table)."""

    # The kinds ``follow`` takes (``engine.subscribers`` subscribes it to these).
    KINDS: tuple[type[Event], ...] = (
        TaskCreated,
        HandedToClerk,
        NoticeIssued,
        CaseFinished,
        Supplemented,
        RectificationReplied,
        ComplaintAnswered,
        RectificationOpened,
        Escalated,
        CaseSuspended,
        CaseResumed,
        TaskReassigned,
        TaskDelegated,
    )

    def __init__(
        self,
        default_division: str,
        catalog: Catalog,
        regions: Regions | None = None,
        tz: str = "Asia/Shanghai",
    ) -> None:
        self.default_division = default_division
        self.catalog = catalog  # the engine's: names the certificates a finished case issued
        self.regions = regions
        self.zone = ZoneInfo(tz)

    def follow(self, session: Session, event: Event) -> None:
        """The spine subscriber: the messages ``event`` calls for, in its transaction."""
        if isinstance(event, TaskCreated | HandedToClerk):
            self.task_ready(session, event)
        elif isinstance(event, NoticeIssued):
            self.correction_notice(session, event)
        elif isinstance(event, CaseFinished):
            self.case_finished(session, event)
        elif isinstance(event, Supplemented):
            self.supplement_received(session, event)
        elif isinstance(event, RectificationReplied):
            self.rating_answered(session, event)
        elif isinstance(event, ComplaintAnswered):
            self.complaint_answered(session, event)
        elif isinstance(event, RectificationOpened):
            self.rectification_opened(session, event)
        elif isinstance(event, Escalated):
            self.escalated(session, event)
        elif isinstance(event, CaseSuspended | CaseResumed):
            self.suspension(session, event)
        elif isinstance(event, TaskReassigned | TaskDelegated):
            self.task_assigned(session, event)

    # -- names ------------------------------------------------------------------------

    def _department(self, department: str) -> Label:
        names = self.regions.departments().get(department) if self.regions is not None else None
        if names is None:
            return Label("办理部门", "the department")
        return Label(names[0], names[1] or names[0])

    def _departments(self, departments: Iterable[str]) -> Label:
        labels = [self._department(d) for d in departments]
        return Label("、".join(lb.zh for lb in labels), ", ".join(lb.en for lb in labels))

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    # -- recipients -------------------------------------------------------------------

    def _office_clerks(
        self, session: Session, department: str, divisions: Iterable[str], *, supervisors: bool = False
    ) -> list[str]:
        """The active clerk accounts of the department at one of ``divisions`` (supervisors only if asked).

        The offices' accounts are read once per transaction: an approval that opens six
        parallel tasks at one office asks six times, and nothing in between changes accounts.
        """
        codes = tuple(sorted(set(divisions)))
        key = (codes, supervisors)
        read: dict[tuple[tuple[str, ...], bool], Sequence[Any]] = session.info.setdefault(_CLERKS_READ, {})
        if key not in read:
            query = _CLERKS[(self.default_division in codes, supervisors)]
            read[key] = query.rows(session, {"codes": list(codes)})
        rows = read[key]
        return [row.username for row in rows if department in (row.departments or ())]

    def _above(self, division: str) -> tuple[str, ...]:
        """The division and those above it: whose supervisors answer for an office there (督办)."""
        return self.regions.chain(division) if self.regions is not None else (division,)

    @staticmethod
    def _active(session: Session, usernames: Iterable[str]) -> list[str]:
        """Those of ``usernames`` with an active account, in the order given."""
        wanted = list(dict.fromkeys(u for u in usernames if u))
        if not wanted:
            return []
        found = {row.username for row in _ACTIVE_AMONG.rows(session, {"names": wanted})}
        return [u for u in wanted if u in found]

    # -- sending ----------------------------------------------------------------------

    def _send(
        self,
        session: Session,
        event: Event,
        recipients: Iterable[str],
        message: _Message,
        *,
        case_id: int | None,
        work_item_id: int | None = None,
    ) -> None:
        """One row per recipient (never the actor of the change), and its outbound ``Notified``.

        The rows go in as one Core ``INSERT`` on the transaction's connection, not as ORM
        objects: nothing reads their ids, and a new task's two or three clerks each cost the
        unit of work an ``INSERT ... RETURNING`` of its own at the next flush.
        """
        title, body = _both(message.title), _both(message.body)
        told = [recipient for recipient in recipients if recipient != event.actor]
        if not told:
            return
        row = {
            "kind": message.kind.value,
            "case_id": case_id,
            "work_item_id": work_item_id,
            "title": title,
            "body": body,
            "link": message.link,
            "created_at": event.at,
            "read_at": None,
        }
        _NOTIFICATION_INSERT.many(session, [{**row, "recipient": who} for who in told])
        for recipient in told:
            emit(
                session,
                Notified(
                    case_id=None,
                    at=event.at,
                    recipient=recipient,
                    kind=message.kind.value,
                    title=title,
                    body=body,
                    link=message.link,
                ),
            )

    @staticmethod
    def _case(session: Session, case_id: int | None) -> _CaseFacts | None:
        """The case's row if the change holds it, else its few columns (never the workflow state)."""
        if case_id is None:
            return None
        row = session.identity_map.get(identity_key(Case, case_id))
        if isinstance(row, Case):
            return _CaseFacts(row.id, row.code, row.deployment_id, row.applicant, row.notice)
        found = _CASE_FACTS.one_or_none(session, {"case": case_id})
        return None if found is None else _CaseFacts(*found)

    def task_ready(self, session: Session, event: TaskCreated | HandedToClerk) -> None:
        """A human task joined an office's queue: tell the clerks who work it."""
        item = session.get(WorkItem, event.work_item_id) if event.work_item_id is not None else None
        case = self._case(session, event.case_id)
        if item is None or case is None or item.kind != TaskKind.HUMAN:
            return
        names = _bundle(session, case.deployment_id)
        what = names.items.get(item.item_key, Label(item.task_name, item.task_name))
        code = case.named
        again = item.round > 1
        if isinstance(event, HandedToClerk):
            title = Label(f"转人工办理：{what.zh}", f"Handed to clerks: {what.en}")
            lead = Label(
                f"部门系统未能完成办件 {code}（{names.name.zh}）的「{what.zh}」，已转由本单位人工办理。",
                f"The department system could not finish '{what.en}' of case {code} "
                f"({names.name.en}); it now waits in your office's queue.",
            )
        else:
            title = Label(
                f"{'补正后重新办理' if again else '新待办'}：{what.zh}",
                f"{'Back after a supplement' if again else 'New task'}: {what.en}",
            )
            lead = Label(
                f"办件 {code}（{names.name.zh}）的「{what.zh}」已进入本单位待办队列。",
                f"'{what.en}' of case {code} ({names.name.en}) is waiting in your office's queue.",
            )
        if item.due_at is not None:
            due = self._local(item.due_at)
            lead = Label(f"{lead.zh}请于 {due} 前办结。", f"{lead.en} Due by {due} (China time).")
        self._send(
            session,
            event,
            self._office_clerks(session, item.department, (item.division,)),
            _Message(MessageKind.TASK_READY, title, lead, f"/tasks/{item.id}"),
            case_id=case.id,
            work_item_id=item.id,
        )

    def correction_notice(self, session: Session, event: NoticeIssued) -> None:
        """The round's returns became one correction notice: tell the applicant what to do."""
        case = self._case(session, event.case_id)
        if case is None:
            return
        names = _bundle(session, case.deployment_id)
        code = case.named
        who = self._departments(event.departments)
        message = _Message(
            MessageKind.CORRECTION_NOTICE,
            Label(f"需要补正：{names.name.zh}", f"Correction needed: {names.name.en}"),
            Label(
                f"您的办件 {code} 有 {event.problems} 处需要补正（{who.zh}）。"
                "请打开办件查看一次性告知，补正后提交；补正期间办理时限暂停计算。",
                f"Your case {code} needs {event.problems} correction(s) ({who.en}). Open the case to "
                "read the notice and send the supplement; the time limit is paused meanwhile.",
            ),
            f"/cases/{case.id}",
        )
        self._send(session, event, self._active(session, [case.applicant]), message, case_id=case.id)

    def case_finished(self, session: Session, event: CaseFinished) -> None:
        """The case ended: tell the applicant the result and the certificates issued."""
        case = self._case(session, event.case_id)
        if case is None:
            return
        names = _bundle(session, case.deployment_id)
        code = case.named
        if isinstance(event, Rejected):
            title = Label(f"未予办理：{names.name.zh}", f"Not granted: {names.name.en}")
            body = Label(
                f"您的办件 {code} 已办结，结果为不予办理。原因请见办件页面。",
                f"Your case {code} has ended without approval. The case page says why.",
            )
        else:
            title = Label(f"已办结：{names.name.zh}", f"Done: {names.name.en}")
            body = Label(f"您的办件 {code} 已办结。", f"Your case {code} is complete.")
            if event.outputs:
                materials = self.catalog.materials
                issued = [materials.get(kind) for kind in event.outputs]
                zh = "、".join(m.zh if m is not None else "电子证照" for m in issued)
                en = ", ".join(m.en if m is not None else "electronic certificate" for m in issued)
                body = Label(
                    f"{body.zh}已签发：{zh}，可在办件页面下载。",
                    f"{body.en} Issued: {en}; download from the case page.",
                )
            body = Label(f"{body.zh}欢迎评价本次服务。", f"{body.en} Please rate the service.")
        self._send(
            session,
            event,
            self._active(session, [case.applicant]),
            _Message(MessageKind.CASE_FINISHED, title, body, f"/cases/{case.id}"),
            case_id=case.id,
        )

    def supplement_received(self, session: Session, event: Supplemented) -> None:
        """The applicant answered a notice: tell each clerk who returned a task of that round."""
        case = self._case(session, event.case_id)
        notice = case.notice if case is not None else None
        if case is None or not notice:
            return  # promised materials arriving without a notice: no clerk asked for them
        returned: dict[str, list[str]] = {}
        ids = [int(i["work_item_id"]) for i in notice.get("items", ()) if i.get("work_item_id") is not None]
        for item_id in ids:
            item = session.get(WorkItem, item_id)
            if item is not None and item.assignee:
                returned.setdefault(item.assignee, []).append(item.item_key)
        names = _bundle(session, case.deployment_id)
        code = case.named
        for clerk in self._active(session, returned):
            items = [names.items.get(k, Label("办理事项", "the item")) for k in returned[clerk]]
            what = Label("、".join(i.zh for i in items), ", ".join(i.en for i in items))
            message = _Message(
                MessageKind.SUPPLEMENT_RECEIVED,
                Label(f"补正已提交：{what.zh}", f"Supplement received: {what.en}"),
                Label(
                    f"申请人已就办件 {code}（{names.name.zh}）提交补正，"
                    f"您退回的「{what.zh}」将重新进入待办队列。",
                    f"The applicant answered the notice of case {code} ({names.name.en}); '{what.en}', "
                    "which you returned, comes back to the queue.",
                ),
                f"/cases/{case.id}",
            )
            self._send(session, event, [clerk], message, case_id=case.id)

    def _reply(
        self,
        session: Session,
        event: Event,
        kind: MessageKind,
        to: str,
        department: str,
        reply: str,
        complaint_id: int | None = None,
    ) -> None:
        case = self._case(session, event.case_id)
        quoted = reply if len(reply) <= REPLY_SHOWN else reply[: REPLY_SHOWN - 1] + "…"
        who = self._department(department)
        if case is not None:
            names = _bundle(session, case.deployment_id)
            about = Label(
                f"办件 {case.named}（{names.name.zh}）",
                f"case {case.named} ({names.name.en})",
            )
        else:
            about = Label("您反映的问题", "what you reported")
        if kind is MessageKind.RATING_ANSWERED:
            title = Label("您的评价已获答复", "Your rating was answered")
            body = Label(
                f"{who.zh}答复了您对{about.zh}的评价：{quoted}",
                f"{who.en} answered your rating of {about.en}: {quoted}",
            )
        else:
            title = Label("您的反映已获答复", "Your complaint was answered")
            body = Label(
                f"关于{about.zh}，{who.zh}答复：{quoted}", f"About {about.en}, {who.en} answered: {quoted}"
            )
        if kind is MessageKind.COMPLAINT_ANSWERED:
            link = f"/complaints/{complaint_id}"
        else:
            link = f"/cases/{case.id}" if case is not None else "/messages"
        self._send(
            session,
            event,
            self._active(session, [to]),
            _Message(kind, title, body, link),
            case_id=case.id if case is not None else None,
        )

    def rating_answered(self, session: Session, event: RectificationReplied) -> None:
        """A department answered a bad rating (差评整改): tell the applicant who rated."""
        row = session.get(Rectification, event.rectification_id)
        rating = session.get(Rating, row.rating_id) if row is not None else None
        if rating is not None:
            self._reply(
                session, event, MessageKind.RATING_ANSWERED, rating.applicant, event.department, event.reply
            )

    def complaint_answered(self, session: Session, event: ComplaintAnswered) -> None:
        """A supervisor answered a complaint (办不成事反映): tell the complainant."""
        row = session.get(Complaint, event.complaint_id)
        if row is not None:
            self._reply(
                session,
                event,
                MessageKind.COMPLAINT_ANSWERED,
                row.complainant,
                event.department,
                event.reply,
                complaint_id=row.id,
            )

    def rectification_opened(self, session: Session, event: RectificationOpened) -> None:
        """A bad rating opened a rectification (差评整改): tell the supervisors of the answering office."""
        case = self._case(session, event.case_id)
        rating = session.get(Rating, event.rating_id)
        if case is None or rating is None:
            return
        office = session.scalar(
            select(responsible_division(literal(case.id), literal(event.department), self.default_division))
        )
        names = _bundle(session, case.deployment_id)
        due = self._local(datetime.fromisoformat(event.due_at))
        message = _Message(
            MessageKind.RECTIFICATION_OPENED,
            Label(f"差评待整改：{names.name.zh}", f"Bad rating to answer: {names.name.en}"),
            Label(
                f"申请人对办件 {case.named}（{names.name.zh}）评价为 {rating.score} 分，"
                f"需由本单位整改答复，请于 {due} 前在督办台答复。",
                f"The applicant rated case {case.named} ({names.name.en}) {rating.score} of 5; your "
                f"office answers it on the supervision desk by {due} (China time).",
            ),
            "/supervision",
        )
        recipients = self._office_clerks(
            session, event.department, (office or self.default_division,), supervisors=True
        )
        self._send(session, event, recipients, message, case_id=case.id)

    def suspension(self, session: Session, event: CaseSuspended | CaseResumed) -> None:
        """The case was suspended or resumed: tell the applicant why, and that the time limit stood still."""
        case = self._case(session, event.case_id)
        if case is None:
            return
        names = _bundle(session, case.deployment_id)
        code = case.named
        if isinstance(event, CaseSuspended):
            message = _Message(
                MessageKind.CASE_SUSPENDED,
                Label(f"办件已暂停办理：{names.name.zh}", f"Case suspended: {names.name.en}"),
                Label(
                    f"您的办件 {code} 已暂停办理：原因：{event.reason}；依据：{event.legal_basis}；"
                    "暂停期间不计入办理时限。恢复办理时将另行通知。",
                    f"Your case {code} is suspended. Reason: {event.reason}. Legal basis: "
                    f"{event.legal_basis}. The time limit does not run while it is suspended; "
                    "you will be told when it resumes.",
                ),
                f"/cases/{case.id}",
            )
        else:
            message = _Message(
                MessageKind.CASE_RESUMED,
                Label(f"办件已恢复办理：{names.name.zh}", f"Case resumed: {names.name.en}"),
                Label(
                    f"您的办件 {code} 已恢复办理，办理时限按暂停的时间相应顺延。",
                    f"Your case {code} is being worked on again; the time limit moved on by the "
                    "time it was suspended.",
                ),
                f"/cases/{case.id}",
            )
        self._send(session, event, self._active(session, [case.applicant]), message, case_id=case.id)

    def escalated(self, session: Session, event: Escalated) -> None:
        """A late task went to the supervisors (督办): tell those of its office and above it."""
        item = session.get(WorkItem, event.work_item_id) if event.work_item_id is not None else None
        case = self._case(session, event.case_id)
        if item is None or case is None:
            return
        names = _bundle(session, case.deployment_id)
        what = names.items.get(item.item_key, Label(item.task_name, item.task_name))
        due = self._local(datetime.fromisoformat(event.due_at))
        message = _Message(
            MessageKind.ESCALATED,
            Label(f"督办：{what.zh}已超期", f"Overdue: {what.en}"),
            Label(
                f"办件 {case.named}（{names.name.zh}）的「{what.zh}」已超过办理时限（{due}），已进入督办台。",
                f"'{what.en}' of case {case.named} ({names.name.en}) passed its time limit ({due}, "
                "China time) and is on the supervision desk.",
            ),
            "/supervision",
        )
        recipients = self._office_clerks(
            session, item.department, self._above(item.division), supervisors=True
        )
        self._send(session, event, recipients, message, case_id=case.id, work_item_id=item.id)

    def task_assigned(self, session: Session, event: TaskReassigned | TaskDelegated) -> None:
        """A claimed task was handed to a clerk (转办 or 委托): tell them, with the reason or note."""
        item = session.get(WorkItem, event.work_item_id) if event.work_item_id is not None else None
        case = self._case(session, event.case_id)
        if item is None or case is None:
            return
        names = _bundle(session, case.deployment_id)
        what = names.items.get(item.item_key, Label(item.task_name, item.task_name))
        shown = event.reason if isinstance(event, TaskReassigned) else event.note
        shown = shown[:REPLY_SHOWN]
        if isinstance(event, TaskReassigned):
            title = Label(f"转办给您：{what.zh}", f"Reassigned to you: {what.en}")
            lead = Label(
                f"办件 {case.named}（{names.name.zh}）的「{what.zh}」已由督办人员转给您办理。原因：{shown}",
                f"'{what.en}' of case {case.named} ({names.name.en}) was reassigned to you by a "
                f"supervisor. Reason: {shown}",
            )
        else:
            title = Label(f"委托您办理：{what.zh}", f"Delegated to you: {what.en}")
            lead = Label(
                f"办件 {case.named}（{names.name.zh}）的「{what.zh}」已委托给您办理。留言：{shown}",
                f"'{what.en}' of case {case.named} ({names.name.en}) was delegated to you. Note: {shown}",
            )
        message = _Message(MessageKind.TASK_ASSIGNED, title, lead, f"/tasks/{item.id}")
        recipients = self._active(session, [event.to])
        self._send(session, event, recipients, message, case_id=case.id, work_item_id=item.id)


# -- reading and marking (the API's and pages' service) --------------------------------------


def _view(row: Any) -> MessageView:
    title = row.title or {}
    body = row.body or {}
    return MessageView(
        id=row.id,
        kind=row.kind,
        title=Label(str(title.get("zh", "")), str(title.get("en") or title.get("zh", ""))),
        body=Label(str(body.get("zh", "")), str(body.get("en") or body.get("zh", ""))),
        link=row.link,
        case_id=row.case_id,
        task_id=row.work_item_id,
        created_at=row.created_at,
        read_at=row.read_at,
    )


class MessageCentre:
    """A person's own messages: list, unread count, mark read (nobody reads another's)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def unread_count(self, username: str) -> int:
        """How many of the account's messages are unread (an index-only COUNT).

        Every page asks (the navigation's badge): a plain connection and a statement built
        once cost a fraction of an ORM session.
        """
        with self.db.engine.connect() as connection:
            return int(connection.execute(UNREAD_COUNT, {"recipient": username}).scalar() or 0)

    def list(
        self, actor: Actor, *, unread: bool = False, cursor: str | None = None, limit: int = 50
    ) -> MessagePage:
        """The actor's messages newest first, ``limit`` a page (unread only when asked)."""
        n = NOTIFICATIONS.c
        query = select(NOTIFICATIONS).where(n.recipient == actor.username)
        if unread:
            query = query.where(n.read_at.is_(None))
        if cursor is not None:
            (last,) = decode_cursor(cursor, int)
            query = query.where(n.id < last)
        size = max(1, min(limit, MAX_PAGE))
        with self.db.read() as session:
            rows = session.execute(query.order_by(n.id.desc()).limit(size + 1)).all()
            count = select(func.count()).where(n.recipient == actor.username, n.read_at.is_(None))
            unread_total = int(session.scalar(count) or 0)
        items = [_view(row) for row in rows[:size]]
        following = encode_cursor([items[-1].id]) if len(rows) > size and items else None
        return MessagePage(items, following, unread_total)

    def get(self, actor: Actor, message_id: int) -> MessageView:
        """One of the actor's messages; ``MessageNotFound`` for another's or none."""
        n = NOTIFICATIONS.c
        with self.db.read() as session:
            row = session.execute(
                select(NOTIFICATIONS).where(n.id == message_id, n.recipient == actor.username)
            ).first()
        if row is None:
            raise MessageNotFound(f"没有这条消息 (no message {message_id})")
        return _view(row)

    def mark_read(self, actor: Actor, message_id: int) -> MessageView:
        """Mark one of the actor's messages read (again: it keeps its first time read)."""
        n = NOTIFICATIONS.c
        with self.db.write() as session:
            session.execute(
                update(NOTIFICATIONS)
                .where(n.id == message_id, n.recipient == actor.username, n.read_at.is_(None))
                .values(read_at=self.clock.now())
            )
        return self.get(actor, message_id)

    def mark_all_read(self, actor: Actor) -> int:
        """Mark every unread message of the actor read; how many there were."""
        n = NOTIFICATIONS.c
        with self.db.write() as session:
            result = session.execute(
                update(NOTIFICATIONS)
                .where(n.recipient == actor.username, n.read_at.is_(None))
                .values(read_at=self.clock.now())
            )
            return rowcount(result)
