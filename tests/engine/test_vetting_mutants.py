"""Vetting rules that mutants of engine/bpmn/expressions/vetting.py survived after test_vetting_rules.

A refusal names where the refused name stands (an analyst fixes a diagram's script by line
and column), an underscore attribute is refused as such, and the free names of a script
include those read inside a subscript target that is part of a tuple.
"""

from __future__ import annotations

import pytest

from engine.bpmn.expressions.limits import Limits
from engine.bpmn.expressions.vetting import Kind, free_names, parse
from engine.errors import ExpressionRefused


def refusal(source: str, kind: Kind = "script") -> str:
    with pytest.raises(ExpressionRefused) as caught:
        parse(source, kind, Limits())
    return str(caught.value)


@pytest.mark.parametrize(
    ("source", "kind", "where"),
    [
        ("x = 1\n__y__ = 2", "script", "(line 2, col 1)"),  # an assigned dunder name
        ("x = 1\nlen = 2", "script", "(line 2, col 1)"),  # a function's name assigned
        ("x = 1\nfor _i in xs:\n    pass", "script", "(line 2, col 5)"),
        ("x = 1\nfor len in xs:\n    pass", "script", "(line 2, col 5)"),
        ("a + _f()", "expression", "(line 1, col 5)"),  # a call of an underscore name
        ("a + x._y()", "expression", "(line 1, col 5)"),  # a call of an underscore method
    ],
)
def test_a_refused_name_is_placed_where_it_stands(source: str, kind: Kind, where: str) -> None:
    assert refusal(source, kind).endswith(where)


def test_an_underscore_method_is_refused_as_an_attribute_not_as_an_unknown_method() -> None:
    assert "access to the attribute ._y is not allowed" in refusal("x._y()", "expression")


def test_free_names_include_those_read_in_a_subscript_inside_a_tuple_target() -> None:
    assert free_names(parse("data[key], other = 1, 2", "script", Limits())) == {"data", "key"}


@pytest.mark.parametrize(
    ("script", "free"),
    [
        ("a = 1\nb = 2\nc = a + b", set()),  # names assigned earlier stay assigned
        ("a = 1\nb = 2\nb += 1\nc = a", set()),
        ("a = 1\nif t:\n    b = 1\nelse:\n    b = 2\nd = a + b", {"t"}),
        ("len(x)\nlen(y)", {"x", "y"}),  # every statement's names, not the last one's
    ],
)
def test_free_names_accumulate_over_a_scripts_statements(script: str, free: set[str]) -> None:
    assert free_names(parse(script, "script", Limits())) == free


def test_break_in_the_else_branch_of_an_if_inside_a_loop_is_accepted() -> None:
    parse("for x in xs:\n    if x:\n        pass\n    else:\n        break", "script", Limits())


def test_break_in_the_else_of_a_loop_inside_a_loop_is_accepted() -> None:
    script = "for a in b:\n    for x in xs:\n        pass\n    else:\n        break"
    parse(script, "script", Limits())
