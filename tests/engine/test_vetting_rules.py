"""Static vetting, rule by rule and limit by limit: each test fails when one rule is weakened.

Written against mutation testing of ``engine/bpmn/expressions/vetting.py``: parts of the tree
that were checked but never tested (f-string fields after text, dict-display keys), the
static limits exactly at their edge and one past it, the ``is`` rule, and the free-name
analysis of branches. Refusals are asserted with ``check_*`` (nothing runs) and by the
message fragment that names the rule, so a refusal for another reason does not pass.
"""

from __future__ import annotations

import ast

import pytest

from engine.bpmn.expressions import Limits, check_expression, check_script, compile_program, names_used
from engine.bpmn.expressions.vetting import Kind
from engine.errors import ExpressionRefused


def refused(source: str, fragment: str, kind: Kind = "expression", limits: Limits | None = None) -> None:
    with pytest.raises(ExpressionRefused) as info:
        compile_program(source, kind, limits or Limits())
    assert fragment in str(info.value), str(info.value)


def accepted(source: str, kind: Kind = "expression", limits: Limits | None = None) -> None:
    compile_program(source, kind, limits or Limits())


def node_count(source: str, kind: Kind = "expression") -> int:
    """Syntax nodes as Python's own walk counts them (shared context nodes each time they appear)."""
    return sum(1 for _ in ast.walk(ast.parse(source, mode="eval" if kind == "expression" else "exec")))


# --- every part of an f-string and a dict display is vetted ----------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("f'a{x.__class__}'", ".__class__"),
        ("f'{1}{x.__class__}'", ".__class__"),
        ("f'a{x}b{y._secret}'", "._secret"),
        ("f'a{__import__}'", "__import__"),
        ("f'a{open(x)}'", "open()"),
        ("f'a{x!r}'", "!r"),
        ("f'a{x:>9}'", "format spec"),
        ("'a' f'{x.__class__}'", ".__class__"),
    ],
)
def test_fstring_fields_after_literal_text_are_vetted(source: str, fragment: str) -> None:
    refused(source, fragment)


def test_fstrings_with_text_and_fields_are_accepted() -> None:
    accepted("f'a{x}b{len(y)}c{z[0]}'")


@pytest.mark.parametrize(
    ("source", "fragment", "kind"),
    [
        ("{x.__class__: 1}", ".__class__", "expression"),
        ("{1: 2, x.__class__: 1}", ".__class__", "expression"),
        ("{'a': 1, __import__: 2}", "__import__", "expression"),
        ("{'a': 1, _hidden: 2}", "'_hidden'", "expression"),
        ("{eval('1'): 2}", "eval()", "expression"),
        ("d = {'k': 1, x.__class__: 2}", ".__class__", "script"),
        ("{x.__class__: 1 for x in items}", ".__class__", "expression"),
        ("{'a': x.__class__}", ".__class__", "expression"),
    ],
)
def test_dict_display_keys_are_vetted(source: str, fragment: str, kind: Kind) -> None:
    refused(source, fragment, kind)


# --- static limits at their edge -------------------------------------------------------------


def test_node_count_limit_is_exact() -> None:
    source = "a + b * c - len(d)"
    count = node_count(source)
    accepted(source, limits=Limits(max_expression_nodes=count))
    refused(source, f"more than {count - 1} syntax nodes", limits=Limits(max_expression_nodes=count - 1))


def test_node_count_limit_of_scripts_is_exact() -> None:
    source = "x = 1\nfor i in items:\n    x += i"
    count = node_count(source, "script")
    accepted(source, "script", Limits(max_script_nodes=count))
    refused(source, f"more than {count - 1} syntax nodes", "script", Limits(max_script_nodes=count - 1))
    # The expression limit does not apply to scripts, nor the script limit to expressions.
    accepted(source, "script", Limits(max_expression_nodes=1))
    accepted("a + b", limits=Limits(max_script_nodes=1))


def test_node_count_binds_with_the_default_limits() -> None:
    # 999 characters and tokens, three levels deep, but 1501 nodes.
    source = "x" + "<x" * 499
    assert node_count(source) > 1_000
    refused(source, "more than 1000 syntax nodes")
    accepted("x" + "<x" * 332)  # 1000 nodes
    assert node_count("x" + "<x" * 332) == 1_000


def test_syntax_depth_limit_is_exact() -> None:
    # Expression > UnaryOp * k > Name > Load: k + 3 levels.
    accepted("-" * 97 + "x")
    refused("-" * 98 + "x", "nested more than 100 levels")
    accepted("-" * 7 + "x", limits=Limits(max_syntax_depth=10))
    refused("-" * 8 + "x", "nested more than 10 levels", limits=Limits(max_syntax_depth=10))


@pytest.mark.parametrize(("kind", "limit"), [("expression", 2_000), ("script", 10_000)])
def test_text_length_limit_is_exact(kind: Kind, limit: int) -> None:
    text = "'" + "a" * (limit - 2) + "'"
    accepted(text, kind)
    accepted("  \n" + text + "\n  ", kind)  # measured after the surrounding white space is dropped
    refused("'" + "a" * (limit - 1) + "'", f"the limit is {limit}", kind)


def test_token_limit_is_exact() -> None:
    # '[', 499 times '1,' and ']': 1000 tokens, 502 nodes, 1000 characters.
    accepted("[" + "1," * 499 + "]")
    refused("[" + "1," * 499 + "1]", "more than 1000 tokens")


def test_token_limit_counts_each_statement_of_a_script_apart() -> None:
    statement = "x = [" + "1," * 498 + "]"  # x, =, [, 996 more and ]: 1000 tokens
    accepted(statement + "\n" + statement, "script")
    refused("x = [" + "1," * 498 + "1]", "more than 1000 tokens", "script")


def test_an_fstring_weighs_its_characters_as_tokens() -> None:
    accepted("f'" + "a" * 996 + "'")  # 999 characters
    accepted("'" + "a" * 1_500 + "'")  # a plain string is one token
    refused("f'" + "a" * 999 + "'", "more than 1000 tokens")


def test_bracket_limit_is_exact() -> None:
    accepted("[" * 32 + "]" * 32)
    refused("[" * 33 + "]" * 33, "brackets nested more than 32")
    # Brackets inside an f-string's fields count on top of those around it.
    accepted("(" * 31 + "f'{x}'" + ")" * 31)
    refused("(" * 32 + "f'{x}'" + ")" * 32, "brackets nested more than 32")
    refused("f'{" + "[" * 32 + "]" * 32 + "}'", "brackets nested more than 32")


def test_closing_brackets_lower_the_depth_again() -> None:
    accepted("[" + "[]," * 40 + "]")
    accepted("(" * 20 + "1" + ")" * 20 + " + " + "(" * 20 + "1" + ")" * 20)


# --- 'is' only with None, True and False ----------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "x is 1",
        "1 is x",
        "x is not 1",
        "x is 0",
        "x is 1.0",
        "x is ''",
        "x is 'a'",
        "x is x",
        "x is y",
        "x is []",
        "None is x is 1",
        "x == 1 is y",
    ],
)
def test_is_with_anything_but_none_true_false_is_refused(source: str) -> None:
    refused(source, "'is' / 'is not' only with None, True or False")


@pytest.mark.parametrize(
    "source",
    [
        "x is None",
        "None is x",
        "x is not None",
        "x is True",
        "x is not False",
        "False is x",
        "x is None is None",
    ],
)
def test_is_with_none_true_or_false_is_accepted(source: str) -> None:
    accepted(source)


# --- free names (what a validator checks a diagram's data against) ---------------------------


@pytest.mark.parametrize(
    ("script", "free"),
    [
        ("if c:\n    y = a\nelse:\n    y = b\nz = y", {"c", "a", "b"}),
        ("if c:\n    pass\nelse:\n    y = b", {"c", "b"}),
        ("if c:\n    y = a", {"c", "a"}),
        ("if c:\n    z = 1\nw = z", {"c", "z"}),
        ("if c:\n    pass\nelse:\n    z = 2\nw = z", {"c", "z"}),
        ("if c:\n    z = 1\nelse:\n    z = 2\nw = z", {"c"}),
        ("if c:\n    z = 1\nelif d:\n    z = 2\nw = z", {"c", "d", "z"}),
        ("if c:\n    z = 1\nelif d:\n    z = 2\nelse:\n    z = 3\nw = z", {"c", "d"}),
        ("for i in r:\n    k = i\nm = k", {"r", "k"}),
        ("for i in r:\n    pass\nelse:\n    q = s", {"r", "s"}),
        ("for i in r:\n    pass\nt = i", {"r", "i"}),
        ("y = x\nx = 1", {"x"}),
        ("a, b = c\nd = a + b", {"c"}),
        ("n += 1", {"n"}),
        ("n = 0\nn += m", {"m"}),
        ("d[k] = v", {"d", "k", "v"}),
        ("d['x'] += e", {"d", "e"}),
        ("total = max(a, default=b)", {"a", "b"}),
        ("s = sorted(xs, reverse=flag)", {"xs", "flag"}),
        ("w = 1\nitems.append(v)", {"items", "v"}),
        ("y = [x for x in xs if x > t]", {"xs", "t"}),
        ("y = {k: v for k, v in m.items() if k != skip}", {"m", "skip"}),
        ("y = [p for q in qs for p in q]", {"qs"}),
        ("y = any(x > lo for x in xs)", {"xs", "lo"}),
        ("x = [x for x in x]", {"x"}),
    ],
)
def test_free_names_of_scripts(script: str, free: set[str]) -> None:
    assert names_used(script) == free


@pytest.mark.parametrize(
    ("source", "free"),
    [
        ("a if c else b", {"a", "b", "c"}),
        ("len(a) + m.get(k, d)", {"a", "m", "k", "d"}),
        ("[x * y for x in xs]", {"xs", "y"}),
        ("{x: y for x in xs if x > z}", {"xs", "y", "z"}),
        ("[x for x in xs] + [x]", {"xs", "x"}),
        ("f'{a}-{b}'", {"a", "b"}),
    ],
)
def test_free_names_of_expressions(source: str, free: set[str]) -> None:
    assert names_used(source) == free


# --- other rules a mutation could weaken ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment", "kind"),
    [
        ("items.append(1)", "only allowed in scripts", "expression"),
        ("d.pop('a')", "only allowed in scripts", "expression"),
        ("x.lower(**d)", "** unpacking of arguments", "expression"),
        ("max(xs, key=len)", "takes no keyword argument 'key'", "expression"),
        ("[x async for x in y]", "async comprehensions", "expression"),
        ("for i in r:\n    pass\nelse:\n    break", "outside a for loop", "script"),
        ("if x:\n    continue", "outside a for loop", "script"),
        ("for x.y in r:\n    pass", "a loop variable must be a name", "script"),
        ("for len in r:\n    pass", "function name 'len'", "script"),
        ("(a, b.c) = 1, 2", "attribute", "script"),
        ("x[1:2] += y", "slice", "script"),
        ("x.y += 1", "augmented assignment needs a name or a subscript", "script"),
        ("x = 1 if y else y.__class__", ".__class__", "script"),
        ("x = d[y.__class__]", ".__class__", "script"),
        ("x = d[1:y.__class__]", ".__class__", "script"),
        ("d[y.__class__] = 1", ".__class__", "script"),
        ("x = f'{y}' % z", "% formatting", "script"),
        ("x = [y for y in z if y.__class__]", ".__class__", "script"),
        ("x = -y.__class__", ".__class__", "script"),
        ("x = not ~y", "~", "script"),
    ],
)
def test_rules_refuse_what_they_name(source: str, fragment: str, kind: Kind) -> None:
    refused(source, fragment, kind)


def test_the_script_language_is_accepted() -> None:
    check_script(
        """
        total = 0
        for i, v in pairs:
            if v:
                continue
            else:
                total += i
            for j in v:
                break
        else:
            pass
        d['k'] = [x for x in items if x]
        items.append(1)
        a, (b, c) = 1, (2, 3)
        d.update({'a': 1})
        """
    )
    check_expression("-x + +y - (not z) + d.get('a', 0) + xs.count(1)")
