"""What every diagram check shares: BPMN names, the kinds of flow node, and the facts gathered.

Each check reports ``Problem``s in one shape (file, element id, rule, Chinese and English)
and records what the manifest checks in ``engine.bpmn.validation`` build on: the human,
service and receive tasks and their lanes, the names the diagram gives values to, and the
expressions it reads.

May import: ``engine.bpmn.definitions`` (the namespaces), ``engine.errors``, lxml.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from engine.bpmn.definitions import BPMN_NS, CAMUNDA_NS
from engine.errors import Problem


def q(local: str) -> str:
    """The qualified (Clark) name of a BPMN element."""
    return f"{{{BPMN_NS}}}{local}"


def local_name(element: etree._Element) -> str:
    """The local name of a BPMN element; empty for anything outside the BPMN namespace."""
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith(f"{{{BPMN_NS}}}"):
        return ""
    return tag[len(BPMN_NS) + 2 :]


def text_of(element: etree._Element | None) -> str | None:
    """The text of an element that may be missing."""
    return None if element is None else element.text


def child(element: etree._Element, local: str) -> etree._Element | None:
    """The first BPMN child of an element with this local name."""
    return element.find(q(local))


def problem(file: str, element: str, rule: str, zh: str, en: str) -> Problem:
    """A problem in the shape every check reports: file, element id, rule, Chinese and English."""
    return Problem(zh, file=file, element=element, rule=rule, message_en=en)


CAMUNDA_TOPIC = f"{{{CAMUNDA_NS}}}topic"
HUMAN_TASKS = frozenset({"userTask", "manualTask"})
ACTIVITIES = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "businessRuleTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "subProcess",
        "callActivity",
        "transaction",
        "adHocSubProcess",
    }
)
GATEWAYS = frozenset(
    {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
)
EVENTS = frozenset(
    {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
)
FLOW_NODES = ACTIVITIES | GATEWAYS | EVENTS


@dataclass(frozen=True)
class HumanTask:
    """A user or manual task: a department's work item once the case reaches it."""

    id: str
    tag: str
    name: str
    lane: str | None
    process: str


@dataclass(frozen=True)
class SystemTask:
    """A service or receive task: a step a department's own system may do once the case reaches it.

    A service task is an external task the system fetches by ``topic`` (``camunda:topic``,
    None when absent); ``plain`` when it has no ``camunda:type``, so only a ``handled_by:
    system`` item can make it one. A receive task bound by such an item is finished by the
    system's message.
    """

    id: str
    tag: str
    name: str
    lane: str | None
    process: str
    topic: str | None
    plain: bool


@dataclass(frozen=True)
class Expression:
    """An expression or script of the diagram that passed vetting, and the case-data names it reads."""

    file: str
    element: str
    kind: str
    source: str
    reads: frozenset[str]


@dataclass
class DiagramFacts:
    """What the diagram checks found: problems, and the facts the manifest checks build on."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    processes: dict[str, etree._Element] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    human_tasks: dict[str, HumanTask] = field(default_factory=dict)
    system_tasks: dict[str, SystemTask] = field(default_factory=dict)
    # Service tasks without camunda:type (no other way of calling a service): a system item must bind them.
    plain_service_tasks: set[str] = field(default_factory=set)
    expressions: list[Expression] = field(default_factory=list)
    # Names the diagram gives values to: script assignments, loop items, data objects, DMN results.
    assigned: set[str] = field(default_factory=set)
    # Business rule task id -> the id of the DMN decision it calls.
    decision_refs: dict[str, str] = field(default_factory=dict)

    @property
    def executable(self) -> tuple[str, ...]:
        """Ids of the top-level processes marked executable."""
        return tuple(pid for pid, el in self.processes.items() if el.get("isExecutable", "true") == "true")

    def add(self, element: str, rule: str, zh: str, en: str) -> None:
        """Record a problem at an element of this file."""
        self.problems.append(problem(self.file, element, rule, zh, en))

    def refuse(self, element: str, what: str, reason: tuple[str, str]) -> None:
        """Record an element the engine cannot run (a problem, and a name in the verdict)."""
        self.unsupported.append(f"{element} ({what})")
        self.add(
            element,
            "bpmn-unsupported",
            f"不支持 {what}：{reason[0]}",
            f"{what} is not supported: {reason[1]}",
        )


@dataclass
class DmnFacts:
    """What the DMN checks found: problems, and each decision's output names."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    expressions: list[Expression] = field(default_factory=list)
