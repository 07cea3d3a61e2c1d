"""Lanes as department queues: each human task in a lane, each lane named by a department key.

A lane without child lanes is a department's queue, so its name must be a key of
``processes/departments.yaml``; a user or manual task is that department's work item, so
it must sit in a lane (directly or through its sub-process). Service and receive tasks are
noted with their lanes too: when an item binds one (``handled_by: system``) the manifest
checks want it in that item's department lane, as for a user task.

May import: ``engine.bpmn.checks.facts``, lxml.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from lxml import etree

from engine.bpmn.checks.facts import CAMUNDA_TOPIC, HUMAN_TASKS, DiagramFacts, HumanTask, SystemTask, q


def lanes_by_node(
    facts: DiagramFacts,
    root: etree._Element,
    processes: Iterable[etree._Element],
    departments: Collection[str] | None,
) -> dict[str, str | None]:
    """Lane names by flow node, as SpiffWorkflow reads them: document-wide, the last lane wins.

    The lanes of the executable processes are checked on the way.
    """
    for process in processes:
        for lane in process.iter(q("lane")):
            _check_lane(facts, lane, departments)
    by_node: dict[str, str | None] = {}
    for lane in root.iter(q("lane")):
        for ref in lane.findall(q("flowNodeRef")):
            if ref.text:
                by_node[ref.text.strip()] = lane.get("name")
    return by_node


def _known_department(
    facts: DiagramFacts, lane_id: str, name: str, departments: Collection[str] | None
) -> bool:
    """Whether a lane names a known department; a failing department source is one problem,
    not the end of the diagram checks."""
    if departments is None:
        return True
    try:
        return name in departments
    except Exception as exc:  # the list comes from a file an admin edits
        facts.add(
            lane_id,
            "internal",
            f"无法读取部门清单: {exc!r}",
            f"the department list could not be read: {exc!r}",
        )
        return True


def _check_lane(facts: DiagramFacts, lane: etree._Element, departments: Collection[str] | None) -> None:
    """A lane without child lanes is a department's queue: its name is the department key."""
    name = lane.get("name") or ""
    lane_id = lane.get("id", "")
    leaf = lane.find(q("childLaneSet")) is None
    if leaf and not name.strip():
        facts.add(lane_id, "lane-name", "泳道没有名称(须为部门键)", "the lane has no name (a department key)")
    elif leaf and not _known_department(facts, lane_id, name, departments):
        facts.add(
            lane_id,
            "lane-department",
            f"泳道名 {name!r} 不是已知部门 (processes/departments.yaml)",
            f"lane name {name!r} is not a known department (processes/departments.yaml)",
        )


def record_human_task(
    facts: DiagramFacts, node: etree._Element, local: str, lane: str | None, process_id: str
) -> None:
    """Note a user or manual task with its lane (the manifest binds it to an item).

    A human task in no lane is a problem: no department's queue would show it. A service
    or receive task is noted with its lane (``record_system_task``).
    """
    if local in ("serviceTask", "receiveTask"):
        record_system_task(facts, node, local, lane, process_id)
    if local not in HUMAN_TASKS:
        return
    node_id = node.get("id", "")
    facts.human_tasks[node_id] = HumanTask(node_id, local, node.get("name", ""), lane, process_id)
    if lane is None:
        facts.add(
            node_id,
            "lane-missing",
            "用户任务不在任何泳道中(泳道即部门队列)",
            "the user task is in no lane (a lane is a department's queue)",
        )


def record_system_task(
    facts: DiagramFacts, node: etree._Element, local: str, lane: str | None, process_id: str
) -> None:
    """Note a service or receive task with its lane (an item may bind it with ``handled_by: system``)."""
    node_id = node.get("id", "")
    topic = (node.get(CAMUNDA_TOPIC) or "").strip() or None
    plain = node_id in facts.plain_service_tasks
    facts.system_tasks[node_id] = SystemTask(
        node_id, local, node.get("name", ""), lane, process_id, topic, plain
    )
