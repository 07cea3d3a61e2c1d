"""The elements the engine runs and those it refuses, each refusal with its reason.

Refused (see ``_UNSUPPORTED``): service calls, anything that needs message or signal
routing between processes, escalation, compensation, cancel, conditional and link events,
complex gateways, transactions, ad-hoc and event sub-processes, data stores, imports, a
timer on the process's start (a case starts when the applicant applies), script languages
other than the engine's own, elements the engine's own SpiffWorkflow parser cannot read,
and vendor extensions that carry behaviour the engine would silently skip (listeners,
pre/post scripts, input/output mappings). Each refusal is a problem and a name in the
report's ``unsupported`` list.

May import: ``engine.bpmn.checks.facts``, ``engine.bpmn.definitions``, lxml.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache

from lxml import etree

from engine.bpmn.checks.facts import EVENTS, FLOW_NODES, DiagramFacts, local_name, q
from engine.bpmn.definitions import CAMUNDA_NS, SPIFF_NS, build_parser

ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
_OWNERS = FLOW_NODES | {"process", "sequenceFlow", "lane", "dataStoreReference", "dataObject"}

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


def _event_definitions(node: etree._Element) -> list[etree._Element]:
    return [c for c in node if local_name(c).endswith("EventDefinition")]


@lru_cache(maxsize=1)
def _engine_parses() -> Callable[[str], bool]:
    """Whether the engine's own SpiffWorkflow parser has a parser for a BPMN tag."""
    parser = build_parser(etree.Element(q("definitions")), "probe.bpmn", {})
    return lambda local: parser._get_parser_class(q(local))[0] is not None


def refuse_top_level(facts: DiagramFacts, root: etree._Element) -> None:
    """Refuse the unsupported elements beside the processes (imports, messages, signals ...)."""
    for element in root:
        if local_name(element) in _UNSUPPORTED:
            facts.refuse(
                element.get("id", "") or local_name(element),
                local_name(element),
                _UNSUPPORTED[local_name(element)],
            )


def check_elements(facts: DiagramFacts, process: etree._Element) -> None:
    """Refuse every element of an executable process the engine cannot run."""
    for element in process.iter():
        local = local_name(element)
        if not local:
            continue
        owner = _owner_id(element)
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
                _check_event_definition(facts, element, local, local_name(definition))


def _check_event_definition(facts: DiagramFacts, event: etree._Element, local: str, definition: str) -> None:
    hosts = _EVENT_HOSTS.get(definition)
    if hosts is None:
        return  # refused by name in check_elements, or no definition
    owner = event.get("id", "")
    parent = event.getparent()
    if definition == "timerEventDefinition" and local == "startEvent" and parent is not None:
        if parent.tag == q("process"):
            facts.refuse(owner, "timer startEvent", _TIMER_START)
    elif local not in hosts:
        kind = definition.removesuffix("EventDefinition")
        facts.refuse(
            owner,
            f"{kind} {local}",
            (f"{kind} 只能用于 {'/'.join(hosts)}", f"{kind} is only allowed on {', '.join(hosts)}"),
        )


def check_extensions(facts: DiagramFacts, process: etree._Element) -> None:
    """Refuse the vendor extensions whose behaviour the engine would skip."""
    for element in process.iter():
        reason = _BEHAVIOUR_EXTENSIONS.get(element.tag) if isinstance(element.tag, str) else None
        if reason is not None:
            facts.refuse(
                _owner_id(element),
                f"extension {etree.QName(element).localname}",
                (
                    f"引擎会忽略{reason[0]}，其行为将丢失",
                    f"the engine would ignore this {reason[1]} and lose its behaviour",
                ),
            )


def _owner_id(element: etree._Element) -> str:
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
