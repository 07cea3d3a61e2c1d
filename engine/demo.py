"""``onething demo``: run each shipped bundle's example applications end to end.

Simulated clerks of each department claim and approve their tasks with the example's
decision data, on a throwaway SQLite database and a simulated clock (each decision takes a
couple of working hours), so a newcomer sees the route, who did what, the final status and
what the bundle saves, without setting anything up.
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from engine.actors import Actor, Role
from engine.clock import ManualClock
from engine.errors import EngineError
from engine.service import Engine
from engine.settings import Settings
from engine.states import Outcome, WorkItemState

DEMO_START = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)  # a Monday, 09:30 in Beijing
WORK_TIME = timedelta(hours=2)


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
    error: str = ""

    @property
    def ok(self) -> bool:
        """Completed, and along the route the example promises (when it names one)."""
        expected_ok = not self.expected_route or sorted(self.expected_route) == sorted(set(self.route))
        return self.status == "completed" and expected_ok and not self.error


def run_example(engine: Engine, key: str, index: int, clock: ManualClock) -> ExampleRun:
    """Apply with one example of a bundle and let simulated clerks decide every task."""
    detail = engine.bundle_detail(key)
    example = detail.examples[index]
    applicant = Actor(f"demo-{key}-{index + 1}", Role.APPLICANT)
    run = ExampleRun(example["name"]["zh"], 0, "", [], list(example.get("route", [])))
    try:
        materials = {
            kind: engine.materials.upload(
                applicant.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))
            ).id
            for kind in example["materials"]
        }
        case = engine.start_case(applicant, key, example["data"], materials)
        run.case_id = case.id
        decisions = example.get("decisions", {})
        for _round in range(100):
            open_items = [
                t
                for t in engine.get_case(applicant, case.id).tasks
                if t.state in (WorkItemState.READY, WorkItemState.CLAIMED)
            ]
            if not open_items:
                break
            for task in open_items:
                clerk = Actor(f"clerk.{task.department}", Role.CLERK, frozenset({task.department}))
                engine.claim(clerk, task.id)
                clock.advance(WORK_TIME)
                engine.complete(
                    clerk, task.id, Outcome.APPROVE, decisions.get(task.item, {}), "材料齐全，同意办理"
                )
                run.route.append(task.item)
                run.steps.append(
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
        final = engine.get_case(applicant, case.id)
        run.status = final.status
        run.outputs = sorted(final.outputs)
        run.follow_on = [str(e.detail.get("bundle")) for e in final.timeline if e.kind == "follow_on_started"]
    except EngineError as exc:
        run.status = "error"
        problems = getattr(exc, "problems", [])
        run.error = exc.message + "".join(f"\n    - {p.where}: {p.message}" for p in problems)
    return run


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{-value:+.0f}%"


def run_demo(bundle: str | None, as_json: bool, out: TextIO) -> int:
    """Run every shipped bundle's examples (or one bundle's); print routes and reductions; 0 if all complete."""
    with tempfile.TemporaryDirectory(prefix="onething-demo-") as tmp:
        clock = ManualClock(DEMO_START)
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'demo.db'}", data_dir=Path(tmp) / "var")
        engine = Engine(settings, clock=clock)
        try:
            engine.upgrade()
            engine.deploy_shipped()
            summaries = [s for s in engine.list_bundles() if bundle is None or s.key == bundle]
            if not summaries:
                print(f"没有这个事项包 (no bundle {bundle!r})", file=out)
                return 1
            report: list[dict[str, Any]] = []
            for summary in summaries:
                count = len(engine.bundle_detail(summary.key).examples)
                runs = [run_example(engine, summary.key, i, clock) for i in range(count)]
                report.append(
                    {
                        "key": summary.key,
                        "version": summary.version,
                        "name": {"zh": summary.name.zh, "en": summary.name.en},
                        "departments": list(summary.departments),
                        "promised_days": summary.time_limit_days,
                        "reductions": summary.reductions,
                        "examples": [{**asdict(r), "ok": r.ok} for r in runs],
                    }
                )
        finally:
            engine.close()
    ok = all(r["examples"] and all(e["ok"] for e in r["examples"]) for r in report)
    if as_json:
        json.dump({"ok": ok, "bundles": report}, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _print_text(report, out)
    return 0 if ok else 1


def _print_text(report: list[dict[str, Any]], out: TextIO) -> None:
    for entry in report:
        red = entry["reductions"]
        print(
            f"\n■ {entry['name']['zh']} {entry['name']['en']} ({entry['key']} v{entry['version']})", file=out
        )
        for ex in entry["examples"]:
            mark = "✓" if ex["ok"] else "✗"
            print(
                f"  {mark} 示例 example: {ex['name']} — 办件 case #{ex['case_id']} → {ex['status']}", file=out
            )
            for n, step in enumerate(ex["steps"], start=1):
                print(
                    f"      {n}. {step['item_name']} ({step['item']}) — {step['department_name']} "
                    f"[{step['department']}] — {step['clerk']} 通过 approve",
                    file=out,
                )
            if ex["outputs"]:
                print(f"      证照 outputs: {', '.join(ex['outputs'])}", file=out)
            if ex["follow_on"]:
                print(f"      免申即享 follow-on: {', '.join(ex['follow_on'])}", file=out)
            if ex["error"]:
                print(f"      错误 error: {ex['error']}", file=out)
        b, a, p = red["before"], red["after"], red["percent"]
        print(
            f"  减环节 steps {b['steps']}→{a['steps']} ({_pct(p['steps'])})  "
            f"减时间 days {b['days']}→{a['days']} ({_pct(p['days'])})  "
            f"减材料 materials {b['materials']}→{a['materials']} ({_pct(p['materials'])})  "
            f"减跑动 trips {b['trips']}→{a['trips']} ({_pct(p['trips'])})",
            file=out,
        )
