"""Checks on a BPMN diagram and its DMN decision tables that need no manifest.

``engine.bpmn.validation`` runs these on every bundle and on a lone ``.bpmn`` file from any
modeller. Each check appends ``Problem``s carrying the file and the element id and never
stops the others. On the way it gathers the facts the manifest checks need: the human
tasks and their lanes, the names the diagram gives values to, and the names its
expressions read.

What this engine runs (SpiffWorkflow 3.2 parses more; this is what the engine drives):

- events: the process's none start event; none, terminate and error end events; timer
  intermediate catch events; none intermediate throw events; timer and error boundary
  events (interrupting or not);
- activities: user and manual tasks (both are a department's work item, so both need a
  lane and an item), none tasks, script tasks in the restricted expression language,
  business rule tasks (DMN) when the engine's parser reads their decision reference,
  embedded sub-processes, call activities to an executable process of the same file,
  standard and multi-instance loops;
- gateways: exclusive, parallel, inclusive, event-based (followed by timer catch events);
- lanes (a lane is a department queue), pools, data objects, text annotations, groups.

Refused, each with its reason in ``_UNSUPPORTED``: service calls, anything that needs
message or signal routing between processes, escalation, compensation, cancel,
conditional and link events, complex gateways, transactions, ad-hoc and event
sub-processes, data stores, imports, a timer on the process's start (a case starts when
the applicant applies), script languages other than the engine's own, and vendor
extensions that carry behaviour the engine would silently skip (listeners, pre/post
scripts, input/output mappings).
"""

from __future__ import annotations

import ast
import copy
import re
import textwrap
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS

from engine.bpmn.definitions import BPMN_NS, CAMUNDA_NS, SPIFF_NS, build_parser, decision_ref_of
from engine.bpmn.expressions import DMN_INPUT_NAME, check_expression, check_script, names_used
from engine.errors import ExpressionRefused, Problem

ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
DMN_SCHEMAS: Mapping[str, str] = SCHEMAS
BPMN_XSD = Path(XSD_PATH)


def q(local: str) -> str:
    """The qualified (Clark) name of a BPMN element."""
    return f"{{{BPMN_NS}}}{local}"


def local_name(element: etree._Element) -> str:
    """The local name of a BPMN element; empty for anything outside the BPMN namespace."""
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith(f"{{{BPMN_NS}}}"):
        return ""
    return tag[len(BPMN_NS) + 2 :]


def problem(file: str, element: str, rule: str, zh: str, en: str) -> Problem:
    """A problem in the shape every check reports: file, element id, rule, Chinese and English."""
    return Problem(zh, file=file, element=element, rule=rule, message_en=en)


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
CONDITIONAL_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
EVENTS = frozenset(
    {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
)
FLOW_NODES = ACTIVITIES | GATEWAYS | EVENTS
_OWNERS = FLOW_NODES | {"process", "sequenceFlow", "lane", "dataStoreReference", "dataObject"}
# Flow nodes that SpiffWorkflow lets have several outgoing flows; any other splits implicitly
# and SpiffWorkflow refuses it.
MULTI_OUTGOING = GATEWAYS | {"startEvent"}

_MESSAGES = ("引擎不在流程之间传递消息", "the engine does not route messages between processes")
_UNSUPPORTED: Mapping[str, tuple[str, str]] = {
    "serviceTask": ("引擎不调用外部服务，请改为部门用户任务或脚本任务", "the engine makes no service calls"),
    "sendTask": _MESSAGES,
    "receiveTask": _MESSAGES,
    "complexGateway": ("SpiffWorkflow 不支持复杂网关", "complex gateways are not supported by SpiffWorkflow"),
    "transaction": (
        "不支持事务子流程(需要补偿与取消事件)",
        "transactions need compensation and cancel events",
    ),
    "adHocSubProcess": (
        "不支持自由子流程(无法分派到部门队列)",
        "ad-hoc sub-processes cannot be routed to queues",
    ),
    "messageEventDefinition": _MESSAGES,
    "signalEventDefinition": ("引擎不广播信号", "the engine does not broadcast signals"),
    "escalationEventDefinition": (
        "不支持升级事件，超时升级请用边界定时器",
        "escalation events are not supported; model escalation with a boundary timer",
    ),
    "compensateEventDefinition": ("不支持补偿事件", "compensation is not supported"),
    "conditionalEventDefinition": (
        "不支持条件事件，请用网关条件",
        "conditional events are not supported; use gateway conditions",
    ),
    "cancelEventDefinition": ("不支持取消事件", "cancel events are not supported"),
    "linkEventDefinition": ("SpiffWorkflow 不支持链接事件", "link events are not supported by SpiffWorkflow"),
    "dataStoreReference": ("引擎没有配置数据存储", "the engine has no data stores"),
    "import": ("事项包须自包含，不支持导入", "a bundle is self-contained; imports are not supported"),
}
# The events each supported event definition may sit on.
_EVENT_HOSTS: Mapping[str, tuple[str, ...]] = {
    "timerEventDefinition": ("intermediateCatchEvent", "boundaryEvent", "startEvent"),
    "terminateEventDefinition": ("endEvent",),
    "errorEventDefinition": ("endEvent", "boundaryEvent"),
}
_TIMER_START = (
    "办件在申请人提交时开始，流程开始事件不能是定时器；请在开始后放置定时中间事件",
    "a case starts when the applicant applies; put an intermediate timer after the start",
)
_SCRIPT_FORMATS = frozenset({"", "python", "text/x-python", "text/python", "onething"})
# Vendor extensions that carry behaviour: the engine would skip it silently, so they are refused.
_BEHAVIOUR_EXTENSIONS: Mapping[str, tuple[str, str]] = {
    f"{{{SPIFF_NS}}}preScript": ("前置脚本", "pre-script"),
    f"{{{SPIFF_NS}}}postScript": ("后置脚本", "post-script"),
    f"{{{SPIFF_NS}}}serviceTaskOperator": ("服务调用", "service call"),
    f"{{{CAMUNDA_NS}}}executionListener": ("执行监听器", "execution listener"),
    f"{{{CAMUNDA_NS}}}taskListener": ("任务监听器", "task listener"),
    f"{{{CAMUNDA_NS}}}inputOutput": ("输入输出映射", "input/output mapping"),
    f"{{{CAMUNDA_NS}}}connector": ("连接器", "connector"),
    f"{{{ZEEBE_NS}}}taskDefinition": ("作业定义", "job definition"),
    f"{{{ZEEBE_NS}}}ioMapping": ("输入输出映射", "input/output mapping"),
    f"{{{ZEEBE_NS}}}executionListeners": ("执行监听器", "execution listeners"),
    f"{{{ZEEBE_NS}}}script": ("FEEL 脚本", "FEEL script"),
    f"{{{ZEEBE_NS}}}calledDecision": ("FEEL 决策调用", "FEEL decision call"),
}
_ISO_TIMER_TEXT = re.compile(r"^(R\d*/)?(P[0-9YMWDTHS.,]+|\d{4}-\d{2}-\d{2}(T[0-9:.+\-Z]*)?)(/.*)?$", re.I)


@dataclass(frozen=True)
class HumanTask:
    """A user or manual task: a department's work item once the case reaches it."""

    id: str
    tag: str
    name: str
    lane: str | None
    process: str


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


# --- the XSD ---------------------------------------------------------------------------


class _SchemaFolderOnly(etree.Resolver):  # type: ignore[misc]  # lxml ships no type hints
    """Lets the schema loader open the files of its own folder and nothing else (no network)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder.resolve()

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> Any:
        url = system_url or ""
        path = Path(url.removeprefix("file://"))
        if "://" in url.removeprefix("file://") or path.resolve().parent != self.folder:
            raise ValueError(f"schema reference outside {self.folder} refused: {url}")
        return self.resolve_filename(str(path.resolve()), context)


@lru_cache(maxsize=8)
def _schema(xsd_path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_SchemaFolderOnly(xsd_path.parent))
    return etree.XMLSchema(etree.parse(str(xsd_path), parser))


# lxml keeps the error log on the schema object: one validation at a time per schema.
_SCHEMA_LOCK = threading.Lock()


def schema_problems(root: etree._Element, file: str, xsd_path: Path) -> list[Problem]:
    """Every XSD error of a document, each at the element (id) on the reported line."""
    document = copy.deepcopy(root)
    # BPMN modellers write correlation properties in a form the OMG schema refuses;
    # SpiffWorkflow's own validator renames the element first, and so do we.
    for expr in document.iter(q("formalExpression")):
        parent = expr.getparent()
        if parent is not None and parent.tag == q("correlationPropertyRetrievalExpression"):
            expr.tag = q("messagePath")
    schema = _schema(xsd_path)
    with _SCHEMA_LOCK:
        if schema.validate(document):
            return []
        errors = [(e.line, e.message) for e in schema.error_log]
    by_line: dict[int, str] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.sourceline is not None and element.get("id"):
            by_line.setdefault(element.sourceline, element.get("id", ""))
    return [
        problem(
            file,
            by_line.get(line, ""),
            "schema",
            f"不符合 XSD (第 {line} 行): {message}",
            f"schema error (line {line}): {message}",
        )
        for line, message in errors
    ]


# --- expressions -----------------------------------------------------------------------


_KIND_ZH: Mapping[str, str] = {
    "condition": "条件",
    "script": "脚本",
    "loop condition": "循环条件",
    "loop cardinality": "多实例数量",
    "completion condition": "完成条件",
    "DMN input": "决策表输入",
    "DMN rule": "决策表规则",
    "DMN output": "决策表输出",
    "follow-on": "免申即享",
    "timer timeDuration": "定时器时长",
    "timer timeDate": "定时器时间",
    "timer timeCycle": "定时器周期",
    "loop input": "多实例输入",
}


def kind_label(kind: str) -> str:
    """An expression's kind in Chinese, English beside it."""
    return f"{_KIND_ZH[kind]} {kind}" if kind in _KIND_ZH else kind


def vet(
    file: str,
    element: str,
    kind: str,
    source: str | None,
    problems: list[Problem],
    script: bool = False,
) -> Expression | None:
    """Vet one expression (or script) with the engine's own checker; a problem when it is refused.

    ``expression-syntax`` when the text does not parse, ``expression-refused`` when it
    parses but uses something outside the language. The checker's message already carries
    Chinese and English, so it is the problem's text in both fields.
    """
    text = source or ""
    label = kind_label(kind)
    shown = text.strip()[:200]
    if not text.strip():
        problems.append(
            problem(file, element, "expression-empty", f"{label} 表达式为空", f"empty {kind} expression")
        )
        return None
    try:
        (check_script if script else check_expression)(text)
    except ExpressionRefused as exc:
        rule = "expression-syntax" if isinstance(exc.__cause__, SyntaxError) else "expression-refused"
        message = f"{label} {shown!r}: {exc.message}"
        problems.append(problem(file, element, rule, message, message))
        return None
    return Expression(file, element, kind, text, frozenset(names_used(text)))


def stored_names(script: str) -> set[str]:
    """Top-level and loop names a (vetted) script gives values to."""
    try:
        tree = ast.parse(textwrap.dedent(script).strip("\n"), mode="exec")
    except SyntaxError:
        return set()
    return {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }


def _timer_literal_problem(kind: str, value: str) -> str | None:
    try:
        if kind == "timeDuration":
            if not value.upper().startswith("P"):
                return "duration must start with P"
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "timeDate":
            TimerEventDefinition.parse_time_or_duration(value)
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception as exc:  # SpiffWorkflow raises bare Exception/ValueError for bad ISO 8601 text
        return str(exc) or type(exc).__name__
    return None


# --- the diagram -----------------------------------------------------------------------


def _text(element: etree._Element | None) -> str | None:
    return None if element is None else element.text


def _child(element: etree._Element, local: str) -> etree._Element | None:
    return element.find(q(local))


def _event_definitions(node: etree._Element) -> list[etree._Element]:
    return [c for c in node if local_name(c).endswith("EventDefinition")]


@lru_cache(maxsize=1)
def _engine_parses() -> Callable[[str], bool]:
    """Whether the engine's own SpiffWorkflow parser has a parser for a BPMN tag."""
    parser = build_parser(etree.Element(q("definitions")), "probe.bpmn", {})
    return lambda local: parser._get_parser_class(q(local))[0] is not None


class _DiagramChecker:
    def __init__(
        self, root: etree._Element, facts: DiagramFacts, departments: Collection[str] | None
    ) -> None:
        self.root = root
        self.facts = facts
        self.departments = departments
        self.file = facts.file

    def run(self) -> None:
        facts = self.facts
        for element in self.root.iter():
            if isinstance(element.tag, str) and element.get("id") and local_name(element):
                facts.tags.setdefault(element.get("id", ""), local_name(element))
        for process in self.root.findall(q("process")):
            facts.processes[process.get("id", "")] = process
        if not facts.processes:
            facts.add("", "no-process", "流程图中没有流程 (process)", "the diagram holds no process")
        elif not facts.executable:
            facts.add(
                next(iter(facts.processes)),
                "process-executable",
                "没有可执行的流程 (isExecutable 须为 true)",
                "no executable process (set isExecutable to true)",
            )
        for element in self.root:
            if local_name(element) in _UNSUPPORTED:
                facts.refuse(
                    element.get("id", "") or local_name(element),
                    local_name(element),
                    _UNSUPPORTED[local_name(element)],
                )
        # Only executable processes run; others (an applicant's pool, say) only document.
        executable = {pid: facts.processes[pid] for pid in facts.executable}
        for process in executable.values():
            self.check_elements(process)
            self.check_extensions(process)
        lanes = self.lanes(executable.values())
        for process_id, process in executable.items():
            self.check_scope(process, process_id, None, lanes)

    # elements the engine cannot run
    def check_elements(self, process: etree._Element) -> None:
        facts = self.facts
        for element in process.iter():
            local = local_name(element)
            if not local:
                continue
            owner = self.owner_id(element)
            if local in _UNSUPPORTED:
                facts.refuse(owner, local, _UNSUPPORTED[local])
            elif local in FLOW_NODES and not _engine_parses()(local):
                facts.refuse(
                    owner,
                    local,
                    (
                        "本引擎的 BPMN 解析器不能读取此元素",
                        "the engine's BPMN parser cannot read this element",
                    ),
                )
            elif local == "subProcess" and element.get("triggeredByEvent") == "true":
                facts.refuse(
                    owner,
                    "event subProcess",
                    (
                        "不支持事件子流程，超时请用边界定时器",
                        "event sub-processes are not supported; use boundary timers",
                    ),
                )
            elif local == "scriptTask" and (element.get("scriptFormat") or "").lower() not in _SCRIPT_FORMATS:
                fmt = element.get("scriptFormat", "")
                facts.refuse(
                    owner,
                    f"scriptFormat={fmt}",
                    (
                        f"脚本只能用引擎的受限表达式语言，不能用 {fmt}",
                        f"scripts run in the engine's own language, not {fmt}",
                    ),
                )
            elif local in EVENTS:
                definitions = _event_definitions(element)
                if len(definitions) > 1:
                    facts.refuse(
                        owner,
                        f"{local} with several event definitions",
                        ("不支持多重事件", "multiple events are not supported"),
                    )
                for definition in definitions:
                    self.check_event_definition(element, local, local_name(definition))

    def check_event_definition(self, event: etree._Element, local: str, definition: str) -> None:
        hosts = _EVENT_HOSTS.get(definition)
        if hosts is None:
            return  # refused by name in check_elements, or no definition
        owner = event.get("id", "")
        parent = event.getparent()
        if definition == "timerEventDefinition" and local == "startEvent" and parent is not None:
            if parent.tag == q("process"):
                self.facts.refuse(owner, "timer startEvent", _TIMER_START)
        elif local not in hosts:
            kind = definition.removesuffix("EventDefinition")
            self.facts.refuse(
                owner,
                f"{kind} {local}",
                (f"{kind} 只能用于 {'/'.join(hosts)}", f"{kind} is only allowed on {', '.join(hosts)}"),
            )

    def check_extensions(self, process: etree._Element) -> None:
        for element in process.iter():
            reason = _BEHAVIOUR_EXTENSIONS.get(element.tag) if isinstance(element.tag, str) else None
            if reason is not None:
                self.facts.refuse(
                    self.owner_id(element),
                    f"extension {etree.QName(element).localname}",
                    (
                        f"引擎会忽略{reason[0]}，其行为将丢失",
                        f"the engine would ignore this {reason[1]} and lose its behaviour",
                    ),
                )

    def owner_id(self, element: etree._Element) -> str:
        """The id a problem inside this element is reported at: its flow node, flow, lane or process."""
        node: etree._Element | None = element
        fallback = ""
        while node is not None:
            local = local_name(node)
            if local in _OWNERS and node.get("id"):
                return str(node.get("id"))
            fallback = fallback or (node.get("id", "") if local else "")
            node = node.getparent()
        return fallback

    def lanes(self, processes: Iterable[etree._Element]) -> dict[str, str | None]:
        """Lane names by flow node, as SpiffWorkflow reads them: document-wide, the last lane wins."""
        for process in processes:
            for lane in process.iter(q("lane")):
                self.check_lane(lane)
        by_node: dict[str, str | None] = {}
        for lane in self.root.iter(q("lane")):
            for ref in lane.findall(q("flowNodeRef")):
                if ref.text:
                    by_node[ref.text.strip()] = lane.get("name")
        return by_node

    def known_department(self, lane_id: str, name: str) -> bool:
        """Whether a lane names a known department; a failing department source is one problem,
        not the end of the diagram checks."""
        if self.departments is None:
            return True
        try:
            return name in self.departments
        except Exception as exc:  # the list comes from a file an admin edits
            self.facts.add(
                lane_id,
                "internal",
                f"无法读取部门清单: {exc!r}",
                f"the department list could not be read: {exc!r}",
            )
            return True

    def check_lane(self, lane: etree._Element) -> None:
        """A lane without child lanes is a department's queue: its name is the department key."""
        facts = self.facts
        name = lane.get("name") or ""
        lane_id = lane.get("id", "")
        leaf = lane.find(q("childLaneSet")) is None
        if leaf and not name.strip():
            facts.add(
                lane_id, "lane-name", "泳道没有名称(须为部门键)", "the lane has no name (a department key)"
            )
        elif leaf and not self.known_department(lane_id, name):
            facts.add(
                lane_id,
                "lane-department",
                f"泳道名 {name!r} 不是已知部门 (processes/departments.yaml)",
                f"lane name {name!r} is not a known department (processes/departments.yaml)",
            )

    # one process or sub-process: its nodes, flows, expressions and shape
    def check_scope(
        self,
        scope: etree._Element,
        process_id: str,
        inherited_lane: str | None,
        lanes: Mapping[str, str | None],
    ) -> None:
        facts = self.facts
        nodes: dict[str, etree._Element] = {}
        flows: dict[str, etree._Element] = {}
        for child in scope:
            local = local_name(child)
            if local in FLOW_NODES:
                nodes[child.get("id", "")] = child
            elif local == "sequenceFlow":
                flows[child.get("id", "")] = child
            elif local in ("dataObject", "dataObjectReference"):
                facts.assigned.add(child.get("id", ""))
                if child.get("name"):
                    facts.assigned.add(str(child.get("name")))
        outgoing: dict[str, list[etree._Element]] = {node_id: [] for node_id in nodes}
        incoming: dict[str, list[etree._Element]] = {node_id: [] for node_id in nodes}
        for flow_id, flow in flows.items():
            source, target = flow.get("sourceRef", ""), flow.get("targetRef", "")
            missing = [ref for ref in (source, target) if ref not in nodes]
            for ref in missing:
                facts.add(
                    flow_id,
                    "flow-ref",
                    f"顺序流指向本流程中不存在的节点 {ref!r}",
                    f"the sequence flow refers to {ref!r}, which is not a node of this process",
                )
            if not missing:
                outgoing[source].append(flow)
                incoming[target].append(flow)
        for node_id, node in nodes.items():
            local = local_name(node)
            lane = inherited_lane if inherited_lane is not None else lanes.get(node_id)
            if local in HUMAN_TASKS:
                facts.human_tasks[node_id] = HumanTask(node_id, local, node.get("name", ""), lane, process_id)
                if lane is None:
                    facts.add(
                        node_id,
                        "lane-missing",
                        "用户任务不在任何泳道中(泳道即部门队列)",
                        "the user task is in no lane (a lane is a department's queue)",
                    )
            self.check_node(node, local, process_id)
            if local == "subProcess":
                self.check_scope(node, process_id, lane, lanes)
        self.check_flows(nodes, flows, outgoing)
        self.check_shape(scope, nodes, outgoing)
        self.check_parallel_timers(nodes, outgoing, incoming)

    def check_node(self, node: etree._Element, local: str, process_id: str) -> None:
        facts = self.facts
        node_id = node.get("id", "")
        if local == "scriptTask":
            script = _text(_child(node, "script"))
            vetted = vet(self.file, node_id, "script", script, facts.problems, script=True)
            if vetted is not None:
                facts.expressions.append(vetted)
                facts.assigned |= stored_names(vetted.source)
        elif local == "businessRuleTask":
            ref = decision_ref_of(node)  # read as the engine's parser reads it
            if ref:
                facts.decision_refs[node_id] = ref
            else:
                facts.add(
                    node_id,
                    "dmn-ref",
                    "业务规则任务没有指明决策表 (camunda:decisionRef 或 spiffworkflow:calledDecisionId)",
                    "the business rule task names no decision "
                    "(camunda:decisionRef or spiffworkflow:calledDecisionId)",
                )
        elif local == "callActivity":
            called = node.get("calledElement", "")
            target = facts.processes.get(called)
            if target is None or target.get("isExecutable", "true") != "true" or called == process_id:
                facts.add(
                    node_id,
                    "call-target",
                    f"调用活动须调用同一文件中另一个可执行流程，{called!r} 不是",
                    f"a call activity must call another executable process of this file; {called!r} is not",
                )
        for definition in node.iter(q("timerEventDefinition")):
            self.check_timer(node_id, definition)
        self.check_loop(node, node_id)
        for output in node.iter(q("dataOutput")):
            if output.get("name"):
                facts.assigned.add(str(output.get("name")))

    def check_timer(self, node_id: str, definition: etree._Element) -> None:
        facts = self.facts
        specs = [c for c in definition if local_name(c) in ("timeDate", "timeDuration", "timeCycle")]
        if not specs:
            facts.add(
                node_id, "timer", "定时器没有时间 (timeDate/timeDuration/timeCycle)", "the timer has no time"
            )
            return
        for spec in specs:
            kind, text = local_name(spec), (spec.text or "").strip()
            if _ISO_TIMER_TEXT.match(text):
                facts.add(
                    node_id,
                    "timer-unquoted",
                    f'定时器时间是表达式，字面值须加引号: "{text}"',
                    f'timer text is an expression; quote a literal: "{text}"',
                )
                continue
            vetted = vet(self.file, node_id, f"timer {kind}", text, facts.problems)
            if vetted is None:
                continue
            facts.expressions.append(vetted)
            literal = ast.parse(text.strip(), mode="eval").body
            if isinstance(literal, ast.Constant):
                bad = (
                    _timer_literal_problem(kind, literal.value)
                    if isinstance(literal.value, str)
                    else "not a text"
                )
                if bad is not None:
                    facts.add(
                        node_id,
                        "timer-format",
                        f"定时器 {kind} 不是有效的 ISO 8601 值 {literal.value!r}: {bad}",
                        f"timer {kind} {literal.value!r} is not valid ISO 8601: {bad}",
                    )

    def check_loop(self, node: etree._Element, node_id: str) -> None:
        facts = self.facts
        standard = _child(node, "standardLoopCharacteristics")
        if standard is not None:
            condition = _child(standard, "loopCondition")
            if condition is not None:
                self.vet_into(node_id, "loop condition", condition.text)
            elif standard.get("loopMaximum") is None:
                facts.add(
                    node_id,
                    "loop",
                    "循环须有 loopMaximum 或 loopCondition",
                    "a loop needs loopMaximum or loopCondition",
                )
        multi = _child(node, "multiInstanceLoopCharacteristics")
        if multi is None:
            return
        cardinality = _child(multi, "loopCardinality")
        input_ref = _child(multi, "loopDataInputRef")
        if (cardinality is None) == (input_ref is None):
            facts.add(
                node_id,
                "loop",
                "多实例须恰有 loopCardinality 或 loopDataInputRef 之一",
                "a multi-instance activity needs exactly one of loopCardinality and loopDataInputRef",
            )
        if cardinality is not None:
            self.vet_into(node_id, "loop cardinality", cardinality.text)
        if input_ref is not None and input_ref.text:
            facts.expressions.append(
                Expression(
                    self.file, node_id, "loop input", input_ref.text, frozenset({input_ref.text.strip()})
                )
            )
        completion = _child(multi, "completionCondition")
        if completion is not None:
            self.vet_into(node_id, "completion condition", completion.text)
        output_ref = _text(_child(multi, "loopDataOutputRef"))
        if output_ref:
            facts.assigned.add(output_ref.strip())
        for item in ("inputDataItem", "outputDataItem"):
            data_item = _child(multi, item)
            if data_item is not None:
                facts.assigned |= {v for v in (data_item.get("name"), data_item.get("id")) if v}

    def vet_into(self, node_id: str, kind: str, source: str | None) -> None:
        vetted = vet(self.file, node_id, kind, source, self.facts.problems)
        if vetted is not None:
            self.facts.expressions.append(vetted)

    def check_flows(
        self,
        nodes: Mapping[str, etree._Element],
        flows: Mapping[str, etree._Element],
        outgoing: Mapping[str, list[etree._Element]],
    ) -> None:
        facts = self.facts
        for flow_id, flow in flows.items():
            source = nodes.get(flow.get("sourceRef", ""))
            condition = _child(flow, "conditionExpression")
            if condition is None or not (condition.text or "").strip():
                continue
            if source is not None and local_name(source) not in CONDITIONAL_GATEWAYS:
                facts.add(
                    flow_id,
                    "condition-ignored",
                    f"条件顺序流的起点 {source.get('id')} 不是排他或包容网关，引擎会忽略此条件",
                    f"the flow starts at {source.get('id')}, not an exclusive or inclusive gateway: "
                    "the engine ignores its condition",
                )
                continue
            self.vet_into(flow_id, "condition", condition.text)
        for node_id, node in nodes.items():
            local = local_name(node)
            out = outgoing.get(node_id, [])
            if len(out) > 1 and local not in MULTI_OUTGOING:
                facts.add(
                    node_id,
                    "implicit-split",
                    f"{local} 有 {len(out)} 条出口顺序流；请用网关分支",
                    f"{local} has {len(out)} outgoing flows; split with a gateway",
                )
            if local not in CONDITIONAL_GATEWAYS:
                continue
            default = node.get("default")
            out_ids = [f.get("id", "") for f in out]
            if default and default not in out_ids:
                facts.add(
                    node_id,
                    "gateway-default",
                    f"默认顺序流 {default!r} 不是此网关的出口",
                    f"the default flow {default!r} is not an outgoing flow of this gateway",
                )
            for flow in out:
                has_condition = bool((_text(_child(flow, "conditionExpression")) or "").strip())
                if flow.get("id") == default and has_condition:
                    facts.add(
                        node_id,
                        "gateway-default",
                        f"默认顺序流 {default} 不能带条件",
                        f"the default flow {default} must not carry a condition",
                    )
            if len(out) < 2:
                continue
            bare = [
                f.get("id", "")
                for f in out
                if f.get("id") != default and not (_text(_child(f, "conditionExpression")) or "").strip()
            ]
            if bare and not default:
                facts.add(
                    node_id,
                    "gateway-no-default",
                    f"网关有 {len(out)} 条出口，但没有默认顺序流，且 {', '.join(bare)} 没有条件",
                    f"the gateway has {len(out)} outgoing flows, no default flow, "
                    f"and no condition on {', '.join(bare)}",
                )
            elif bare:
                facts.add(
                    node_id,
                    "gateway-no-default",
                    f"除默认顺序流外，出口 {', '.join(bare)} 没有条件",
                    f"besides the default flow, {', '.join(bare)} carry no condition",
                )

    def check_shape(
        self,
        scope: etree._Element,
        nodes: Mapping[str, etree._Element],
        outgoing: Mapping[str, list[etree._Element]],
    ) -> None:
        facts = self.facts
        scope_id = scope.get("id", "")
        kind = local_name(scope)
        starts = [n for n, el in nodes.items() if local_name(el) == "startEvent"]
        ends = [n for n, el in nodes.items() if local_name(el) == "endEvent"]
        if kind in ("process", "subProcess") and not (
            kind == "process" and scope.get("isExecutable", "true") != "true"
        ):
            if not starts:
                facts.add(scope_id, "no-start", f"{kind} 没有开始事件", f"the {kind} has no start event")
            elif kind == "subProcess" and len(starts) > 1:
                facts.add(
                    scope_id,
                    "no-start",
                    "子流程须恰有一个开始事件",
                    "a sub-process needs exactly one start event",
                )
            if not ends:
                facts.add(scope_id, "no-end", f"{kind} 没有结束事件", f"the {kind} has no end event")
        for node_id, node in nodes.items():
            if local_name(node) != "endEvent" and not outgoing.get(node_id):
                facts.add(
                    node_id,
                    "dead-end",
                    "死路：此节点没有出口顺序流，也不是结束事件",
                    "dead end: the node has no outgoing flow and is not an end event",
                )
        boundaries = _boundaries(nodes)
        for attached, events in boundaries.items():
            host = nodes.get(attached)
            if host is None or local_name(host) not in ACTIVITIES:
                for event in events:
                    facts.add(
                        event,
                        "boundary-ref",
                        f"边界事件附着的 {attached!r} 不是本流程中的活动",
                        f"the boundary event is attached to {attached!r}, which is not an activity here",
                    )
        roots = [n for n, el in nodes.items() if local_name(el) == "startEvent"]
        roots += [n for n, el in nodes.items() if el.get("triggeredByEvent") == "true"]
        reached = _reach(roots, nodes, outgoing, boundaries)
        for node_id in nodes:
            if node_id not in reached:
                facts.add(
                    node_id,
                    "unreachable",
                    "不可达：从开始事件无法到达此节点",
                    "unreachable: no path from a start event leads here",
                )

    def check_parallel_timers(
        self,
        nodes: Mapping[str, etree._Element],
        outgoing: Mapping[str, list[etree._Element]],
        incoming: Mapping[str, list[etree._Element]],
    ) -> None:
        """SpiffWorkflow waits forever at a parallel join when a boundary timer took a branch's token away.

        A boundary path must rejoin its own branch before the join: if it ends, or reaches
        the join through another incoming flow, the join waits for a token that never comes.
        """
        facts = self.facts
        joins = [n for n, el in nodes.items() if local_name(el) == "parallelGateway" and len(incoming[n]) > 1]
        boundaries = _boundaries(nodes)
        for join in joins:
            all_in = {f.get("id", "") for f in incoming[join]}
            for host, events in boundaries.items():
                if host not in nodes:
                    continue
                branch, _ = _flows_into(host, join, nodes, outgoing)
                if not branch or branch == all_in:
                    continue
                for event_id in events:
                    event = nodes[event_id]
                    interrupting = event.get("cancelActivity", "true") != "false"
                    other, escapes = _flows_into(event_id, join, nodes, outgoing)
                    stray = other - branch
                    if stray or (interrupting and (escapes or not other)):
                        what = "中断式" if interrupting else "非中断式"
                        what_en = "interrupting" if interrupting else "non-interrupting"
                        facts.add(
                            event_id,
                            "parallel-deadlock",
                            f"{what}边界事件 {event_id} 使并行分支中的 {host} 的令牌离开分支，"
                            f"并行汇聚 {join} 将永远等待；请让边界路径在汇聚前回到同一分支",
                            f"the {what_en} boundary event takes the token of {host} out of its parallel "
                            f"branch, so the parallel join {join} waits forever (SpiffWorkflow reports no "
                            "deadlock); rejoin the branch before the join",
                        )


def _boundaries(nodes: Mapping[str, etree._Element]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        if local_name(node) == "boundaryEvent":
            found.setdefault(node.get("attachedToRef", ""), []).append(node_id)
    return found


def _reach(
    roots: Iterable[str],
    nodes: Mapping[str, etree._Element],
    outgoing: Mapping[str, list[etree._Element]],
    boundaries: Mapping[str, list[str]],
) -> set[str]:
    seen: set[str] = set()
    queue = deque(roots)
    while queue:
        node_id = queue.popleft()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        queue.extend(f.get("targetRef", "") for f in outgoing.get(node_id, []))
        queue.extend(boundaries.get(node_id, []))
    return seen


def _flows_into(
    start: str, join: str, nodes: Mapping[str, etree._Element], outgoing: Mapping[str, list[etree._Element]]
) -> tuple[set[str], bool]:
    """The join's incoming flows reachable from ``start`` along normal flow, and whether a path ends first."""
    into: set[str] = set()
    escapes = False
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        node_id = queue.popleft()
        if node_id in seen:
            continue
        seen.add(node_id)
        flows = outgoing.get(node_id, [])
        if not flows and node_id in nodes:
            escapes = True
        for flow in flows:
            target = flow.get("targetRef", "")
            if target == join:
                into.add(flow.get("id", ""))
            else:
                queue.append(target)
    return into, escapes


def check_diagram(
    root: etree._Element, file: str, departments: Collection[str] | None = None
) -> DiagramFacts:
    """Every manifest-free check of a parsed BPMN document; ``departments`` adds the lane-name check."""
    facts = DiagramFacts(file)
    if root.tag != q("definitions"):
        facts.add(
            "",
            "bpmn-root",
            f"不是 BPMN 2.0 文件：根元素是 {root.tag}，应为 {BPMN_NS} 中的 definitions",
            f"not a BPMN 2.0 file: the root is {root.tag} (expected definitions in {BPMN_NS})",
        )
        return facts
    facts.problems.extend(schema_problems(root, file, BPMN_XSD))
    _DiagramChecker(root, facts, departments).run()
    return facts


# --- DMN -------------------------------------------------------------------------------

_HIT_POLICIES = frozenset({"UNIQUE", "FIRST", "ANY", "COLLECT"})


def dmn_namespace(root: etree._Element) -> str | None:
    """The DMN namespace of a document, if it is a DMN ``definitions`` root SpiffWorkflow reads."""
    name = etree.QName(root)
    return name.namespace if name.localname == "definitions" and name.namespace in DMN_SCHEMAS else None


def _dmn_children(element: etree._Element, ns: str, local: str) -> Iterator[etree._Element]:
    return iter(element.findall(f"{{{ns}}}{local}"))


def check_dmn(root: etree._Element, file: str) -> DmnFacts:
    """The checks of one DMN document: schema, one decision table, hit policy, every cell vetted."""
    facts = DmnFacts(file)
    ns = dmn_namespace(root)
    if ns is None:
        facts.problems.append(
            problem(
                file,
                "",
                "dmn-root",
                f"不是 SpiffWorkflow 可读的 DMN 文件 (根元素 {root.tag})",
                f"not a DMN file SpiffWorkflow reads (root {root.tag}; namespaces {', '.join(DMN_SCHEMAS)})",
            )
        )
        return facts
    facts.problems.extend(schema_problems(root, file, Path(DMN_SCHEMAS[ns])))
    decisions = list(root.iter(f"{{{ns}}}decision"))
    if len(decisions) != 1:
        facts.problems.append(
            problem(
                file,
                "",
                "dmn-decisions",
                f"每个 DMN 文件须恰有一个决策 (现有 {len(decisions)} 个)",
                f"each DMN file must hold exactly one decision ({len(decisions)} found)",
            )
        )
    for decision in decisions:
        decision_id = decision.get("id", "")
        tables = list(_dmn_children(decision, ns, "decisionTable"))
        if len(tables) != 1:
            facts.problems.append(
                problem(
                    file,
                    decision_id,
                    "dmn-decisions",
                    "决策须恰有一个决策表",
                    "a decision needs one decision table",
                )
            )
        outputs: list[str] = []
        for table in tables:
            _check_table(facts, ns, table, outputs)
        facts.outputs[decision_id] = tuple(outputs)
    return facts


def _check_table(facts: DmnFacts, ns: str, table: etree._Element, outputs: list[str]) -> None:
    file, table_id = facts.file, table.get("id", "")
    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    if policy not in _HIT_POLICIES or table.get("aggregation"):
        what = policy + (f" {table.get('aggregation')}" if table.get("aggregation") else "")
        facts.unsupported.append(f"{table_id} (hitPolicy {what})")
        facts.problems.append(
            problem(
                file,
                table_id,
                "bpmn-unsupported",
                f"不支持命中策略 {what} (支持 UNIQUE、FIRST、ANY、COLLECT 不聚合)",
                f"hit policy {what} is not supported (UNIQUE, FIRST, ANY, COLLECT without aggregation)",
            )
        )
    inputs: list[str | None] = []
    for element in _dmn_children(table, ns, "input"):
        text = _text(element.find(f"{{{ns}}}inputExpression/{{{ns}}}text"))
        inputs.append(text)
        vetted = vet(file, element.get("id", ""), "DMN input", text, facts.problems)
        if vetted is not None:
            facts.expressions.append(vetted)
    for element in _dmn_children(table, ns, "output"):
        name = element.get("name") or ""
        if not name.isidentifier():
            facts.problems.append(
                problem(
                    file,
                    element.get("id", ""),
                    "dmn-output",
                    f"输出名 {name!r} 须是变量名(结果存为流程数据)",
                    f"output name {name!r} must be a variable name (results become case data)",
                )
            )
        outputs.append(name)
    for rule in _dmn_children(table, ns, "rule"):
        entries = list(_dmn_children(rule, ns, "inputEntry"))
        if len(entries) != len(inputs) or len(list(_dmn_children(rule, ns, "outputEntry"))) != len(outputs):
            facts.problems.append(
                problem(
                    file,
                    rule.get("id", ""),
                    "dmn-rule",
                    "规则的列数与表头不一致",
                    "the rule's cells do not match the columns",
                )
            )
        for entry, input_text in zip(entries, inputs, strict=False):
            _check_input_entry(facts, entry, _text(entry.find(f"{{{ns}}}text")), input_text or "")
        for entry in _dmn_children(rule, ns, "outputEntry"):
            text = _text(entry.find(f"{{{ns}}}text"))
            if text and text.strip():
                vetted = vet(file, entry.get("id", ""), "DMN output", text, facts.problems)
                if vetted is not None:
                    facts.expressions.append(vetted)


def _check_input_entry(facts: DmnFacts, entry: etree._Element, text: str | None, input_text: str) -> None:
    """Vet an input cell as SpiffWorkflow's DMN engine turns it into an expression.

    A ``?`` outside quotes stands for the input value; a cell that is an expression by
    itself is compared with ``==``; otherwise (``> 5``) the cell is appended to the input
    expression as written, without a space (``DMNEngine.evaluate``).
    """
    if text is None or not text.strip() or text.strip() == "-":
        return
    entry_id = entry.get("id", "")
    replaced = re.sub(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)", DMN_INPUT_NAME, text)
    if DMN_INPUT_NAME in replaced:
        source = replaced
    else:
        try:
            check_expression(text)
            source = f"({input_text}) == ({text})"
        except ExpressionRefused as exc:
            if not isinstance(exc.__cause__, SyntaxError):
                vet(facts.file, entry_id, "DMN rule", text, facts.problems)
                return
            source = input_text + text
            if re.match(r"(not\s+in|in|is)\b", text) and not input_text[-1:].isspace():
                facts.problems.append(
                    problem(
                        facts.file,
                        entry_id,
                        "dmn-cell",
                        f"SpiffWorkflow 把输入与单元格直接相连 ({source!r})；"
                        f"请在 {text.split()[0]!r} 前加空格",
                        f"SpiffWorkflow joins the input and the cell without a space ({source!r}); "
                        f"put a space before {text.split()[0]!r}",
                    )
                )
                return
    vetted = vet(facts.file, entry_id, "DMN rule", source, facts.problems)
    if vetted is not None:
        facts.expressions.append(
            Expression(
                vetted.file, vetted.element, vetted.kind, vetted.source, vetted.reads - {DMN_INPUT_NAME}
            )
        )
