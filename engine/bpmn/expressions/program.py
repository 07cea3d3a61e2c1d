"""Compiled (vetted, cached) programs and the public entry points of the language.

May import: ``expressions`` (interpreter, limits, run, vetting), ``engine.errors``, ``forms.checks``.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.bpmn.expressions.interpreter import Machine, run_expression, run_script
from engine.bpmn.expressions.limits import DEFAULT_LIMITS, Limits
from engine.bpmn.expressions.run import Run, need_mapping
from engine.bpmn.expressions.vetting import Kind, free_names, normalise, parse, where
from engine.errors import ExpressionFailed, ExpressionRefused
from forms.checks import china_today

# Nodes whose value never depends on case data or the clock.
_PURE = (
    ast.Constant,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Subscript,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Dict,
    ast.Slice,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
    ast.expr_context,
)
# SpiffWorkflow's DMN engine replaces a '?' outside quotes with this name (DMNEngine.evaluate).
DMN_INPUT_NAME = "dmninputexpr"
_DMN_QUESTION_MARK = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")


@dataclass(frozen=True)
class Program:
    """A vetted syntax tree, ready to run any number of times."""

    source: str
    kind: Kind
    tree: ast.Expression | ast.Module
    names: frozenset[str]


@functools.lru_cache(maxsize=4096)
def compile_program(source: str, kind: Kind, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Vet a text once; the same gateway condition is then reused for every case."""
    tree = parse(source, kind, limits)
    text = normalise(source, kind)
    _check_constants(text, tree, limits)
    return Program(text, kind, tree, free_names(tree))


def _check_constants(source: str, tree: ast.AST, limits: Limits) -> None:
    """Evaluate every data-free operation now, so ``9**9**9`` or ``'a'*10**10`` is refused at deploy."""

    def visit(node: ast.AST) -> bool:
        children = list(ast.iter_child_nodes(node))
        pure_children = [visit(child) for child in children]
        if isinstance(node, _PURE) and all(pure_children):
            return True
        for child, pure in zip(children, pure_children, strict=True):
            if pure and isinstance(child, ast.expr) and not isinstance(child, ast.Constant | ast.Slice):
                evaluate_constant(child)
        return False

    def evaluate_constant(node: ast.expr) -> None:
        machine = Machine(source, {}, Run(limits, china_today), script=False)
        try:
            machine.eval(node)
        except ExpressionFailed as exc:
            raise ExpressionRefused(
                "表达式被拒绝: 常量部分无法计算 (refused: a constant part cannot be evaluated)"
                f"{where(node)}: " + exc.message
            ) from exc

    body = tree.body if isinstance(tree, ast.Expression) else tree
    if visit(body) and isinstance(body, ast.expr) and not isinstance(body, ast.Constant):
        evaluate_constant(body)


def _today_source(today: date | Callable[[], date] | None) -> Callable[[], date]:
    if today is None:
        return china_today
    if isinstance(today, date):
        return lambda: today
    return today


def check_expression(source: str) -> None:
    """Refuse (``ExpressionRefused``) a condition or value outside the language; nothing runs."""
    compile_program(source, "expression")


def check_script(source: str) -> None:
    """Refuse (``ExpressionRefused``) a script-task text outside the language; nothing runs."""
    compile_program(source, "script")


def check_dmn_input_entry(text: str) -> None:
    """Vet a DMN input cell the way SpiffWorkflow's DMN engine will turn it into an expression.

    A cell with ``?`` is evaluated with ``?`` standing for the input; a cell that is a
    value (``"a"``, ``5``) is compared with ``==``; a cell starting with an operator
    (``> 5``, ``in ["a", "b"]``, ``not in (1, 2)``) is appended to the input expression.
    """
    if text is None or text.strip() in ("", "-"):
        return
    if _DMN_QUESTION_MARK.search(text):
        check_expression(_DMN_QUESTION_MARK.sub(DMN_INPUT_NAME, text))
        return
    try:
        check_expression(text)
    except ExpressionRefused as exc:
        if not isinstance(exc.__cause__, SyntaxError):
            raise
        check_expression(f"{DMN_INPUT_NAME} {text}")


def names_used(source: str) -> frozenset[str]:
    """Case fields an expression (or a script, before assigning them) reads."""
    try:
        return compile_program(source, "expression").names
    except ExpressionRefused as exc:
        if not isinstance(exc.__cause__, SyntaxError):
            raise
    return compile_program(source, "script").names


def evaluate(
    source: str,
    names: Mapping[str, Any],
    *,
    today: date | Callable[[], date] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """The value of an expression over case data; refused or failed expressions raise, never leak."""
    program = compile_program(source, "expression", limits)
    assert isinstance(program.tree, ast.Expression)
    return run_expression(
        program.source, program.tree, need_mapping(names), Run(limits, _today_source(today))
    )


def execute(
    source: str,
    names: dict[str, Any],
    *,
    today: date | Callable[[], date] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    reads: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a script; on success apply and return the top-level names it set, else leave ``names`` as is.

    ``reads`` (default: ``names``) is what the script may read; assignments always go to ``names``.
    """
    program = compile_program(source, "script", limits)
    assert isinstance(program.tree, ast.Module)
    source_names = need_mapping(names if reads is None else reads)
    changes = run_script(program.source, program.tree, source_names, Run(limits, _today_source(today)))
    names.update(changes)
    return changes
