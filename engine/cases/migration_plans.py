"""A migration plan as values: what it says, how it checks, what it shows per case and per run.

The plan's three parts, each a small rule with its own check:

- the task map: each waiting element of the old version to one of the new (unlisted: the
  same id, else what SpiffWorkflow's ``SpecDiff`` aligns it with); a task may move to
  another department's item only when the plan marks that entry ``cross_department``;
- field changes: ``rename`` (to another key), ``drop``, ``default`` (a value where absent),
  applied to the application's answers and to the workflow's data;
- timers: ``keep`` (the running due time of a task or BPMN timer stays) or ``recompute``
  (from the new version's time limit, counted from when the task began), by default and
  per element; ``release_claims`` puts claimed tasks back in their queues.

May import: ``engine.bpmn``, ``engine.errors``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.bpmn.definitions import BundleDefinition
from engine.bpmn.migration import WaitingPoint
from engine.errors import Problem


class FieldAction(StrEnum):
    """What a plan does to one data field."""

    RENAME = "rename"
    DROP = "drop"
    DEFAULT = "default"


class TimerRule(StrEnum):
    """What happens to a moved task's due time and to a running BPMN timer."""

    KEEP = "keep"
    RECOMPUTE = "recompute"


class RunCaseState(StrEnum):
    """A case's state within a migration run."""

    PENDING = "pending"
    MIGRATED = "migrated"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class TaskMove:
    """One entry of the task map as resolved for a plan: where a waiting element goes and why."""

    source: str
    target: str | None
    how: str  # plan | same-id | aligned | unmapped
    department_from: str | None
    department_to: str | None
    cross_department: bool


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a dry run or a run takes: statuses, a division subtree, or given ids."""

    statuses: tuple[str, ...] = ("running", "awaiting_applicant")
    division: str | None = None
    case_ids: tuple[int, ...] | None = None
    limit: int | None = None


@dataclass(frozen=True)
class PlanView:
    """A plan with its map resolved against both versions."""

    id: int
    bundle: str
    from_version: int
    to_version: int
    tasks: list[dict[str, Any]]
    fields: list[dict[str, Any]]
    timers: dict[str, Any]
    created_by: str
    created_at: datetime
    moves: tuple[TaskMove, ...]
    source_points: tuple[WaitingPoint, ...]
    target_points: tuple[WaitingPoint, ...]


@dataclass(frozen=True)
class PlanCheck:
    """``validate``'s answer: every problem, none when the plan may run."""

    valid: bool
    problems: tuple[Problem, ...]
    moves: tuple[TaskMove, ...]


@dataclass(frozen=True)
class StepChange:
    """What happens to one open task of a case."""

    source: str
    target: str
    department_from: str
    department_to: str
    assignee: str | None
    claim: str  # kept | released | none | merged
    due_from: datetime | None
    due_to: datetime | None


@dataclass(frozen=True)
class CasePreview:
    """A dry run's answer for one case: what would change, or why it could not move."""

    case_id: int
    code: str | None
    status: str
    from_version: int
    to_version: int
    steps: tuple[StepChange, ...] = ()
    new_steps: tuple[str, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class RunFailure:
    """A case a run could not move (or skipped), with the reason."""

    case_id: int
    state: str
    reason: str


@dataclass(frozen=True)
class RunReport:
    """A run's report: counts by state and every failure with its reason."""

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
    failures: tuple[RunFailure, ...] = field(default=())


def department_of(definition: BundleDefinition, point: WaitingPoint) -> str | None:
    """The department that does a waiting element: its item's, else its lane's."""
    item = definition.manifest.item_for_task(point.element)
    return item.department if item is not None else point.lane


def _same_department(old: BundleDefinition, a: WaitingPoint, new: BundleDefinition, b: WaitingPoint) -> bool:
    return department_of(old, a) == department_of(new, b)


def explicit_moves(tasks: list[dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    """The plan's own task entries: source -> (target, cross_department)."""
    return {str(t["from"]): (str(t["to"]), bool(t.get("cross_department", False))) for t in tasks}


def resolve_moves(
    tasks: list[dict[str, Any]],
    old: BundleDefinition,
    new: BundleDefinition,
    old_points: Mapping[str, WaitingPoint],
    new_points: Mapping[str, WaitingPoint],
    aligned: Mapping[str, str],
) -> tuple[TaskMove, ...]:
    """Each waiting element of the old version with its target: the plan's, the same id, or aligned."""
    explicit = explicit_moves(tasks)
    moves: list[TaskMove] = []
    for element, point in sorted(old_points.items()):
        cross = False
        if element in explicit:
            target, cross = explicit[element]
            how = "plan"
        elif element in new_points:
            target, how = element, "same-id"
        elif aligned.get(element) in new_points and _same_department(
            old, point, new, new_points[aligned[element]]
        ):
            # SpecDiff aligns by inputs and outputs too, which is ambiguous when several new
            # tasks sit between the same gateways: only an alignment in the same department
            # is offered; any other the analyst maps (or validate reports it unmapped).
            target, how = aligned[element], "aligned"
        else:
            moves.append(TaskMove(element, None, "unmapped", department_of(old, point), None, False))
            continue
        to_point = new_points.get(target)
        moves.append(
            TaskMove(
                element,
                target,
                how,
                department_of(old, point),
                department_of(new, to_point) if to_point is not None else None,
                cross,
            )
        )
    return tuple(moves)


def check_plan(
    tasks: list[dict[str, Any]],
    fields: list[dict[str, Any]],
    timers: Mapping[str, Any],
    moves: tuple[TaskMove, ...],
    old_points: Mapping[str, WaitingPoint],
    new: BundleDefinition,
    new_points: Mapping[str, WaitingPoint],
) -> list[Problem]:
    """Every problem of a plan: unmapped steps, unknown or unreachable targets, department moves."""
    problems: list[Problem] = []
    for source in explicit_moves(tasks):
        if source not in old_points:
            problems.append(
                Problem(
                    f"原版本没有等待环节 {source}",
                    where=source,
                    rule="unknown-source",
                    message_en=f"{source} is no waiting step of the old version",
                )
            )
    known = set(new.spec.task_specs)
    for move in moves:
        if move.target is None:
            problems.append(
                Problem(
                    f"等待环节 {move.source} 未映射到新版本",
                    where=move.source,
                    rule="unmapped",
                    message_en=f"waiting step {move.source} is not mapped to the new version",
                )
            )
        elif move.target not in new_points:
            exists = move.target in known
            problems.append(
                Problem(
                    f"{move.source} 的目标 {move.target} "
                    + ("不是新版本中可到达的等待环节" if exists else "在新版本中不存在"),
                    where=move.source,
                    rule="unreachable-target" if exists else "unknown-target",
                    message_en=f"target {move.target} of {move.source} "
                    + ("is no reachable waiting step of the new version" if exists else "does not exist"),
                )
            )
        elif move.department_from != move.department_to and not move.cross_department:
            problems.append(
                Problem(
                    f"{move.source} 将从 {move.department_from} 移到 {move.department_to} 的事项，"
                    "须在方案中明确允许跨部门",
                    where=move.source,
                    rule="cross-department",
                    message_en=f"{move.source} would move from {move.department_from} to "
                    f"{move.department_to}'s item; the plan must allow the cross-department move explicitly",
                )
            )
    for entry in fields:
        action = entry.get("action")
        name = str(entry.get("field", ""))
        if action not in set(FieldAction) or not name:
            problems.append(
                Problem(
                    f"字段规则无效: {entry}", where=name, rule="field", message_en=f"bad field rule {entry}"
                )
            )
        elif action == FieldAction.RENAME and not entry.get("to"):
            problems.append(
                Problem(
                    f"字段 {name} 改名须给出新名称",
                    where=name,
                    rule="field",
                    message_en=f"renaming {name} needs a new name",
                )
            )
    rules = [timers.get("default", TimerRule.KEEP), *dict(timers.get("elements", {})).values()]
    if any(rule not in set(TimerRule) for rule in rules):
        problems.append(
            Problem(
                "时限规则只能是 keep 或 recompute",
                rule="timers",
                message_en="timer rules are keep or recompute",
            )
        )
    return problems


def apply_fields(fields: list[dict[str, Any]], data: dict[str, Any]) -> dict[str, Any]:
    """The data with the plan's field changes applied (a new dict; nested values copied)."""
    out = copy.deepcopy(data)
    for entry in fields:
        name = str(entry["field"])
        action = entry["action"]
        if action == FieldAction.RENAME and name in out:
            out[str(entry["to"])] = out.pop(name)
        elif action == FieldAction.DROP:
            out.pop(name, None)
        elif action == FieldAction.DEFAULT and name not in out:
            out[name] = copy.deepcopy(entry.get("value"))
    return out


def timer_rule(timers: Mapping[str, Any], element: str) -> TimerRule:
    """The plan's rule for an element's due time (its own, else the default)."""
    return TimerRule(dict(timers.get("elements", {})).get(element, timers.get("default", TimerRule.KEEP)))
