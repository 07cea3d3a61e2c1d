"""Tables of the engine (SQLAlchemy 2 declarative, typed).

A deployed bundle version is a spec (``Deployment``, immutable); a case is an instance
(``Case`` with its serialized workflow); each ready user or external task is a ``WorkItem`` row, and a
department queue is a query over those rows. ``CaseEvent`` is the append-only audit trail,
written in the same transaction as every change it records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")
# The rows of an office's open queue (engine.cases.queues: human tasks in OPEN_WORK_STATES).
OPEN_QUEUE_WHERE = "kind = 'human' AND state IN ('ready', 'claimed', 'failed')"
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The wall clock in UTC (the engine's own clock is injectable; see ``engine.time.clock``)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every onething table."""

    type_annotation_map = {dict[str, Any]: JsonType, list[Any]: JsonType, datetime: UtcDateTime}  # noqa: RUF012


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, typed as one, for Core statements on the hot paths."""
    table: Table = model.__table__  # type: ignore[assignment]
    return table


class Account(Base):
    """A person who signs in: applicant, clerk of some departments, analyst or admin."""

    __tablename__ = "accounts"
    # An office's clerks by role and division (each new task tells its office's clerks): every
    # applicant who signs up is an account too, so a lookup by role must not read them all.
    __table_args__ = (Index("ix_accounts_office", "role", "division"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    departments: Mapped[list[Any]] = mapped_column(default=list)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    supervisor: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped on sign-out (page sessions) and sign-out-everywhere (bearer tokens too): what
    # a cookie or token recorded at sign-in must still match (see engine.accounts).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The office's division (行政区划 code) of a clerk, supervisor or system account, or the
    # subtree an analyst or admin is limited to (分级授权); None: the default division for
    # clerks and systems, the whole platform for analysts and admins.
    division: Mapped[str | None] = mapped_column(String(12), nullable=True)


class Division(Base):
    """One 行政区划 (GB/T 2260 code): a province-level area, city, county/district or township.

    The tree is shipped (``processes/divisions``) and editable by admins; routing walks it
    upwards from a case's division to the nearest office of a department.
    """

    __tablename__ = "divisions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    level: Mapped[str] = mapped_column(String(16))
    parent: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Office(Base):
    """A department's office in a division (besides the implicit ones at the default division).

    Tasks routed to (department, division) wait in this office's queue; the names are
    optional (derived from the division's full name and the department when empty).
    """

    __tablename__ = "offices"
    __table_args__ = (UniqueConstraint("department", "division", name="uq_offices_department_division"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(64))
    division: Mapped[str] = mapped_column(String(12))
    name_zh: Mapped[str] = mapped_column(String(128), default="")
    name_en: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    hours: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deployment(Base):
    """One immutable version of a bundle: its manifest and diagram files as deployed."""

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_deployments_key_version"),
        Index("ix_deployments_key_digest", "key", "digest"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column()
    files: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    # A variant for this division's subtree (None: the base bundle); it shares the key's
    # version sequence and records the base version it overlays.
    division: Mapped[str | None] = mapped_column(String(12), nullable=True)
    base_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # draft -> in_review -> published (four-eyes: an analyst drafts, another analyst or an
    # admin publishes). New cases start only on published versions; "withdrawn" drafts stay.
    status: Mapped[str] = mapped_column(String(16), default="published", server_default="published")
    submitted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Case(Base):
    """One applicant's request for a bundle: data, materials, workflow state, status."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_applicant", "applicant", "id"),
        Index("ix_cases_status", "status", "id"),
        Index("ix_cases_bundle", "bundle_key", "status"),
        Index("ix_cases_next_timer", "next_timer_at"),
        Index("ix_cases_code", "code", unique=True),
        Index("ix_cases_division", "division", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    bundle_key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    applicant: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    materials: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # 容缺受理: kind -> {"due": iso date, "promised_at": iso}; removed when supplied.
    pending_materials: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notice: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(Text)
    state_version: Mapped[int] = mapped_column(Integer, default=1)
    # An UPDATE that lost a race to another writer fails (StaleDataError) instead of overwriting.
    __mapper_args__ = {"version_id_col": state_version}  # noqa: RUF012
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Earliest due time of the workflow's waiting timer events (None: no timer waits);
    # the worker polls this indexed column instead of loading workflows.
    next_timer_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # 免申即享: the case that started this one by itself, if any.
    origin_case_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # 办件编码: assigned at submission from the configured pattern; the business key of messages.
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Where the case is decided (行政区划 code; None on cases from before regions: the default).
    division: Mapped[str | None] = mapped_column(String(12), nullable=True)
    # 异地代收: the office that received the application for another division, and its clerk.
    received_division: Mapped[str | None] = mapped_column(String(12), nullable=True)
    received_department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # 挂起: the working seconds the case's clocks stood still over its finished suspensions
    # (engine.cases.suspending); analytics asks for the case's pauses only when this or a new round says so.
    suspended_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    received_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WorkItem(Base):
    """A task of a case waiting on a department (never called ``Task``: Spiff owns it).

    ``kind`` "human" is a user task in a clerk queue; "external" is a service task that the
    department's own system fetches and locks through the Camunda-compatible API. The lock
    and retry columns are Camunda 7's external task fields and stay empty for human tasks.
    """

    __tablename__ = "work_items"
    __table_args__ = (
        Index("ix_work_items_queue", "department", "state", "due_at", "id"),
        Index("ix_work_items_office", "department", "division", "state", "due_at", "id"),
        # An office's open queue in due order, holding open human tasks only: its first page
        # reads 50 rows wherever they lie in the table (PostgreSQL proves the queue's WHERE
        # implies this one; SQLite only when the states are written as literals).
        Index(
            "ix_work_items_office_open",
            "department",
            "division",
            "due_at",
            "id",
            postgresql_where=text(OPEN_QUEUE_WHERE),
            sqlite_where=text(OPEN_QUEUE_WHERE),
        ),
        Index("ix_work_items_case", "case_id", "state"),
        Index("ix_work_items_assignee", "assignee", "state", "due_at", "id"),
        Index("ix_work_items_due", "state", "due_at"),
        # A bundle's queue (an analyst's, filtered by bundle): its open tasks by due time.
        Index("ix_work_items_bundle_queue", "bundle_key", "state", "due_at", "id"),
        Index("ix_work_items_topic", "kind", "topic", "state", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    bundle_key: Mapped[str] = mapped_column(String(64))
    item_key: Mapped[str] = mapped_column(String(64))
    task_name: Mapped[str] = mapped_column(String(128))
    spiff_id: Mapped[str] = mapped_column(String(36))
    department: Mapped[str] = mapped_column(String(64))
    # The office's division the task was routed to (engine.regions); always set by routing.
    division: Mapped[str] = mapped_column(String(12))
    state: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decision: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[list[Any]] = mapped_column(default=list)
    # Set by the SLA clock when the task passes its due time (限时办结).
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    # Work handled by hand outside the system (人工兜底), with the reason recorded.
    manual_reason: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="human", server_default="human")
    topic: Mapped[str | None] = mapped_column(String(128), nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The external worker holding the lock, and until when; a lock past its expiry is free.
    worker_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lock_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # None until the first failure (Camunda's null); 0 is an incident (state "failed").
    retries: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_details: Mapped[str | None] = mapped_column(Text, nullable=True)


class MessageWait(Base):
    """A message name a case's workflow waits for, kept in step with the workflow on each save.

    Correlation looks up waiting cases here by name instead of loading every workflow.
    """

    __tablename__ = "message_waits"
    __table_args__ = (Index("ix_message_waits_name", "name", "case_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    name: Mapped[str] = mapped_column(String(255))


class CaseEvent(Base):
    """One line of a case's append-only audit trail."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    work_item_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Material(Base):
    """Metadata of one uploaded or issued document; its bytes live in the content store, or here.

    An electronic certificate issued by a case keeps its document (about a kilobyte of JSON) in
    ``content``: it commits with the action that issued it, so issuing costs no file writes
    and syncs of its own, and an action rolled back leaves no file behind. Uploads, and
    certificates issued before this column, keep ``content`` empty; their bytes are files.
    """

    __tablename__ = "materials"
    __table_args__ = (
        Index("ix_materials_owner", "owner", "kind"),
        Index("ix_materials_number", "number", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(128))
    owner: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255), default="")
    # An electronic certificate (电子证照) issued by a case, not uploaded by a person.
    issued_by_case: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An issued certificate's number (电子证照编号), the key of its public verification page.
    number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # A revoked certificate (吊销/注销): /verify answers "revoked" with the date and reason.
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # An issued certificate's document itself (see the class docstring); None for a file's bytes.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
