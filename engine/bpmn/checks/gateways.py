"""Sequence flows and gateways: where conditions count, how flows split, and default flows.

SpiffWorkflow reads a condition only on a flow out of an exclusive or inclusive gateway,
refuses an implicit split (several outgoing flows from an activity), and needs a way out
of a conditional gateway when no condition holds.

May import: ``engine.bpmn.checks.facts``, ``engine.bpmn.checks.vet``, lxml.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from engine.bpmn.checks.facts import GATEWAYS, DiagramFacts, child, local_name, text_of
from engine.bpmn.checks.vet import vet_into

CONDITIONAL_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
# Flow nodes that SpiffWorkflow lets have several outgoing flows; any other splits implicitly
# and SpiffWorkflow refuses it.
MULTI_OUTGOING = GATEWAYS | {"startEvent"}


def check_flows(
    facts: DiagramFacts,
    nodes: Mapping[str, etree._Element],
    flows: Mapping[str, etree._Element],
    outgoing: Mapping[str, list[etree._Element]],
) -> None:
    """The conditions on the flows of one scope, its splits and its gateways' default flows."""
    for flow_id, flow in flows.items():
        source = nodes.get(flow.get("sourceRef", ""))
        condition = child(flow, "conditionExpression")
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
        vet_into(facts, flow_id, "condition", condition.text)
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
            has_condition = bool((text_of(child(flow, "conditionExpression")) or "").strip())
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
            if f.get("id") != default and not (text_of(child(f, "conditionExpression")) or "").strip()
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
