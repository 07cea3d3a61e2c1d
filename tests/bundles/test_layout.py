"""Every shipped diagram can be read by a person: each node drawn once, inside its lane, no
two shapes on top of each other, and every sequence flow drawn from its source to its target."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.bundles.shipped import NS, bundle_keys, diagram

FLOW_NODES = {
    "startEvent",
    "endEvent",
    "userTask",
    "businessRuleTask",
    "serviceTask",
    "scriptTask",
    "manualTask",
    "task",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "subProcess",
    "callActivity",
}

Box = tuple[float, float, float, float]


def _bounds(root: etree._Element) -> dict[str, Box]:
    shapes: dict[str, Box] = {}
    for shape in root.iter(f"{{{NS['bpmndi']}}}BPMNShape"):
        b = shape.find("dc:Bounds", NS)
        assert b is not None, shape.get("id")
        box = (
            float(b.get("x", "0")),
            float(b.get("y", "0")),
            float(b.get("width", "0")),
            float(b.get("height", "0")),
        )
        element = shape.get("bpmnElement", "")
        assert element not in shapes, f"{element} is drawn twice"
        shapes[element] = box
    return shapes


def _flow_nodes(root: etree._Element) -> list[str]:
    return [
        e.get("id", "")
        for e in root.iter()
        if isinstance(e.tag, str)
        and e.tag.startswith(f"{{{NS['bpmn']}}}")
        and etree.QName(e).localname in FLOW_NODES
    ]


def _overlap(a: Box, b: Box) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _touches(point: tuple[float, float], box: Box, slack: float = 1.0) -> bool:
    x, y = point
    bx, by, bw, bh = box
    return bx - slack <= x <= bx + bw + slack and by - slack <= y <= by + bh + slack


@pytest.mark.parametrize("key", bundle_keys())
def test_every_flow_node_has_a_shape_and_no_two_shapes_overlap(key: str) -> None:
    root = diagram(key).getroot()
    shapes = _bounds(root)
    nodes = _flow_nodes(root)
    assert [n for n in nodes if n not in shapes] == []
    overlapping = [
        (a, b) for i, a in enumerate(nodes) for b in nodes[i + 1 :] if _overlap(shapes[a], shapes[b])
    ]
    assert overlapping == []


@pytest.mark.parametrize("key", bundle_keys())
def test_every_node_is_drawn_inside_its_lane(key: str) -> None:
    root = diagram(key).getroot()
    shapes = _bounds(root)
    outside = []
    for lane in root.iter(f"{{{NS['bpmn']}}}lane"):
        lx, ly, lw, lh = shapes[lane.get("id", "")]
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            x, y, w, h = shapes[ref.text or ""]
            if not (lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh):
                outside.append(ref.text)
    assert outside == []
    lanes = [shapes[lane.get("id", "")] for lane in root.iter(f"{{{NS['bpmn']}}}lane")]
    assert [(a, b) for i, a in enumerate(lanes) for b in lanes[i + 1 :] if _overlap(a, b)] == []


@pytest.mark.parametrize("key", bundle_keys())
def test_every_sequence_flow_is_drawn_from_its_source_to_its_target(key: str) -> None:
    root = diagram(key).getroot()
    shapes = _bounds(root)
    flows = {
        f.get("id", ""): (f.get("sourceRef", ""), f.get("targetRef", ""))
        for f in root.iter(f"{{{NS['bpmn']}}}sequenceFlow")
    }
    edges: dict[str, list[tuple[float, float]]] = {}
    for edge in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge"):
        points = [(float(w.get("x", "0")), float(w.get("y", "0"))) for w in edge.findall("di:waypoint", NS)]
        edges[edge.get("bpmnElement", "")] = points
    assert sorted(set(flows) - set(edges)) == []
    for flow, (source, target) in flows.items():
        points = edges[flow]
        assert len(points) >= 2, flow
        assert _touches(points[0], shapes[source]), f"{flow} does not start at {source}"
        assert _touches(points[-1], shapes[target]), f"{flow} does not end at {target}"


@pytest.mark.parametrize("key", bundle_keys())
def test_no_label_lies_on_a_shape_or_on_another_label(key: str) -> None:
    root = diagram(key).getroot()
    containers = {e.get("id", "") for e in root.iter(f"{{{NS['bpmn']}}}lane", f"{{{NS['bpmn']}}}participant")}
    shapes = {element: box for element, box in _bounds(root).items() if element not in containers}
    labels: dict[str, Box] = {}
    for drawn in root.iter(f"{{{NS['bpmndi']}}}BPMNShape", f"{{{NS['bpmndi']}}}BPMNEdge"):
        b = drawn.find("bpmndi:BPMNLabel/dc:Bounds", NS)
        if b is not None:
            labels[drawn.get("bpmnElement", "")] = (
                float(b.get("x", "0")),
                float(b.get("y", "0")),
                float(b.get("width", "0")),
                float(b.get("height", "0")),
            )
    on_shapes = [
        (label, s)
        for label, lb in labels.items()
        for s, sb in shapes.items()
        if s != label and _overlap(lb, sb)
    ]
    names = list(labels)
    on_labels = [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :] if _overlap(labels[a], labels[b])
    ]
    assert on_shapes == []
    assert on_labels == []
