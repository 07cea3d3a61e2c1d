"""The entry point of the diagram checks: every check of a parsed BPMN document that needs no manifest.

The order is the order problems are reported in: the root, the XSD, the processes, the
elements the engine cannot run and the messages' references (``elements``), the lanes
(``lanes``), then each executable process scope by scope: its nodes (``activities``), flows
and gateways (``gateways``) and shape (``shape``), sub-processes inside their parent.

May import: ``engine.bpmn.checks`` (its modules), ``engine.bpmn.definitions``, lxml.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from lxml import etree

from engine.bpmn.checks.activities import check_node
from engine.bpmn.checks.elements import check_elements, check_extensions, check_messages, refuse_top_level
from engine.bpmn.checks.facts import FLOW_NODES, DiagramFacts, local_name, q
from engine.bpmn.checks.gateways import check_flows
from engine.bpmn.checks.lanes import lanes_by_node, record_human_task
from engine.bpmn.checks.schema import BPMN_XSD, schema_problems
from engine.bpmn.checks.shape import check_parallel_timers, check_shape
from engine.bpmn.definitions import BPMN_NS


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
    _check_processes(root, facts, departments)
    return facts


def _check_processes(root: etree._Element, facts: DiagramFacts, departments: Collection[str] | None) -> None:
    """The processes of the document.

    Only executable processes run; others (an applicant's pool, say) only document.
    """
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("id") and local_name(element):
            facts.tags.setdefault(element.get("id", ""), local_name(element))
    for process in root.findall(q("process")):
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
    refuse_top_level(facts, root)
    executable = {pid: facts.processes[pid] for pid in facts.executable}
    for process in executable.values():
        check_elements(facts, process)
        check_extensions(facts, process)
        check_messages(facts, root, process)
    lanes = lanes_by_node(facts, root, executable.values(), departments)
    for process_id, process in executable.items():
        _check_scope(facts, process, process_id, None, lanes)


def _check_scope(
    facts: DiagramFacts,
    scope: etree._Element,
    process_id: str,
    inherited_lane: str | None,
    lanes: Mapping[str, str | None],
) -> None:
    """One process or sub-process: its nodes, flows, expressions and shape."""
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
        record_human_task(facts, node, local, lane, process_id)
        check_node(facts, node, local, process_id)
        if local == "subProcess":
            _check_scope(facts, node, process_id, lane, lanes)
    check_flows(facts, nodes, flows, outgoing)
    check_shape(facts, scope, nodes, outgoing)
    check_parallel_timers(facts, nodes, outgoing, incoming)
