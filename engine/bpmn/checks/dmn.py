"""The checks of a DMN document: schema, one decision table per file, hit policy, every cell vetted.

Input cells are vetted as SpiffWorkflow's DMN engine turns them into expressions; each
decision's output names are gathered for the manifest's name check.

May import: ``engine.bpmn.checks.facts``, ``engine.bpmn.checks.schema``, ``engine.bpmn.checks.vet``,
``engine.bpmn.expressions``, ``engine.errors``, lxml.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from engine.bpmn.checks.facts import DmnFacts, Expression, problem, text_of
from engine.bpmn.checks.schema import DMN_SCHEMAS, schema_problems
from engine.bpmn.checks.vet import vet
from engine.bpmn.expressions import DMN_INPUT_NAME, check_expression
from engine.errors import ExpressionRefused

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
        text = text_of(element.find(f"{{{ns}}}inputExpression/{{{ns}}}text"))
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
            _check_input_entry(facts, entry, text_of(entry.find(f"{{{ns}}}text")), input_text or "")
        for entry in _dmn_children(rule, ns, "outputEntry"):
            text = text_of(entry.find(f"{{{ns}}}text"))
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
