"""``onething demo``: run each shipped bundle's example applications end to end.

Simulated clerks of each department claim and approve their tasks with the example's
decision data, on a throwaway SQLite database and a simulated clock (each decision takes a
couple of working hours; a case waiting on a timer, such as a public-notice period, has the
clock moved past it). Steps a department's own system does (the tax system's external task,
the hospital's message that the birth certificate is issued) are done by an in-process
worker signed in as ``system.<department>``, through the same engine calls that
``/engine-rest`` makes (``department_systems_work``; the tests that walk cases reuse it).
Follow-on cases (免申即享) the example starts are worked to their end too. A newcomer sees
every example's route, who did what, the final status and what the bundle saves
(减环节/减时间/减材料/减跑动), without setting anything up.
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import bindparam, select

from engine.cases.external_views import TopicRequest
from engine.cases.states import OPEN_WORK_STATES, Outcome, WorkItemState
from engine.errors import EngineError
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import Case, WorkItem, table_of
from engine.storage.prepared import Prepared
from engine.storage.settings import Settings
from engine.time.clock import ManualClock

DEMO_START = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)  # a Monday, 09:30 in Beijing
WORK_TIME = timedelta(hours=2)
TIMER_STEP = timedelta(seconds=1)
# The in-process department-system worker: its Camunda worker id and how long it locks a task.
SYSTEM_WORKER = "onething-demo-worker"
SYSTEM_LOCK_MS = 60_000


def demo_pdf(label: str) -> bytes:
    """A small, well-formed PDF standing for an applicant's scanned document."""
    text = label.encode("ascii", "replace")
    stream = b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += str(number).encode() + b" 0 obj\n" + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += b"trailer\n<< /Size " + str(len(objects) + 1).encode() + b" /Root 1 0 R >>\nstartxref\n"
    out += str(xref).encode() + b"\n%%EOF\n"
    return bytes(out)


def demo_png() -> bytes:
    """A small, well-formed PNG (a white 8×8 square) standing for a photo."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\xff\xff\xff" * 8 for _ in range(8)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def demo_document(engine: Engine, kind: str) -> tuple[str, bytes]:
    """A file the material kind accepts: a PDF where PDFs are taken, otherwise a PNG (a photo)."""
    accepted = engine.catalog.materials[kind].accept
    if "application/pdf" in accepted:
        return f"{kind}.pdf", demo_pdf(kind)
    return f"{kind}.png", demo_png()


@dataclass
class Step:
    """One decision on the route: which item, which department, who, what, when."""

    item: str
    item_name: str
    department: str
    department_name: str
    clerk: str
    outcome: str
    at: str
    # "clerk" (claimed and approved in the department's queue) or "system" (the department's own system).
    by: str = "clerk"


@dataclass
class FollowOnRun:
    """A follow-on case (免申即享) the example's case started by itself, worked to its end too."""

    bundle: str
    case_id: int
    status: str
    route: list[str] = field(default_factory=list)


@dataclass
class ExampleRun:
    """One example application run to its end."""

    name: str
    case_id: int
    status: str
    route: list[str]
    expected_route: list[str]
    steps: list[Step] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    follow_on: list[str] = field(default_factory=list)
    follow_on_cases: list[FollowOnRun] = field(default_factory=list)
    timers_fired: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        """Completed along the promised route (when named), and every follow-on case completed too."""
        expected_ok = not self.expected_route or sorted(self.expected_route) == sorted(set(self.route))
        follow_ok = all(f.status == "completed" for f in self.follow_on_cases)
        return self.status == "completed" and expected_ok and follow_ok and not self.error


def _next_timer(engine: Engine, case_id: int) -> datetime | None:
    with engine.db.read() as session:
        return session.scalar(select(Case.next_timer_at).where(Case.id == case_id))


def system_actor(department: str, division: str | None = None) -> Actor:
    """The department's own system as the engine sees its account.

    ``system.<department>`` works at the default division; the system of another
    province-level root (``division``) is the demo account ``system.<department>@<root>``.
    """
    name = f"system.{department}" if division is None else f"system.{department}@{division}"
    return Actor(name, Role.SYSTEM, frozenset({department}), division=division)


@dataclass(frozen=True)
class _SystemRow:
    """An open step of the case that a department's own system does (an external task or a message)."""

    id: int
    kind: str
    department: str
    topic: str | None
    division: str
    item: str
    item_name: str


_TASKS, _CASES = table_of(WorkItem).c, table_of(Case).c
# Built once and run on the driver: the demo's systems ask after every step of every case.
_SYSTEM_ROWS = Prepared(
    select(
        _TASKS.id,
        _TASKS.kind,
        _TASKS.department,
        _TASKS.topic,
        _TASKS.division,
        _TASKS.item_key,
        _TASKS.deployment_id,
        _CASES.code,
    )
    .join_from(table_of(WorkItem), table_of(Case), _CASES.id == _TASKS.case_id)
    .where(_TASKS.case_id == bindparam("case"), _TASKS.kind != "human", _TASKS.state.in_(OPEN_WORK_STATES))
    .order_by(_TASKS.id)
)


def _open_system_rows(engine: Engine, case_id: int) -> tuple[str, list[_SystemRow]]:
    """The case's business key and its open system steps, with their items' names.

    Only the columns a step needs are read, in one statement: the case row's workflow state
    is the largest thing in the database, and the case view (``get_case``) builds far more
    than a name.
    """
    with engine.db.read() as session:
        rows = _SYSTEM_ROWS.rows(session, {"case": case_id})
        manifests = {
            d: engine.deployments.definition(engine.deployments.row(session, d)).manifest
            for d in {r.deployment_id for r in rows}
        }
    found = []
    for r in rows:
        try:
            name = manifests[r.deployment_id].item(r.item_key).name.zh
        except KeyError:
            name = r.item_key
        found.append(_SystemRow(r.id, r.kind, r.department, r.topic, r.division, r.item_key, name))
    code = rows[0].code if rows else None
    return code or str(case_id), found


def department_systems_work(
    engine: Engine,
    case_id: int,
    decisions: Mapping[str, Mapping[str, Any]],
    clock: ManualClock | None = None,
) -> list[Step]:
    """Let the departments' own systems do the case's open system steps; the steps they did.

    An external task is fetched and locked by the system of the department at the
    province-level root of the task's office (``system.<department>`` at the default
    division's, ``system.<department>@<root>`` elsewhere) on its topic and the case's
    business key (so no other case's task is locked, however many wait on the topic) and
    completed with the example's decision for its item; an item waiting for a department
    system's message gets it, correlated by the case's code (办件编码), with the decision
    as the message's variables. ``clock`` (when given) moves on by a decision's work time.
    """
    steps: list[Step] = []
    business_key, rows = _open_system_rows(engine, case_id)
    for row in rows:
        root = engine.regions.chain(row.division)[-1]
        actor = system_actor(row.department, None if root == engine.regions.default else root)
        if clock is not None:
            clock.advance(WORK_TIME)
        item, item_name = row.item, row.item_name
        if row.kind == "external" and row.topic is not None:
            request = TopicRequest(row.topic, SYSTEM_LOCK_MS, None, business_key)
            fetched = engine.fetch_and_lock(actor, SYSTEM_WORKER, 1, [request], False)
            if not fetched:
                continue  # locked by a worker of its own, or an incident: not this system's to do now
            task = fetched[0]
            engine.complete_external(actor, task.id, SYSTEM_WORKER, dict(decisions.get(task.item, {})), {})
            item, item_name = task.item, task.item_name.zh
        elif row.kind == "message" and row.topic is not None:
            engine.correlate_message(
                actor, row.topic, business_key=business_key, process_variables=dict(decisions.get(item, {}))
            )
        else:
            continue
        steps.append(
            Step(
                item,
                item_name,
                row.department,
                engine.deployments.department_label(row.department)["zh"],
                actor.username,
                "approve",
                engine.clock.now().isoformat(),
                "system",
            )
        )
    return steps


def work_case(
    engine: Engine,
    applicant: Actor,
    case_id: int,
    decisions: Mapping[str, Mapping[str, Any]],
    clock: ManualClock,
    steps: list[Step],
) -> tuple[str, int]:
    """Let simulated clerks and department systems do every task, and the clock run to each timer.

    Returns (final status, timers fired). A case waiting only on a timer (a public-notice
    period, say) has the clock moved to the timer's due time, so a demo of a bundle with a
    45-day notice still ends in seconds.
    """
    fired = 0
    for _round in range(100):
        by_systems = department_systems_work(engine, case_id, decisions, clock)
        steps.extend(by_systems)
        view = engine.get_case(applicant, case_id)
        system_ids = {row.id for row in _open_system_rows(engine, case_id)[1]}
        open_items = [
            t
            for t in view.tasks
            if t.state in (WorkItemState.READY, WorkItemState.CLAIMED) and t.id not in system_ids
        ]
        if not open_items:
            if by_systems or system_ids:
                continue
            due = _next_timer(engine, case_id) if view.status == "running" else None
            if due is None:
                return view.status, fired
            # Spiff fires a timer only once the clock is past its due time, not at it.
            clock.set(max(due + TIMER_STEP, clock.now()))
            fired += engine.fire_due_timers()
            continue
        for task in open_items:
            clerk = Actor(f"clerk.{task.department}", Role.CLERK, frozenset({task.department}))
            engine.claim(clerk, task.id)
            clock.advance(WORK_TIME)
            engine.complete(
                clerk, task.id, Outcome.APPROVE, dict(decisions.get(task.item, {})), "材料齐全，同意办理"
            )
            steps.append(
                Step(
                    task.item,
                    task.item_name.zh,
                    task.department,
                    engine.deployments.department_label(task.department)["zh"],
                    clerk.username,
                    "approve",
                    clock.now().isoformat(),
                )
            )
    return engine.get_case(applicant, case_id).status, fired


def example_decisions(engine: Engine, key: str) -> dict[str, dict[str, Any]]:
    """Every item's decision data across a bundle's examples (a follow-on case has no example of its own)."""
    merged: dict[str, dict[str, Any]] = {}
    for example in engine.bundle_detail(key).examples:
        for item, decision in example.get("decisions", {}).items():
            merged.setdefault(item, dict(decision))
    return merged


def run_example(engine: Engine, key: str, index: int, clock: ManualClock) -> ExampleRun:
    """Apply with one example of a bundle and let simulated clerks decide every task, follow-ons included."""
    detail = engine.bundle_detail(key)
    example = detail.examples[index]
    applicant = Actor(f"demo-{key}-{index + 1}", Role.APPLICANT)
    run = ExampleRun(example["name"]["zh"], 0, "", [], list(example.get("route", [])))
    try:
        materials = {}
        for kind in example["materials"]:
            filename, body = demo_document(engine, kind)
            materials[kind] = engine.materials.upload(applicant.username, kind, filename, io.BytesIO(body)).id
        case = engine.start_case(applicant, key, example["data"], materials)
        run.case_id = case.id
        run.status, run.timers_fired = work_case(
            engine, applicant, case.id, example.get("decisions", {}), clock, run.steps
        )
        run.route = [step.item for step in run.steps]
        final = engine.get_case(applicant, case.id)
        run.outputs = sorted(final.outputs)
        for event in final.timeline:
            if event.kind != "follow_on_started":
                continue
            bundle = str(event.detail.get("bundle"))
            run.follow_on.append(bundle)
            follow_id = int(event.detail["case_id"])
            follow_steps: list[Step] = []
            status, fired = work_case(
                engine, applicant, follow_id, example_decisions(engine, bundle), clock, follow_steps
            )
            run.timers_fired += fired
            run.follow_on_cases.append(FollowOnRun(bundle, follow_id, status, [s.item for s in follow_steps]))
    except EngineError as exc:
        run.status = "error"
        problems = getattr(exc, "problems", [])
        run.error = exc.message + "".join(f"\n    - {p.where}: {p.message}" for p in problems)
    return run


def _pct(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{-value:+.0f}%" if value else "0%"  # no change at all reads "0%", not "+0%"


def demo_report(engine: Engine, clock: ManualClock, bundle: str | None = None) -> list[dict[str, Any]]:
    """Run every deployed bundle's examples (or one bundle's) on ``engine``; one entry per bundle.

    Each entry carries the bundle's departments, its promised days and its reductions
    (减环节/减时间/减材料/减跑动, from the model), and every example's run.
    """
    report: list[dict[str, Any]] = []
    for summary in engine.list_bundles():
        if bundle is not None and summary.key != bundle:
            continue
        count = len(engine.bundle_detail(summary.key).examples)
        runs = [run_example(engine, summary.key, i, clock) for i in range(count)]
        report.append(
            {
                "key": summary.key,
                "version": summary.version,
                "name": {"zh": summary.name.zh, "en": summary.name.en},
                "departments": list(summary.departments),
                "catalog": summary.catalog,
                "promised_days": summary.time_limit_days,
                "reductions": summary.reductions,
                "examples": [{**asdict(r), "ok": r.ok} for r in runs],
            }
        )
    return report


def report_ok(report: list[dict[str, Any]]) -> bool:
    """Whether every bundle had examples and every example (and its follow-ons) completed."""
    return bool(report) and all(r["examples"] and all(e["ok"] for e in r["examples"]) for r in report)


def write_report(report: list[dict[str, Any]], as_json: bool, out: TextIO) -> None:
    """Print the report as JSON (``{ok, bundles}``) or as text with each bundle's reductions."""
    if as_json:
        json.dump({"ok": report_ok(report), "bundles": report}, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _print_text(report, out)


def run_demo(bundle: str | None, as_json: bool, out: TextIO) -> int:
    """Run every shipped bundle's examples (or one bundle's) on a throwaway database; 0 if all complete."""
    if bundle is not None and not (Settings().processes_dir / bundle / "bundle.yaml").is_file():
        # The folder name is the bundle key (checked by the bundle tests): answer a typo at once.
        print(f"没有这个事项包 (no bundle {bundle!r})", file=out)
        return 1
    with tempfile.TemporaryDirectory(prefix="onething-demo-") as tmp:
        clock = ManualClock(DEMO_START)
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'demo.db'}", data_dir=Path(tmp) / "var")
        engine = Engine(settings, clock=clock)
        try:
            engine.upgrade()
            engine.deploy_shipped()
            report = demo_report(engine, clock, bundle)
        finally:
            engine.close()
    if not report:
        print(f"没有这个事项包 (no bundle {bundle!r})", file=out)
        return 1
    write_report(report, as_json, out)
    return 0 if report_ok(report) else 1


def _up_to(after: dict[str, Any]) -> str:
    """The most materials any route asks, when some are asked only on some routes."""
    most = after.get("materials_max", after["materials"])
    return f" (视情形最多 up to {most})" if most > after["materials"] else ""


def _print_text(report: list[dict[str, Any]], out: TextIO) -> None:
    for entry in report:
        red = entry["reductions"]
        print(
            f"\n■ {entry['name']['zh']} {entry['name']['en']} ({entry['key']} v{entry['version']})", file=out
        )
        print(f"  部门 departments: {', '.join(entry['departments'])}", file=out)
        source = entry.get("catalog")
        if source:
            print(
                f"  清单 list: {source['list']} ({source['document']}, {source['published']}); "
                f"牵头 lead: {source['lead']}; 配合 cooperating: {', '.join(source['cooperating']) or '-'}",
                file=out,
            )
        for ex in entry["examples"]:
            mark = "✓" if ex["ok"] else "✗"
            print(
                f"  {mark} 示例 example: {ex['name']} — 办件 case #{ex['case_id']} → {ex['status']}", file=out
            )
            for n, step in enumerate(ex["steps"], start=1):
                done = (
                    "系统办结 (done by the department's system)" if step["by"] == "system" else "通过 approve"
                )
                print(
                    f"      {n}. {step['item_name']} ({step['item']}) — {step['department_name']} "
                    f"[{step['department']}] — {step['clerk']} {done}",
                    file=out,
                )
            if ex["timers_fired"]:
                print(f"      计时 timers fired (公示期等 notice periods): {ex['timers_fired']}", file=out)
            if ex["outputs"]:
                print(f"      证照 outputs: {', '.join(ex['outputs'])}", file=out)
            for follow in ex["follow_on_cases"]:
                print(
                    f"      免申即享 follow-on: {follow['bundle']} — 办件 case #{follow['case_id']} → "
                    f"{follow['status']} ({', '.join(follow['route'])})",
                    file=out,
                )
            if ex["error"]:
                print(f"      错误 error: {ex['error']}", file=out)
        b, a, p = red["before"], red["after"], red["percent"]
        print(
            f"  减环节 steps {b['steps']}→{a['steps']} ({_pct(p['steps'])})  "
            f"减时间 days {b['days']}→{a['days']} ({_pct(p['days'])})  "
            f"减材料 materials {b['materials']}→{a['materials']}{_up_to(a)} ({_pct(p['materials'])})  "
            f"减跑动 trips {b['trips']}→{a['trips']} ({_pct(p['trips'])})",
            file=out,
        )
