"""The shape of one process or sub-process as a graph: start and end, dead ends, reachability,
boundary events, and parallel joins a boundary event would leave waiting forever (unless its
path terminates the case).

May import: ``engine.bpmn.checks.facts``, lxml.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from lxml import etree

from engine.bpmn.checks.facts import ACTIVITIES, DiagramFacts, local_name


def check_shape(
    facts: DiagramFacts,
    scope: etree._Element,
    nodes: Mapping[str, etree._Element],
    outgoing: Mapping[str, list[etree._Element]],
) -> None:
    """Start and end events, dead ends, boundary events on activities, and nodes no start reaches."""
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
    facts: DiagramFacts,
    nodes: Mapping[str, etree._Element],
    outgoing: Mapping[str, list[etree._Element]],
    incoming: Mapping[str, list[etree._Element]],
) -> None:
    """SpiffWorkflow waits forever at a parallel join when a boundary timer took a branch's token away.

    A boundary path must rejoin its own branch before the join: if it ends, or reaches
    the join through another incoming flow, the join waits for a token that never comes.
    """
    joins = [n for n, el in nodes.items() if local_name(el) == "parallelGateway" and len(incoming[n]) > 1]
    boundaries = _boundaries(nodes)
    for join in joins:
        all_in = {f.get("id", "") for f in incoming[join]}
        for host, events in boundaries.items():
            if host not in nodes:
                continue
            branch, _, _ = _flows_into(host, join, nodes, outgoing)
            if not branch or branch == all_in:
                continue
            for event_id in events:
                event = nodes[event_id]
                interrupting = event.get("cancelActivity", "true") != "false"
                other, escapes, terminates = _flows_into(event_id, join, nodes, outgoing)
                stray = other - branch
                if stray or (interrupting and (escapes or not (other or terminates))):
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
) -> tuple[set[str], bool, bool]:
    """The join's incoming flows reachable from ``start`` along normal flow, whether a path ends
    first, and whether one terminates the case (a terminate end: then nothing waits at the join)."""
    into: set[str] = set()
    escapes = terminates = False
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        node_id = queue.popleft()
        if node_id in seen:
            continue
        seen.add(node_id)
        flows = outgoing.get(node_id, [])
        if not flows and node_id in nodes:
            if _terminates(nodes[node_id]):
                terminates = True
            else:
                escapes = True
        for flow in flows:
            target = flow.get("targetRef", "")
            if target == join:
                into.add(flow.get("id", ""))
            else:
                queue.append(target)
    return into, escapes, terminates


def _terminates(node: etree._Element) -> bool:
    """Whether a node is an end event that terminates the process (``terminateEventDefinition``)."""
    return local_name(node) == "endEvent" and any(local_name(c) == "terminateEventDefinition" for c in node)
