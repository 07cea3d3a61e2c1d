"""The elements the engine runs and those it refuses, each refusal with its reason.

Run: service tasks as external tasks a department's own system fetches and completes
(``camunda:type="external"`` with a ``camunda:topic``, or a plain service task that a
``handled_by: system`` item binds: the manifest checks see to that), send and receive
tasks, and message events on start, intermediate catch/throw, boundary and end events;
each message element must name a ``bpmn:message`` that has a name (the name is what a
department system correlates by).

Refused (see ``_UNSUPPORTED``): service tasks the engine would have to call itself
(``camunda:class``, ``expression``, ``delegateExpression``, a connector, any other
``camunda:type``), signals, BPMN correlation properties (messages are correlated by the
case's code, as Camunda 7's REST API does), escalation, compensation, cancel, conditional
and link events, complex gateways, transactions, ad-hoc and event sub-processes, data
stores, imports, a timer on the process's start (a case starts when the applicant
applies), a message start inside a sub-process, script languages other than the engine's
own, elements the engine's own SpiffWorkflow parser cannot read, and vendor extensions
that carry behaviour the engine would silently skip (listeners, pre/post scripts,
input/output mappings). Each refusal is a problem and a name in the report's
``unsupported`` list.

May import: ``engine.bpmn.checks.facts``, ``engine.bpmn.definitions``, lxml.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache

from lxml import etree

from engine.bpmn.checks.facts import EVENTS, FLOW_NODES, DiagramFacts, local_name, q
from engine.bpmn.definitions import CAMUNDA_NS, SPIFF_NS, build_parser, task_priority

ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
_OWNERS = FLOW_NODES | {"process", "sequenceFlow", "lane", "dataStoreReference", "dataObject"}

_CORRELATION = (
    "消息按办件编码(业务键)关联，不支持 BPMN 关联属性",
    "messages are correlated by the case's code (business key), not by BPMN correlation properties",
)
_UNSUPPORTED: Mapping[str, tuple[str, str]] = {
    "correlationProperty": _CORRELATION,
    "correlationSubscription": _CORRELATION,
    "complexGateway": ("SpiffWorkflow 不支持复杂网关", "complex gateways are not supported by SpiffWorkflow"),
    "transaction": (
        "不支持事务子流程(需要补偿与取消事件)",
        "transactions need compensation and cancel events",
    ),
    "adHocSubProcess": (
        "不支持自由子流程(无法分派到部门队列)",
        "ad-hoc sub-processes cannot be routed to queues",
    ),
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
    "messageEventDefinition": (
        "startEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "endEvent",
    ),
}
_MESSAGE_START_INSIDE = (
    "消息开始事件只能在流程顶层(子流程由其父流程启动)",
    "a message start event belongs to the top-level process (a sub-process starts with its parent)",
)
# Ways a service task would make the engine itself call something (Camunda's Java delegates, connectors).
_SERVICE_CALLS: Mapping[str, str] = {
    f"{{{CAMUNDA_NS}}}class": "camunda:class",
    f"{{{CAMUNDA_NS}}}expression": "camunda:expression",
    f"{{{CAMUNDA_NS}}}delegateExpression": "camunda:delegateExpression",
}
_SERVICE_CALL_REASON = (
    '引擎不调用服务；请改为外部任务 (camunda:type="external" 与 camunda:topic，'
    "或由 handled_by: system 的事项绑定)，由部门系统领取办理",
    'the engine calls no service itself; make it an external task (camunda:type="external" '
    "with camunda:topic, or bind it by an item with handled_by: system) for the department's system",
)
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
        elif local == "serviceTask":
            _check_service_task(facts, element)
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
    elif definition == "messageEventDefinition" and local == "startEvent" and parent is not None:
        if parent.tag != q("process"):
            facts.refuse(owner, "message startEvent in a subProcess", _MESSAGE_START_INSIDE)
    elif local not in hosts:
        kind = definition.removesuffix("EventDefinition")
        facts.refuse(
            owner,
            f"{kind} {local}",
            (f"{kind} 只能用于 {'/'.join(hosts)}", f"{kind} is only allowed on {', '.join(hosts)}"),
        )


def _check_service_task(facts: DiagramFacts, task: etree._Element) -> None:
    """A service task runs only as an external task: refuse every way of calling a service itself.

    ``camunda:type="external"`` needs a topic; a service task without ``camunda:type`` is
    noted as plain: the manifest checks want a ``handled_by: system`` item binding it.
    """
    owner = task.get("id", "")
    calls = [name for attribute, name in _SERVICE_CALLS.items() if task.get(attribute) is not None]
    kind = task.get(f"{{{CAMUNDA_NS}}}type")
    if kind is not None and kind != "external":
        calls.append(f'camunda:type="{kind}"')
    for call in calls:
        facts.refuse(owner, f"serviceTask {call}", _SERVICE_CALL_REASON)
    if calls:
        return
    if task_priority(task) is None:
        facts.add(
            owner,
            "service-priority",
            "camunda:taskPriority 须为整数",
            "camunda:taskPriority must be an integer",
        )
    if kind == "external" and not (task.get(f"{{{CAMUNDA_NS}}}topic") or "").strip():
        facts.add(
            owner,
            "service-topic",
            '外部任务 (camunda:type="external") 须有 camunda:topic，部门系统按主题领取任务',
            'an external task (camunda:type="external") needs a camunda:topic: '
            "department systems fetch tasks by topic",
        )
    elif kind is None:
        facts.plain_service_tasks.add(owner)


def check_messages(facts: DiagramFacts, root: etree._Element, process: etree._Element) -> None:
    """Every message element names a ``bpmn:message`` of the document, and that message has a name."""
    messages = {m.get("id", ""): (m.get("name") or "").strip() for m in root.findall(q("message"))}
    for element in process.iter():
        local = local_name(element)
        if local in ("sendTask", "receiveTask"):
            inner = element.find(q("messageEventDefinition"))
            ref = element.get("messageRef") or (inner.get("messageRef") if inner is not None else None)
            owner = element.get("id", "")
        elif local == "messageEventDefinition" and local_name(element.getparent()) in EVENTS:
            ref = element.get("messageRef")
            owner = _owner_id(element)
        else:
            continue
        if not ref:
            facts.add(
                owner,
                "message-ref",
                f"{local} 没有指明消息 (messageRef)，部门系统无从按消息名关联",
                f"the {local} names no message (messageRef): systems correlate by the message's name",
            )
        elif ref not in messages:
            facts.add(
                owner,
                "message-ref",
                f"messageRef {ref!r} 不是本文件中的 bpmn:message",
                f"messageRef {ref!r} is not a bpmn:message of this file",
            )
        elif not messages[ref]:
            facts.add(
                owner,
                "message-name",
                f"消息 {ref!r} 没有名称 (name)，部门系统按名称关联消息",
                f"the message {ref!r} has no name: systems correlate messages by name",
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
