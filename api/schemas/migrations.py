"""Version migration over REST: plans, their check, dry runs and runs with their reports.

May import: api.schemas.common, engine.cases.migration_plans, engine.bpmn.migration, engine.errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel

from api.schemas.common import DIVISION_CODE, RequestBody
from engine.cases.migration_plans import CaseFilter, CasePreview, PlanCheck, PlanView, RunReport, TaskMove
from engine.errors import Problem

ELEMENT = r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$"
MAX_IDS = 10_000
Status = Literal["running", "awaiting_applicant", "suspended"]
DEFAULT_STATUSES: tuple[Status, ...] = ("running", "awaiting_applicant")


class TaskMapEntry(RequestBody):
    """One waiting step of the old version and where it goes in the new."""

    source: str = Field(alias="from", pattern=ELEMENT, description="原版本的等待环节 (old BPMN element id)")
    target: str = Field(alias="to", pattern=ELEMENT, description="新版本的等待环节 (new BPMN element id)")
    cross_department: bool = Field(
        default=False, description="明确允许移到另一部门的事项 (explicitly allow another department's item)"
    )


class FieldRule(RequestBody):
    """A change to one data field: rename, drop, or a default where absent."""

    field: str = Field(min_length=1, max_length=128)
    action: Literal["rename", "drop", "default"]
    to: str | None = Field(default=None, max_length=128)
    value: Any = None


class TimerRules(RequestBody):
    """What happens to running due times and timers: keep (default) or recompute, per element."""

    default: Literal["keep", "recompute"] = "keep"
    elements: dict[str, Literal["keep", "recompute"]] = Field(default_factory=dict)
    release_claims: bool = Field(default=False, description="认领的任务退回队列 (put claimed tasks back)")


class MigrationPlanCreate(RequestBody):
    """A plan from one version of the bundle to a later one."""

    from_version: int = Field(ge=1, le=2**31 - 1)
    to_version: int = Field(ge=1, le=2**31 - 1)
    tasks: list[TaskMapEntry] = Field(default_factory=list, max_length=500)
    fields: list[FieldRule] = Field(default_factory=list, max_length=500)
    timers: TimerRules = Field(default_factory=TimerRules)


class CaseFilterIn(RequestBody):
    """Which cases: statuses, a division subtree, or given ids (within the plan's bundle and old version)."""

    statuses: list[Status] = Field(default_factory=lambda: list(DEFAULT_STATUSES), min_length=1)
    division: str | None = Field(default=None, pattern=DIVISION_CODE)
    case_ids: list[int] | None = Field(default=None, max_length=MAX_IDS)
    limit: int | None = Field(default=None, ge=1, le=MAX_IDS)

    def to_filter(self) -> CaseFilter:
        """The engine's filter."""
        return CaseFilter(
            tuple(self.statuses),
            self.division,
            None if self.case_ids is None else tuple(self.case_ids),
            self.limit,
        )


class MigrationRunCreate(CaseFilterIn):
    """A run: the cases to move and how many per batch."""

    batch_size: int = Field(default=100, ge=1, le=1000)


class TaskMovePublic(BaseModel):
    """Where a waiting step goes, and why (plan, same-id, aligned by SpecDiff, unmapped)."""

    source: str
    target: str | None
    how: str
    department_from: str | None
    department_to: str | None
    cross_department: bool

    @classmethod
    def from_move(cls, m: TaskMove) -> TaskMovePublic:
        """From the engine's value."""
        return cls(**m.__dict__)


class ProblemPublic(BaseModel):
    """One problem of a plan."""

    message: str
    message_en: str | None
    where: str | None
    rule: str | None

    @classmethod
    def from_problem(cls, p: Problem) -> ProblemPublic:
        """From the engine's value."""
        return cls(message=p.message, message_en=p.message_en, where=p.where, rule=p.rule)


class MigrationPlanPublic(BaseModel):
    """A stored plan with its map resolved against both versions."""

    id: int
    bundle: str
    from_version: int
    to_version: int
    tasks: list[dict[str, Any]]
    fields: list[dict[str, Any]]
    timers: dict[str, Any]
    created_by: str
    created_at: datetime
    moves: list[TaskMovePublic]
    source_steps: list[str]
    target_steps: list[str]

    @classmethod
    def from_view(cls, v: PlanView) -> MigrationPlanPublic:
        """From the engine's view."""
        return cls(
            id=v.id,
            bundle=v.bundle,
            from_version=v.from_version,
            to_version=v.to_version,
            tasks=v.tasks,
            fields=v.fields,
            timers=v.timers,
            created_by=v.created_by,
            created_at=v.created_at,
            moves=[TaskMovePublic.from_move(m) for m in v.moves],
            source_steps=sorted(p.element for p in v.source_points),
            target_steps=sorted(p.element for p in v.target_points),
        )


class PlanCheckPublic(BaseModel):
    """``validate``'s answer: valid, or every problem."""

    valid: bool
    problems: list[ProblemPublic]
    moves: list[TaskMovePublic]

    @classmethod
    def from_check(cls, c: PlanCheck) -> PlanCheckPublic:
        """From the engine's value."""
        return cls(
            valid=c.valid,
            problems=[ProblemPublic.from_problem(p) for p in c.problems],
            moves=[TaskMovePublic.from_move(m) for m in c.moves],
        )


class StepChangePublic(BaseModel):
    """What would happen to one open task."""

    source: str
    target: str
    department_from: str
    department_to: str
    assignee: str | None
    claim: str
    due_from: datetime | None
    due_to: datetime | None


class CasePreviewPublic(BaseModel):
    """A dry run's answer for one case."""

    case_id: int
    code: str | None
    status: str
    from_version: int
    to_version: int
    steps: list[StepChangePublic]
    new_steps: list[str]
    problem: str | None

    @classmethod
    def from_preview(cls, p: CasePreview) -> CasePreviewPublic:
        """From the engine's value."""
        return cls(
            case_id=p.case_id,
            code=p.code,
            status=p.status,
            from_version=p.from_version,
            to_version=p.to_version,
            steps=[StepChangePublic(**s.__dict__) for s in p.steps],
            new_steps=list(p.new_steps),
            problem=p.problem,
        )


class DryRunPublic(RootModel[list[CasePreviewPublic]]):
    """A dry run's answer: one entry per picked case."""


class RunFailurePublic(BaseModel):
    """A case a run could not move, or skipped, with the reason."""

    case_id: int
    state: str
    reason: str


class MigrationRunPublic(BaseModel):
    """A run's report: counts by state (pending, migrated, failed, skipped) and each failure."""

    id: int
    plan_id: int
    bundle: str
    from_version: int
    to_version: int
    status: str
    batch_size: int
    filter: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    failures: list[RunFailurePublic]

    @classmethod
    def from_report(cls, r: RunReport) -> MigrationRunPublic:
        """From the engine's value."""
        return cls(
            **{k: v for k, v in r.__dict__.items() if k != "failures"},
            failures=[RunFailurePublic(**f.__dict__) for f in r.failures],
        )


class VersionCasesPublic(BaseModel):
    """A version of a bundle with its unfinished (running) cases and every case count by status."""

    version: int
    status: str
    division: str | None
    created_at: datetime
    running: int
    cases: dict[str, int]
