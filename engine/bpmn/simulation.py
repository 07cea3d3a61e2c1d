"""A bundle's examples run through its diagram in memory, to check the manifest against the gateways.

The manifest says which route each example takes and asks some fields and materials only
under conditions (``conditions``); the diagram's gateways decide the route the engine
really takes. Nothing but running them shows whether the two agree, so ``validate`` (and
with it every deployment) runs each example here: approved by every department (clerk or
system) with the example's decisions, a message delivered (without variables, the first
by name) whenever the case waits for one and nothing else is to do, timers fired as their
time comes, no database. It reports:

- an example whose diagram route differs from the route it declares;
- an example that never reaches an end (stuck with nothing to do, a loop, a failing expression);
- a conditional field or material that the example's answers make the applicant give
  while no item on the route needs it: the condition and the branches disagree, and one
  form should ask only what the route uses.

The other direction (an item on the route lists a field its condition leaves unasked) is
not a problem: an item lists every field it may use, and conditions narrow that by the
answers (a change of address asks the new address only of those who move).

May import: ``engine.bpmn`` (definitions, manifest, runtime), ``engine.time``, ``engine.errors``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.bpmn.definitions import MANIFEST_NAME, BundleDefinition
from engine.bpmn.manifest import Example, Item, outcome_key
from engine.bpmn.runtime import Runner, TaskKind
from engine.errors import EngineError, Problem
from engine.time.clock import ManualClock
from forms.merge import MergedForm

# More tasks than any real route: an example still running after this many is looping.
MAX_TASKS = 200
# Timers fired (or messages delivered) in a row without a task between them: more means a loop.
MAX_TIMERS = 50
TIMER_STEP = timedelta(seconds=1)


# Why an example stopped short of an end: (Chinese, English).
STUCK = ("流程停住：没有可办理的任务，也没有等待的定时器", "stuck: no task to do and no timer")
TIMER_LOOP = ("定时器反复触发，流程不前进", "timers keep firing and the process does not move on")
MESSAGE_LOOP = ("消息反复到达，流程不前进", "messages keep arriving and the process does not move on")
TASK_LOOP = (f"超过 {MAX_TASKS} 个任务仍未结束 (循环?)", f"still running after {MAX_TASKS} tasks (a loop?)")


@dataclass
class ExampleRun:
    """Where an example went in the diagram: the items approved, in order, and how it ended."""

    items: list[str] = field(default_factory=list)
    # Why it did not reach an end, (Chinese, English); None when it did.
    stopped: tuple[str, str] | None = None


def run_example(definition: BundleDefinition, example: Example) -> ExampleRun:
    """Run one example to the end: every clerk's or system's task approved with the example's decisions."""
    manifest = definition.manifest
    # Today, as the examples' own form checks see it (a birth date is judged against today).
    clock = ManualClock(datetime.now(UTC))
    runner = Runner(clock)
    run = ExampleRun()
    try:
        workflow = runner.start(definition, example.data)
        timers = messages = done = 0
        while not runner.is_completed(workflow):
            ready = runner.ready_tasks(workflow)
            if ready and done >= MAX_TASKS:
                run.stopped = TASK_LOOP
                return run
            if ready:
                timers = messages = 0
                item = manifest.item_for_task(ready[0].name)
                key = item.key if item else ready[0].name
                decision = dict(example.decisions.get(key, {}))
                runner.complete(workflow, ready[0].spiff_id, {**decision, outcome_key(key): "approve"})
                done += 1
                # A route is items; an external task no item binds (a system's own step) is none.
                if item is not None or ready[0].kind == TaskKind.HUMAN:
                    run.items.append(key)
                continue
            waiting = runner.waiting_messages(workflow)
            if waiting:
                messages += 1
                if messages > MAX_TIMERS:
                    run.stopped = MESSAGE_LOOP
                    return run
                name, variables, item = _next_message(
                    definition, example, waiting, runner.waiting_at(workflow)
                )
                runner.correlate(workflow, name, variables)
                if item is not None:
                    run.items.append(item.key)
                continue
            due = runner.next_timer(workflow)
            timers += 1
            if due is None:
                at = ", ".join(runner.waiting_at(workflow)) or "—"
                run.stopped = (f"{STUCK[0]} (停在 {at})", f"{STUCK[1]} (waiting at {at})")
                return run
            if timers > MAX_TIMERS:
                run.stopped = TIMER_LOOP
                return run
            # Spiff fires a timer once its time has passed, not at it.
            clock.set(max(due, clock.now()) + TIMER_STEP)
            runner.fire_timers(workflow)
    except EngineError as exc:
        run.stopped = (f"运行失败: {exc.message}", f"failed: {exc.message}")
    return run


def _next_message(
    definition: BundleDefinition, example: Example, waiting: list[str], waiting_at: list[str]
) -> tuple[str, dict[str, Any], Item | None]:
    """The message to deliver next: first one a system item's receive task waits for, with the
    example's decision for that item (as the department's system would send it), else the
    first waiting message without variables."""
    for task_id in waiting_at:
        item = definition.manifest.item_for_task(task_id)
        name = definition.receive_message(task_id)
        if item is not None and item.handled_by == "system" and name in waiting:
            decision = dict(example.decisions.get(item.key, {}))
            return str(name), {**decision, outcome_key(item.key): "approve"}, item
    return waiting[0], {}, None


def example_problems(
    definition: BundleDefinition, form: MergedForm, skip: Iterable[int] = ()
) -> list[Problem]:
    """Every disagreement between the examples, the conditions and the diagram (see the module)."""
    manifest = definition.manifest
    skipped = set(skip)
    problems: list[Problem] = []
    for index, example in enumerate(manifest.examples):
        if index in skipped:
            continue
        where = f"examples[{index}]"
        run = run_example(definition, example)
        if run.stopped is not None:
            problems.append(
                Problem(
                    f"示例未能走到流程结束 — {run.stopped[0]}",
                    file=MANIFEST_NAME,
                    element=where,
                    rule="example-unfinished",
                    message_en=f"the example does not reach an end of the process — {run.stopped[1]}",
                )
            )
            continue
        taken = sorted(set(run.items))
        if example.route and taken != sorted(set(example.route)):
            problems.append(
                Problem(
                    f"流程图中此示例经过 {', '.join(taken) or '无事项'}，与声明的路线 "
                    f"{', '.join(example.route)} 不一致",
                    file=MANIFEST_NAME,
                    element=f"{where}.route",
                    rule="example-route",
                    message_en=f"in the diagram the example passes {', '.join(taken) or 'no item'}, "
                    f"not its declared route {', '.join(example.route)}",
                )
            )
        problems.extend(_condition_problems(definition, form, example, run, where))
    return problems


def _condition_problems(
    definition: BundleDefinition, form: MergedForm, example: Example, run: ExampleRun, where: str
) -> list[Problem]:
    """Conditional fields and materials the example's answers ask that no item on its route needs."""
    manifest = definition.manifest
    taken = set(run.items)
    needed = {key for item in manifest.items if item.key in taken for key in (*item.fields, *item.materials)}
    return [
        Problem(
            f"按 {where} 的回答表单会询问 {key}，但流程图的路线上没有事项需要它 (条件与流程图的分支不一致)",
            file=MANIFEST_NAME,
            element=f"conditions.{key}",
            rule="condition-unused",
            message_en=f"with the answers of {where} the form asks {key}, but no item on the diagram's "
            "route needs it (the condition disagrees with the diagram's branches)",
        )
        for key in manifest.conditions
        if key not in needed and form.asked(key, example.data) and _asks_applicant(manifest.items, key)
    ]


def _asks_applicant(items: Iterable[Item], key: str) -> bool:
    """Whether ``key`` is something an item asks of the applicant (a condition may gate a clerk's field)."""
    return any(key in item.fields or key in item.materials for item in items)
