"""What the engine hands to its callers: frozen, typed views, never ORM rows or Spiff objects.

The API turns these into its response schemas and the pages render them; both see the
same shapes, so visibility decided in the engine holds everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from engine.cases.suspension_views import SuspensionView

if TYPE_CHECKING:
    from engine.regions.service import Regions

T = TypeVar("T")
HUMAN = "human"  # the kind of a clerk's task row (``WorkItem.kind``)


@dataclass(frozen=True)
class Label:
    """A name in Chinese, with English beside it."""

    zh: str
    en: str


def office_label(regions: Regions, department: str, division: str) -> Label:
    """An office's name in both languages ("上海市黄浦区市场监督管理局")."""
    return Label(
        regions.office_name(department, division, "zh"), regions.office_name(department, division, "en")
    )


@dataclass(frozen=True)
class WorkItemView:
    """A department task as a queue shows it."""

    id: int
    case_id: int
    bundle: str
    version: int
    item: str
    item_name: Label
    task_name: str
    department: str
    state: str
    assignee: str | None
    round: int
    created_at: datetime
    due_at: datetime | None
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    outcome: str | None = None
    comment: str = ""
    problems: tuple[dict[str, Any], ...] = ()
    overdue: bool = False
    # "human" (a clerk's task), "external" (a department system's external task) or
    # "message" (a step a department system finishes by a message): the last two are
    # system steps, which an applicant sees only as "部门系统处理中" (department system at work).
    kind: str = "human"
    # A system step's last failure and the retries left (None: never failed); staff only.
    error_message: str | None = None
    retries: int | None = None
    # The office that handles the task: its division (行政区划 code, set by routing) and its
    # name ("上海市黄浦区市场监督管理局").
    division: str = ""
    office: Label = Label("", "")

    @property
    def by_system(self) -> bool:
        """Whether a department's own system does this step (an external task or a message)."""
        return self.kind != HUMAN


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a case's audit trail."""

    id: int
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]
    work_item_id: int | None = None


@dataclass(frozen=True)
class CaseView:
    """A case as one caller may see it (data and materials only for those allowed)."""

    id: int
    bundle: str
    version: int
    applicant: str
    status: str
    done: int
    total: int
    tasks: tuple[WorkItemView, ...]
    timeline: tuple[TimelineEntry, ...]
    notice: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    due_at: datetime | None = None
    data: dict[str, Any] | None = None
    materials: dict[str, str] | None = None
    pending_materials: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    origin_case_id: int | None = None
    # 办件编码: assigned at submission (None only for cases from before codes existed).
    code: str | None = None
    # Where the case is decided (None on cases from before regions: the default division's)
    # and that division's full name ("上海市黄浦区").
    division: str | None = None
    division_name: Label = Label("", "")
    # 异地代收: the office that received the application for another division, and its division.
    received: Label | None = None
    received_division: str | None = None
    received_department: str | None = None
    # 挂起: every suspension of the case, oldest first (the open one last while suspended).
    suspensions: tuple[SuspensionView, ...] = ()

    @property
    def suspension(self) -> SuspensionView | None:
        """The open suspension of a suspended case (None when it runs)."""
        last = self.suspensions[-1] if self.suspensions else None
        return last if last is not None and last.resumed_at is None else None

    @property
    def suspended_seconds(self) -> float:
        """The working time the case's clocks stood still over its finished suspensions."""
        return sum(s.working_seconds for s in self.suspensions)


@dataclass(frozen=True)
class TaskDetail:
    """A task with its department's view of the case: only its item's fields and materials."""

    task: WorkItemView
    fields: dict[str, Any]
    materials: dict[str, str]
    decision_fields: tuple[str, ...]
    # Those the clerk must fill in for this case (their conditions hold on the whole case,
    # which the department view does not carry).
    asked_decision_fields: tuple[str, ...]
    example: dict[str, Any]
    case_status: str


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the cursor of the next (None at the end)."""

    items: tuple[T, ...]
    next: str | None


@dataclass(frozen=True)
class BundleVersion:
    """One deployed version of a bundle, as the analysts' studio lists it."""

    key: str
    version: int
    created_at: datetime
    created_by: str
    # A regional variant's division (None: a base version).
    division: str | None = None
    # Four-eyes review (engine.bpmn.review): draft | in_review | published | withdrawn, and who did what.
    status: str = "published"
    submitted_by: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None


@dataclass(frozen=True)
class BundleSummary:
    """A deployed bundle as the catalogue lists it (its newest version)."""

    key: str
    version: int
    name: Label
    departments: tuple[str, ...]
    items: tuple[dict[str, Any], ...]
    time_limit_days: float
    reductions: dict[str, Any]
    # A regional variant's division (None: the base bundle); on a base, the variants in force
    # as {division, version, name: {zh, en}} (the division's full name).
    division: str | None = None
    variants: tuple[dict[str, Any], ...] = ()
    # Where the bundle comes from ({list, document, published, item_source, lead, cooperating}); None: unsaid.
    catalog: dict[str, Any] | None = None


@dataclass(frozen=True)
class BundleDetail:
    """A bundle with what an applicant needs to apply: merged form, checklist, an example."""

    summary: BundleSummary
    form: dict[str, Any]
    layout: tuple[dict[str, Any], ...]
    materials: tuple[dict[str, Any], ...]
    example: dict[str, Any]
    examples: tuple[dict[str, Any], ...]
    manifest: dict[str, Any]
    # Office contacts per department ({phone, address, hours}; a variant's own).
    offices: dict[str, dict[str, str]] = field(default_factory=dict)
