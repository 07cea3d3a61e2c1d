"""What one flow node holds: scripts, decision references, call targets, timers and loops.

Every expression in them is vetted (``engine.bpmn.checks.vet``); the names they give values
to (script assignments, loop items, data outputs) are noted for the manifest's name check.

May import: ``engine.bpmn.checks.facts``, ``engine.bpmn.checks.vet``, ``engine.bpmn.definitions``,
lxml, SpiffWorkflow (its timer parsing).
"""

from __future__ import annotations

import ast
import re

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.bpmn.checks.facts import DiagramFacts, Expression, child, local_name, q, text_of
from engine.bpmn.checks.vet import stored_names, vet, vet_into
from engine.bpmn.definitions import decision_ref_of

# A literal timer text the modeller forgot to quote: SpiffWorkflow would read it as an expression.
_ISO_TIMER_TEXT = re.compile(r"^(R\d*/)?(P[0-9YMWDTHS.,]+|\d{4}-\d{2}-\d{2}(T[0-9:.+\-Z]*)?)(/.*)?$", re.I)


def check_node(facts: DiagramFacts, node: etree._Element, local: str, process_id: str) -> None:
    """The checks of one flow node's content; ``process_id`` is the top-level process it runs in."""
    node_id = node.get("id", "")
    if local == "scriptTask":
        script = text_of(child(node, "script"))
        vetted = vet(facts.file, node_id, "script", script, facts.problems, script=True)
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
        _check_timer(facts, node_id, definition)
    _check_loop(facts, node, node_id)
    for output in node.iter(q("dataOutput")):
        if output.get("name"):
            facts.assigned.add(str(output.get("name")))


def _check_timer(facts: DiagramFacts, node_id: str, definition: etree._Element) -> None:
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
        vetted = vet(facts.file, node_id, f"timer {kind}", text, facts.problems)
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


def _check_loop(facts: DiagramFacts, node: etree._Element, node_id: str) -> None:
    standard = child(node, "standardLoopCharacteristics")
    if standard is not None:
        condition = child(standard, "loopCondition")
        if condition is not None:
            vet_into(facts, node_id, "loop condition", condition.text)
        elif standard.get("loopMaximum") is None:
            facts.add(
                node_id,
                "loop",
                "循环须有 loopMaximum 或 loopCondition",
                "a loop needs loopMaximum or loopCondition",
            )
    multi = child(node, "multiInstanceLoopCharacteristics")
    if multi is None:
        return
    cardinality = child(multi, "loopCardinality")
    input_ref = child(multi, "loopDataInputRef")
    if (cardinality is None) == (input_ref is None):
        facts.add(
            node_id,
            "loop",
            "多实例须恰有 loopCardinality 或 loopDataInputRef 之一",
            "a multi-instance activity needs exactly one of loopCardinality and loopDataInputRef",
        )
    if cardinality is not None:
        vet_into(facts, node_id, "loop cardinality", cardinality.text)
    if input_ref is not None and input_ref.text:
        facts.expressions.append(
            Expression(facts.file, node_id, "loop input", input_ref.text, frozenset({input_ref.text.strip()}))
        )
    completion = child(multi, "completionCondition")
    if completion is not None:
        vet_into(facts, node_id, "completion condition", completion.text)
    output_ref = text_of(child(multi, "loopDataOutputRef"))
    if output_ref:
        facts.assigned.add(output_ref.strip())
    for item in ("inputDataItem", "outputDataItem"):
        data_item = child(multi, item)
        if data_item is not None:
            facts.assigned |= {v for v in (data_item.get("name"), data_item.get("id")) if v}


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
