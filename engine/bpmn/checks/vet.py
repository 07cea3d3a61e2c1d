"""Expressions and scripts of a bundle as problems: each vetted with the engine's own checker.

Conditions, scripts, loop and timer expressions, DMN cells and the manifest's follow-on
rules all go through ``vet``; what passes is an ``Expression`` whose read names the
manifest checks compare with the bundle's fields.

May import: ``engine.bpmn.checks.facts``, ``engine.bpmn.expressions``, ``engine.errors``.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Mapping

from engine.bpmn.checks.facts import DiagramFacts, Expression, problem
from engine.bpmn.expressions import check_expression, check_script, names_used
from engine.errors import ExpressionRefused, Problem

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


def vet_into(facts: DiagramFacts, element: str, kind: str, source: str | None) -> None:
    """Vet an expression of the diagram; keep it among the diagram's expressions when it passes."""
    vetted = vet(facts.file, element, kind, source, facts.problems)
    if vetted is not None:
        facts.expressions.append(vetted)
