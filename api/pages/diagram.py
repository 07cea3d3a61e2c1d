"""Where a case stands, as marks on its BPMN diagram and as a table that says the same in words.

Each user task of the case gets one state from its newest work item: ``done`` (approved),
``returned`` (sent back for correction), ``active`` (in a queue or claimed) or ``late``
(open past its due time). A step a department's own system does (an external task or a
message) is marked ``system`` as well and, while open, reads "部门系统处理中" (an incident
reads so too for the applicant, whose view never shows it; staff see "部门系统故障").
Every mark carries a text (the office that handles the step: "上海市黄浦区市场监督管理局",
never a code; due time; "逾期 late"),
so the picture never relies on colour alone, and the table lists the same steps.

The viewer reads the diagram from ``/diagrams/{key}/{version}/{lang}.bpmn``: the deployed XML
with its lanes named after their departments and its tasks after their items, in the page's
language (a lane's name in the BPMN is the department's key, ``market-regulation``, which is
for the engine, not for people). The modeler keeps reading the deployed XML unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from lxml import etree

from api.headers import untrusted_download
from api.pages.base import Ctx, PageRoute
from api.pages.i18n import Words
from api.pages.params import BundleKey, PageVersion
from engine.bpmn.xmlsafe import parse_xml
from engine.cases.states import Outcome, WorkItemState
from engine.cases.views import CaseView, WorkItemView

router = APIRouter(route_class=PageRoute)

BPMN_MODEL = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


@dataclass(frozen=True)
class StepMark:
    """One step of a case on the diagram."""

    element: str
    state: str
    task: WorkItemView
    text: str

    @property
    def system(self) -> bool:
        """Whether a department's own system does this step."""
        return self.task.by_system

    @property
    def state_words(self) -> tuple[str, str]:
        """The state in both languages (for the table beside the diagram)."""
        return STATE_WORDS[self.state]


STATE_WORDS: dict[str, tuple[str, str]] = {
    "done": ("✓ 已完成", "✓ Done"),
    "active": ("● 办理中", "● In progress"),
    "late": ("⚠ 已逾期", "⚠ Late"),
    "returned": ("↩ 已退回补正", "↩ Returned"),
}


def step_state(task: WorkItemView, now: datetime) -> str:
    """The state of one work item as the diagram shows it."""
    if task.state in (WorkItemState.READY, WorkItemState.CLAIMED, WorkItemState.FAILED):
        late = task.overdue or (task.due_at is not None and task.due_at < now)
        return "late" if late else "active"
    if task.outcome == Outcome.RETURN:
        return "returned"
    return "done"


def case_marks(case: CaseView, words: Words, departments: dict[str, Any], now: datetime) -> list[StepMark]:
    """The newest work item of each task element, marked (cancelled items leave no mark)."""
    newest: dict[str, WorkItemView] = {}
    for task in case.tasks:
        if task.state == WorkItemState.CANCELLED:
            continue
        newest[task.task_name] = task
    marks: list[StepMark] = []
    for element, task in newest.items():
        state = step_state(task, now)
        office = words.label(task.office) or words.label(departments.get(task.department), task.department)
        if state in ("active", "late"):
            due = words.when(task.due_at)
            text = f"{office} · " + (words.tr(f"时限 {due}", f"due {due}") if due else "")
            if state == "late":
                text = words.tr("⚠ 逾期 · ", "⚠ LATE · ") + text
            elif task.state == WorkItemState.FAILED:
                text = (
                    words.tr("⚠ 部门系统故障（待处理） · ", "⚠ department system failed (incident) · ") + text
                )
            elif task.by_system:
                text = words.tr("⚙ 部门系统处理中 · ", "⚙ department system at work · ") + text
            elif task.state == WorkItemState.CLAIMED:
                text = words.tr("● 办理中 · ", "● working · ") + text
            else:
                text = words.tr("● 待办 · ", "● queued · ") + text
        elif state == "returned":
            text = words.tr("↩ 退回补正", "↩ returned")
        else:
            text = words.tr("✓ 完成", "✓ done")
        marks.append(StepMark(element, state, task, text.strip(" ·")))
    return marks


def diagram_state(marks: list[StepMark], focus: str | None = None) -> dict[str, Any]:
    """The JSON the diagram script reads."""
    return {
        "elements": {m.element: {"state": m.state, "text": m.text, "system": m.system} for m in marks},
        "focus": focus,
    }


def _name(label: Any, lang: str) -> str | None:
    """A ``{zh, en}`` name in one language (the Chinese one when the English is missing)."""
    if not isinstance(label, Mapping):
        return None
    text = label.get(lang) or label.get("zh")
    return str(text) if text else None


def named_diagram(xml: str, manifest: Mapping[str, Any], departments: Mapping[str, Any], lang: str) -> bytes:
    """The diagram with names for people in ``lang``: lanes as departments, tasks as items, pool as bundle.

    Only ``name`` attributes change, and only of elements the manifest or the department list
    names; ids, flows and layout stay as deployed, so the marks the pages put on element ids
    still land. The XML is parsed with the same guard as an upload (no DTD, no entities).
    """
    root = parse_xml(xml.encode("utf-8"), "process.bpmn")
    by_id = {str(el.get("id")): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for lane in root.iter(f"{BPMN_MODEL}lane"):
        name = _name(departments.get(str(lane.get("name"))), lang)
        if name:
            lane.set("name", name)
    for item in manifest.get("items") or ():
        task = by_id.get(str(item.get("task")))
        name = _name(item.get("name"), lang)
        if task is not None and name:
            task.set("name", name)
    bundle = _name(manifest.get("name"), lang)
    if bundle:
        for participant in root.iter(f"{BPMN_MODEL}participant"):
            participant.set("name", bundle)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@router.get("/diagrams/{key}/{version}/{lang}.bpmn")
def named_diagram_xml(ctx: Ctx, key: BundleKey, version: PageVersion, lang: Literal["zh", "en"]) -> Response:
    """A deployed version's diagram named for people in one language (what the case and task pages draw)."""
    ctx.require()
    engine = ctx.engine
    xml = engine.diagram(key, version)
    manifest = engine.bundle_detail(key, version).manifest
    named = named_diagram(xml, manifest, engine.deployments.departments, lang)
    return untrusted_download(
        named, f"{key}-v{version}-{lang}.bpmn", "application/xml", {"Cache-Control": "private, max-age=3600"}
    )
