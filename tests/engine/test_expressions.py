"""The restricted expression and script language: what it computes, what it refuses, and how
it plugs into SpiffWorkflow (gateways, script tasks, DMN tables)."""

from __future__ import annotations

import contextlib
import copy
import string
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.expressions import (
    Limits,
    RestrictedEnvironment,
    check_dmn_input_entry,
    check_expression,
    check_script,
    evaluate,
    execute,
    make_script_engine,
    names_used,
)
from engine.bpmn.expressions.vetting import PARSE_FILENAME
from engine.bpmn.runtime import Runner
from engine.errors import ExpressionFailed, ExpressionRefused
from engine.time.clock import ManualClock
from tests.engine.sandbox_escapes import ESCAPES, NAMES, Escape
from tests.support.engines import make_engine

TODAY = date(2024, 5, 1)
DATA: dict[str, Any] = {
    "employees": 3,
    "capital": 500_000,
    "kind": "llc",
    "name": "  Alice Zhang ",
    "items": [3, 1, 2],
    "applicant": {"name": "Alice", "district": "310101", "tags": ["local"]},
    "born": "2018-09-01",
    "price": Decimal("12.50"),
    "missing": None,
    "flag": True,
}


def resident_id(birth: str, district: str = "310101", serial: str = "123") -> str:
    """A valid 18-character resident ID (GB 11643-1999) for a birth date 'YYYYMMDD'."""
    body = district + birth + serial
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(digit) * weight for digit, weight in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def ev(source: str, **extra: Any) -> Any:
    return evaluate(source, {**DATA, **extra}, today=TODAY)


# --- expressions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3 - 4 / 2", 5.0),
        ("7 // 2 + 7 % 3 + 2 ** 10", 3 + 1 + 1024),
        ("-employees + +1", -2),
        ("capital / 1000 >= 500", True),
        ("price * 2", Decimal("25.00")),
        ("1 < employees <= 3 < 4", True),
        ("1 < employees < 2", False),
        ("kind == 'llc' and employees > 0", True),
        ("kind != 'llc' or not flag", False),
        ("employees and kind", "llc"),
        ("missing or 'none'", "none"),
        ("kind in ('llc', 'corp')", True),
        ("'sole' not in ['llc', 'corp']", True),
        ("'local' in applicant['tags']", True),
        ("'name' in applicant", True),
        ("'li' in 'Alice'", True),
        ("missing is None", True),
        ("applicant is not None", True),
        ("flag is True", True),
        ("'many' if employees > 2 else 'few'", "many"),
        ("items[0] + items[-1]", 5),
        ("items[1:]", [1, 2]),
        ("items[::-1]", [2, 1, 3]),
        ("applicant['district'][:2]", "31"),
        ("applicant['tags'][0]", "local"),
        ("applicant.get('phone', 'n/a')", "n/a"),
        ("sorted(applicant.keys())", ["district", "name", "tags"]),
        ("len(applicant.items())", 3),
        ("name.strip().lower()", "alice zhang"),
        ("name.strip().split(' ')", ["Alice", "Zhang"]),
        ("'-'.join(['a', 'b'])", "a-b"),
        ("applicant['district'].startswith(('31', '11'))", True),
        ("name.count('a')", 1),
        ("len(items) + len('abc') + len({'a': 1})", 7),
        ("min(items) + max(items) + max(4, 5, 6)", 1 + 3 + 6),
        ("max([], default=0)", 0),
        ("sum(items) + sum([1.5, 2.5], start=1)", 6 + 5.0),
        ("any(i > 2 for i in items) and not all(i > 1 for i in items)", True),
        ("round(2.675, 2) + round(7.5) + abs(-3)", round(2.675, 2) + 8 + 3),
        ("int('42') + int(3.9) + int('ff', 16)", 42 + 3 + 255),
        ("float('1.5') + float(2)", 3.5),
        ("str(employees) + str(None) + str(1.5)", "3None1.5"),
        ("bool(0) or bool([])", False),
        ("sorted(items, reverse=True)", [3, 2, 1]),
        ("list(range(3)) + list(range(5, 1, -2))", [0, 1, 2, 5, 3]),
        ("tuple(items) + (4,)", (3, 1, 2, 4)),
        ("set(items) == {1, 2, 3}", True),
        ("dict([('a', 1)]) == {'a': 1}", True),
        ("[i * 2 for i in items if i > 1]", [6, 4]),
        ("{i: i * i for i in items}", {3: 9, 1: 1, 2: 4}),
        ("{i % 2 for i in items}", {0, 1}),
        ("[(a, b) for a in [1, 2] for b in 'xy' if a > 1]", [(2, "x"), (2, "y")]),
        ("sum(x * y for x in items for y in [1, 10])", 66),
        ("[[j for j in range(i)] for i in range(3)]", [[], [0], [0, 1]]),
        ("f'{kind}: {employees} 人'", "llc: 3 人"),
        ("'ab' * 2 + 'c'", "ababc"),
        ("[0] * 3", [0, 0, 0]),
        ("(1, 2) + (3,)", (1, 2, 3)),
        ("{'a': [1, {'b': None}]}", {"a": [1, {"b": None}]}),
        ("10 ** -2", 0.01),
        ("2 ** 4095 > 0", True),
        ("True + True", 2),
    ],
)
def test_expressions_compute_like_python(source: str, expected: Any) -> None:
    assert ev(source) == expected


def test_case_fields_named_like_functions_stay_values() -> None:
    assert ev("date", date="2024-01-31") == "2024-01-31"
    assert ev("len(type) + min", type="abc", min=1) == 4


def test_results_never_alias_case_data() -> None:
    names = {"applicant": {"tags": ["a"]}}
    result = evaluate("applicant", names)
    result["tags"].append("b")
    assert names == {"applicant": {"tags": ["a"]}}


def test_external_names_are_read_but_task_data_wins() -> None:
    environment = RestrictedEnvironment(today=lambda: TODAY)
    assert environment.evaluate("a + b", {"a": 1}, {"a": 100, "b": 2}) == 3


def test_unknown_name_fails_clearly() -> None:
    with pytest.raises(ExpressionFailed, match="unknown name 'nope'"):
        ev("nope + 1")
    with pytest.raises(ExpressionFailed, match="Python built-ins are not available"):
        ev("object")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("kind + 1", "unsupported operand types for +: str and int"),
        ("items < 'a'", "'<' is not supported between list and str"),
        ("employees in 'abc'", "'in' needs a collection or a string"),
        ("applicant['phone']", "KeyError"),
        ("items[10]", "IndexError"),
        ("employees[0]", "not subscriptable"),
        ("employees / (employees - 3)", "ZeroDivisionError"),
        ("-kind", "bad operand type for unary -"),
        ("len(employees)", "len() of a int"),
        ("min([])", "min() of an empty sequence"),
        ("sum(['a'], start='')", "use ''.join"),
        ("kind.get('a')", "has no method .get()"),
        ("int('x1')", "ValueError"),
        ("float(items)", "float() of a list"),
        ("date('31/01/2024')", "needs a date"),
        ("add_days('2024-01-01', 1.5)", "needs an integer"),
        ("items[0.5:]", "slice bounds"),
        ("{items: 2}", "unhashable"),
        ("float(capital) ** 400", "OverflowError"),
        ("(-employees) ** 0.5", "complex numbers"),
        ("str(x for x in items)", "generator expression cannot be turned into a string"),
    ],
)
def test_runtime_errors_name_the_problem(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionFailed) as info:
        ev(source)
    assert fragment in str(info.value)


def test_failure_message_points_at_the_failing_part() -> None:
    with pytest.raises(ExpressionFailed) as info:
        ev("employees > 1 and\tapplicant['phone'] == '1'")
    message = str(info.value)
    assert "applicant['phone']" in message
    assert "col 19" in message


def test_data_mapping_is_required() -> None:
    with pytest.raises(ExpressionFailed, match="must be a mapping"):
        evaluate("1", ["not", "a", "mapping"])  # type: ignore[arg-type]


def test_source_whitespace_from_xml_is_ignored() -> None:
    assert ev("\n        employees > 1\n    ") is True


# --- dates ---------------------------------------------------------------------------------


def test_date_helpers() -> None:
    assert ev("today()") == TODAY
    assert ev("date('2024-01-31')") == date(2024, 1, 31)
    assert ev("date(2024, 2, 29)") == date(2024, 2, 29)
    assert ev("date('2024-01-31T10:20:00+08:00')") == date(2024, 1, 31)
    assert ev("days_between('2024-01-01', '2024-03-01')") == 60
    assert ev("days_between(today(), '2024-04-30')") == -1
    assert ev("add_days('2024-02-28', 2)") == date(2024, 3, 1)
    assert ev("add_days(today(), -1) < today()") is True
    assert ev("year(born) * 10000 + month(born) * 100 + day(born)") == 20180901
    assert ev("str(add_days(born, 1))") == "2018-09-02"
    assert ev("date('2024-01-31') > date('2024-01-30')") is True


def test_age_from_birth_date_and_resident_id() -> None:
    assert ev("age(born)") == 5
    assert ev("age(born, on='2024-09-01')") == 6
    assert ev("age(born, on='2024-08-31')") == 5
    assert ev("age(id)", id=resident_id("20000229")) == 24
    assert ev("age(id, on='2024-02-28')", id=resident_id("20000229")) == 23
    assert ev("age('11010519491231002X', on=date(2024, 1, 1))") == 74
    assert ev("age('110105491231002', on='2024-01-01')") == 74
    with pytest.raises(ExpressionFailed, match="check character"):
        ev("age('110105194912310021')")
    with pytest.raises(ExpressionFailed, match="is after"):
        ev("age('2030-01-01')")


def test_today_is_injected_and_asked_lazily() -> None:
    calls: list[int] = []

    def clock() -> date:
        calls.append(1)
        return TODAY

    assert evaluate("1 + 1", {}, today=clock) == 2
    assert calls == []
    assert evaluate("[today(), today()]", {}, today=clock) == [TODAY, TODAY]
    assert calls == [1]


def test_default_today_is_china_date() -> None:
    assert isinstance(evaluate("today()", {}), date)


# --- scripts -------------------------------------------------------------------------------


def test_script_with_if_for_and_augmented_assignment() -> None:
    script = """
        total = 0
        odd = []
        for i in items:
            if i == 2:
                continue
            elif i > 100:
                break
            total += i
            odd.append(i)
        else:
            done = True
        for k, v in applicant.items():
            if k == 'name':
                greeting = f'你好, {v}'
        level = 'high' if capital > 100000 else 'low'
        a, b = 1, 2
        a, b = b, a
        pass
    """
    names = copy.deepcopy(DATA)
    changes = execute(script, names, today=TODAY)
    assert changes == {
        "total": 4,
        "odd": [3, 1],
        "done": True,
        "i": 2,
        "k": "tags",
        "v": ["local"],
        "greeting": "你好, Alice",
        "level": "high",
        "a": 2,
        "b": 1,
    }
    assert names["total"] == 4
    assert names["applicant"] == DATA["applicant"]


def test_script_mutating_nested_data_works_on_a_copy() -> None:
    shared = {"tags": ["local"], "address": {"city": "上海"}}
    names: dict[str, Any] = {"applicant": shared, "other": shared}
    changes = execute(
        "applicant['address']['city'] = '北京'\napplicant['tags'].append('checked')\napplicant['n'] = 1",
        names,
    )
    # The original object (shared with other tasks) is untouched; the key was replaced.
    assert shared == {"tags": ["local"], "address": {"city": "上海"}}
    assert names["other"] is shared
    assert names["applicant"] == {"tags": ["local", "checked"], "address": {"city": "北京"}, "n": 1}
    assert names["applicant"] is not shared
    assert set(changes) == {"applicant"}


def test_script_results_do_not_alias_each_other() -> None:
    names: dict[str, Any] = {}
    execute("a = [1]\nb = a\nb.append(2)", names)
    assert names == {"a": [1, 2], "b": [1, 2]}
    assert names["a"] is not names["b"]


def test_changes_through_an_alias_reach_the_name_read() -> None:
    names: dict[str, Any] = {"data": {"list": [1]}}
    changes = execute("l = data['list']\nl.append(2)", names)
    assert changes == {"l": [1, 2], "data": {"list": [1, 2]}}


def test_read_only_script_changes_nothing() -> None:
    names = copy.deepcopy(DATA)
    assert execute("if len(items) > 10:\n    big = True", names) == {}
    assert names == DATA


def test_failing_script_leaves_data_unchanged() -> None:
    names = copy.deepcopy(DATA)
    with pytest.raises(ExpressionFailed, match="ZeroDivisionError"):
        execute("fee = 1\napplicant['paid'] = True\nitems.append(9)\nbad = 1 / (employees - 3)", names)
    assert names == DATA


def test_dict_methods_in_scripts() -> None:
    names: dict[str, Any] = {"d": {"a": 1, "b": 2}}
    execute("d.update({'c': 3})\ngone = d.pop('a')\nnone = d.pop('zz', None)\nlast = [1, 2].pop()", names)
    assert names == {"d": {"b": 2, "c": 3}, "gone": 1, "none": None, "last": 2}


def test_script_local_names_shadow_case_data() -> None:
    names: dict[str, Any] = {"x": 1}
    assert execute("x = x + 1\ny = x * 10", names) == {"x": 2, "y": 20}


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ("'abc'[0] = 'x'", "does not support item assignment"),
        ("t = (1, 2)\nt[0] = 3", "does not support item assignment"),
        ("l = [1]\nl['a'] = 2", "list indices must be integers"),
        ("a, b = [1, 2, 3]", "cannot unpack 3 values into 2 names"),
        ("for i in 5:\n    pass", "cannot be iterated"),
        ("d = {'a': 1}\nfor k in d:\n    d[k + 'x'] = 1", "RuntimeError"),
    ],
)
def test_script_runtime_errors(script: str, fragment: str) -> None:
    with pytest.raises(ExpressionFailed) as info:
        execute(script, {})
    assert fragment in str(info.value)


# --- static checks ------------------------------------------------------------------------


def test_check_functions_accept_the_language() -> None:
    check_expression("age(applicant_id) >= 18 and district in ['310101', '310104']")
    check_script("x = 1\nif x:\n    y = [i for i in range(3)]\nfor i in y:\n    x += i")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("", "empty expression"),
        ("x ==", "syntax error"),
        ("len()", "len() takes 1 to 1 positional arguments, 0 given"),
        ("round(1, 2, 3)", "round() takes 1 to 2"),
        ("today(1)", "today() takes 0 to 0"),
        ("x.get(k=1)", "takes no keyword argument 'k'"),
        ("x()", "calling 'x()' is not allowed"),
        ("x[0]()", "only allowed functions and methods can be called"),
        ("1 / 0 if x else 1", "division by zero"),
        ("'a' + 1", "unsupported operand types"),
        ("x = 1", "syntax error"),
    ],
)
def test_static_refusals(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionRefused) as info:
        check_expression(source)
    assert fragment in str(info.value)


def test_non_text_is_refused() -> None:
    with pytest.raises(ExpressionRefused, match="must be text"):
        check_expression(42)  # type: ignore[arg-type]


def test_names_used_lists_free_names_only() -> None:
    assert names_used("a + b['k'] + len(c) + sum(x for x in d if x > e) + f.get('y')") == {
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
    }
    assert names_used("[y for x in xs for y in x]") == {"xs"}
    assert names_used("{k: v for k, v in m.items()}") == {"m"}
    script = """
        y = a
        if b:
            z = 1
        else:
            z = 2
        w = z + y + q
        for i in r:
            k = i + j
        m = k
        n += 1
        d['x'] = e
    """
    assert names_used(script) == {"a", "b", "q", "r", "j", "k", "n", "d", "e"}


def test_compiled_programs_are_cached() -> None:
    from engine.bpmn.expressions import compile_program

    source = "employees * 17 > 3"
    assert compile_program(source, "expression") is compile_program(source, "expression")


# --- limits ---------------------------------------------------------------------------------


def test_step_budget_is_a_parameter() -> None:
    small = Limits(max_steps=50)
    with pytest.raises(ExpressionFailed, match="step budget of 50"):
        evaluate("[i for i in range(100)]", {}, limits=small)
    assert evaluate("[i for i in range(5)]", {}, limits=small) == [0, 1, 2, 3, 4]


def test_wall_time_is_a_backstop() -> None:
    with pytest.raises(ExpressionFailed, match="time limit"):
        evaluate("sum(range(10000))", {}, limits=Limits(max_seconds=0.0))


def test_total_allocation_is_bounded() -> None:
    limits = Limits(max_size=1_000, max_allocated=5_000)
    with pytest.raises(ExpressionFailed, match="more than 5000 characters or elements produced"):
        execute("s = ''\nfor i in range(10):\n    t = x * 900", {"x": "a"}, limits=limits)


def test_integers_are_bounded() -> None:
    with pytest.raises(ExpressionFailed, match="integer too large"):
        evaluate("a * a * a", {"a": 2**2000})
    with pytest.raises(ExpressionFailed, match="integer too large"):
        evaluate("a + a", {"a": 2**4096 - 1})


def test_expression_and_script_lengths_differ() -> None:
    long_sum = " + ".join(["1"] * 700)
    with pytest.raises(ExpressionRefused, match="text too long"):
        check_expression(long_sum)
    check_script("\n".join(f"x{i} = {i}" for i in range(700)))


def test_syntax_depth_is_bounded() -> None:
    source = "a" + " + a" * 150
    with pytest.raises(ExpressionRefused, match="nested more than 100 levels"):
        check_expression(source)


# --- DMN cells as SpiffWorkflow's DMN engine writes them ----------------------------------


@pytest.mark.parametrize(
    ("source", "extra", "expected"),
    [
        ("(age) == (5)", {"age": 5}, True),
        ('(kind) == ("llc")', {}, True),
        ('(kind) == ("a","b")', {}, False),
        ("age> 5", {"age": 7}, True),
        ("age>= 18", {"age": 18}, True),
        ("age!= 3", {"age": 3}, False),
        ('kind in ("llc","corp")', {}, True),
        ('kind not in ["llc"]', {}, False),
        ("4 < dmninputexpr < 6", {"dmninputexpr": 5}, True),
        ("dmninputexpr == 'x?'", {"dmninputexpr": "x?"}, True),
        ("(applicant['district'][:2]) == ('31')", {}, True),
        ('"approve"', {}, "approve"),
        ("add_days(today(), 15)", {}, date(2024, 5, 16)),
    ],
)
def test_dmn_generated_expressions(source: str, extra: dict[str, Any], expected: Any) -> None:
    assert ev(source, **extra) == expected


@pytest.mark.parametrize(
    "cell", ["> 5", '"a","b"', 'in ("a", "b")', "not in [1]", "18 <= ? < 65", "-", "", "5", "!= 3"]
)
def test_dmn_input_entries_are_vetted_like_spiff_runs_them(cell: str) -> None:
    check_dmn_input_entry(cell)


@pytest.mark.parametrize("cell", ["> __import__('os')", "? .__class__", "in open('f')"])
def test_hostile_dmn_input_entries_are_refused(cell: str) -> None:
    with pytest.raises(ExpressionRefused):
        check_dmn_input_entry(cell)


def test_script_engine_validate_raises_syntax_error_for_dmn_operator_cells() -> None:
    engine = make_script_engine()
    with pytest.raises(SyntaxError):
        engine.validate("> 5")
    engine.validate("v > 5")
    with pytest.raises(ExpressionRefused):
        engine.validate("__import__('os')")


def test_service_calls_are_refused() -> None:
    with pytest.raises(ExpressionRefused, match="service task"):
        RestrictedEnvironment().call_service({}, operation_name="http/get")


# --- SpiffWorkflow end to end ----------------------------------------------------------------

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def fee_diagram(script: str) -> bytes:
    """start -> script task -> exclusive gateway (high / low by condition) -> two ends."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="defs" targetNamespace="http://onething.test">
  <bpmn:process id="fee_route" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:scriptTask id="compute" scriptFormat="python">
      <bpmn:script><![CDATA[{script}]]></bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="route"/>
    <bpmn:exclusiveGateway id="route"/>
    <bpmn:sequenceFlow id="to_high" sourceRef="route" targetRef="end_high">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">level == "high"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_low" sourceRef="route" targetRef="end_low">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"><![CDATA[
        level == "low" and fee < 1000
      ]]></bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="end_high"/>
    <bpmn:endEvent id="end_low"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


FEE_SCRIPT = """
fee = base * 2
level = "high" if fee > 100 else "low"
applicant["checked"] = True
applicant["tags"].append("fee")
"""


def fee_workflow(script: str, data: dict[str, Any]) -> BpmnWorkflow:
    """A fresh workflow of the fee diagram with the start data in place, not yet run."""
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(fee_diagram(script)), filename="fee.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("fee_route"), script_engine=make_script_engine(lambda: TODAY))
    workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
    return workflow


def completed(workflow: BpmnWorkflow) -> set[str]:
    return {
        task.task_spec.bpmn_id
        for task in workflow.get_tasks(state=TaskState.COMPLETED)
        if task.task_spec.bpmn_id
    }


@pytest.mark.parametrize(("base", "route"), [(80, "end_high"), (20, "end_low")])
def test_workflow_routes_on_script_results(base: int, route: str) -> None:
    applicant = {"name": "Alice", "tags": ["local"]}
    workflow = fee_workflow(FEE_SCRIPT, {"base": base, "applicant": applicant})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert completed(workflow) & {"end_high", "end_low"} == {route}
    end = next(t for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == route)
    assert end.data["fee"] == base * 2
    assert end.data["applicant"] == {"name": "Alice", "tags": ["local", "fee"], "checked": True}
    # The start event's nested data was not mutated through shared references.
    start = next(t for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == "start")
    assert start.data["applicant"] == {"name": "Alice", "tags": ["local"]}
    assert applicant == {"name": "Alice", "tags": ["local"]}


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ("fee = 1\nlevel = ().__class__.__base__.__subclasses__()", ExpressionRefused),
        ("fee = 1\napplicant['x'] = 1\nlevel = __import__('os').system('id')", ExpressionRefused),
        ("fee = 1\napplicant['tags'].append('x')\nfor i in range(10**12):\n    pass", ExpressionFailed),
        ("fee = 1\napplicant['x'] = 1\nlevel = fee / (base - base)", ExpressionFailed),
    ],
)
def test_workflow_with_hostile_or_failing_script_stops_cleanly_with_data_unchanged(
    script: str, error: type[Exception]
) -> None:
    data = {"base": 80, "applicant": {"name": "Alice", "tags": ["local"]}}
    workflow = fee_workflow(script, copy.deepcopy(data))
    with recorded_audit_events() as events, pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert_nothing_ran(events, strict=False)
    assert any(isinstance(cause, error) for cause in causes(info.value)), info.value
    failed_task = next(t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "compute")
    assert failed_task.state == TaskState.ERROR
    assert failed_task.data == data
    assert not workflow.is_completed()


def causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

DECISION = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{DMN_NS}" id="dmn_defs" name="Fees" namespace="http://onething.test">
  <decision id="fee_class" name="Fee class">
    <decisionTable id="table" hitPolicy="FIRST">
      <input id="in_age" label="Age">
        <inputExpression id="ie_age" typeRef="integer">
          <text>age(applicant_id, on=today())</text>
        </inputExpression>
      </input>
      <input id="in_kind" label="Kind">
        <inputExpression id="ie_kind" typeRef="string"><text>kind</text></inputExpression>
      </input>
      <output id="out_class" name="fee_class" typeRef="string"/>
      <output id="out_due" name="due" typeRef="date"/>
      <rule id="r1">
        <inputEntry id="r1a"><text>&lt; 18</text></inputEntry>
        <inputEntry id="r1b"><text>-</text></inputEntry>
        <outputEntry id="r1c"><text>"minor"</text></outputEntry>
        <outputEntry id="r1d"><text>add_days(today(), 30)</text></outputEntry>
      </rule>
      <rule id="r2">
        <inputEntry id="r2a"><text>18 &lt;= ? &lt; 65</text></inputEntry>
        <inputEntry id="r2b"><text> in ("llc", "corp")</text></inputEntry>
        <outputEntry id="r2c"><text>"business"</text></outputEntry>
        <outputEntry id="r2d"><text>add_days(today(), 15)</text></outputEntry>
      </rule>
      <rule id="r3">
        <inputEntry id="r3a"><text>&gt;= 18</text></inputEntry>
        <inputEntry id="r3b"><text>"sole"</text></inputEntry>
        <outputEntry id="r3c"><text>"sole"</text></outputEntry>
        <outputEntry id="r3d"><text>today()</text></outputEntry>
      </rule>
      <rule id="r4">
        <inputEntry id="r4a"><text></text></inputEntry>
        <inputEntry id="r4b"><text></text></inputEntry>
        <outputEntry id="r4c"><text>"other"</text></outputEntry>
        <outputEntry id="r4d"><text>None</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>"""

DECISION_DIAGRAM = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://onething.test">
  <bpmn:process id="decide" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="classify"/>
    <bpmn:businessRuleTask id="classify" camunda:decisionRef="fee_class"/>
    <bpmn:sequenceFlow id="f2" sourceRef="classify" targetRef="route"/>
    <bpmn:exclusiveGateway id="route" default="to_other"/>
    <bpmn:sequenceFlow id="to_business" sourceRef="route" targetRef="end_business">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"
        >fee_class == "business"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_other" sourceRef="route" targetRef="end_other"/>
    <bpmn:endEvent id="end_business"/>
    <bpmn:endEvent id="end_other"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize(
    ("birth", "kind", "fee_class", "due", "route"),
    [
        ("20100101", "llc", "minor", date(2024, 5, 31), "end_other"),
        ("19900101", "corp", "business", date(2024, 5, 16), "end_business"),
        ("19900101", "sole", "sole", TODAY, "end_other"),
        ("19500101", "corp", "other", None, "end_other"),
    ],
)
def test_dmn_table_runs_through_the_restricted_engine(
    birth: str, kind: str, fee_class: str, due: date | None, route: str
) -> None:
    parser = CamundaParser()
    parser.add_bpmn_xml(etree.fromstring(DECISION_DIAGRAM.encode()), filename="decide.bpmn")
    parser.add_dmn_xml(etree.fromstring(DECISION.encode()), filename="fees.dmn")
    workflow = BpmnWorkflow(parser.get_spec("decide"), script_engine=make_script_engine(lambda: TODAY))
    workflow.get_tasks(state=TaskState.READY)[0].data.update(
        {"applicant_id": resident_id(birth), "kind": kind}
    )
    workflow.do_engine_steps()
    assert workflow.is_completed()
    end = next(t for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == route)
    assert end.data["fee_class"] == fee_class
    assert end.data["due"] == due


# --- the sandbox-escape corpus ------------------------------------------------------------

_recording: list[tuple[str, tuple[Any, ...]]] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording is not None:
        _recording.append((event, args))


sys.addaudithook(_audit)


@contextmanager
def recorded_audit_events() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Python's audit events (open, exec, import, os.system, ...) raised inside the block."""
    global _recording
    events: list[tuple[str, tuple[Any, ...]]] = []
    _recording = events
    try:
        yield events
    finally:
        _recording = None


# Events that mean user text reached code, files, processes or the network.
DANGEROUS_EVENTS = (
    "exec",
    "open",
    "import",
    "builtins.input",
    "sys._getframe",
    "code.__new__",
    "function.__new__",
)
DANGEROUS_PREFIXES = (
    "os.",
    "subprocess.",
    "socket.",
    "ctypes.",
    "shutil.",
    "urllib.",
    "http.",
    "pty.",
    "marshal.",
)


def assert_nothing_ran(events: list[tuple[str, tuple[Any, ...]]], *, strict: bool = True) -> None:
    """Only our own ``ast.parse`` may compile; nothing may open, exec, import, spawn or connect.

    ``strict`` (our code alone ran): the only events allowed are that compile and the ``id()``
    calls of ``copy.deepcopy``. Otherwise (SpiffWorkflow ran around us, reading tracebacks):
    no dangerous event at all.
    """
    for event, args in events:
        if event == "compile":
            assert args[1] == PARSE_FILENAME, (event, args)
        elif strict:
            assert event == "builtins.id", (event, args)
        elif event == "open" and str(args[0]).endswith(".py") and args[1] == "r":
            continue  # linecache reading source lines for SpiffWorkflow's error message
        else:
            assert event not in DANGEROUS_EVENTS and not event.startswith(DANGEROUS_PREFIXES), (event, args)


def test_corpus_is_large_and_covers_both_kinds() -> None:
    assert len(ESCAPES) >= 40
    assert {escape.kind for escape in ESCAPES} == {"expression", "script"}
    assert {escape.outcome for escape in ESCAPES} == {"refused", "failed"}


@pytest.mark.parametrize("escape", ESCAPES, ids=str)
def test_sandbox_escape_is_stopped_without_running(escape: Escape) -> None:
    names = copy.deepcopy(NAMES)
    expected = ExpressionRefused if escape.outcome == "refused" else ExpressionFailed
    with recorded_audit_events() as events, pytest.raises(expected) as info:
        if escape.kind == "expression":
            evaluate(escape.source, names, today=TODAY)
        else:
            execute(escape.source, names, today=TODAY)
    assert_nothing_ran(events)
    message = str(info.value)
    assert escape.fragment in message, message
    assert len(message) < 600
    assert names == NAMES
    check = check_expression if escape.kind == "expression" else check_script
    if escape.outcome == "refused":
        with pytest.raises(ExpressionRefused):
            check(escape.source)
    else:
        check(escape.source)


def test_escape_through_the_spiff_environment_leaves_task_data_alone() -> None:
    environment = RestrictedEnvironment(today=lambda: TODAY)
    context: dict[str, Any] = {"x": 1, "nested": {"a": [1]}}
    before = copy.deepcopy(context)
    for escape in ESCAPES:
        expected = ExpressionRefused if escape.outcome == "refused" else ExpressionFailed
        with pytest.raises(expected):
            if escape.kind == "expression":
                environment.evaluate(escape.source, context)
            else:
                environment.execute(escape.source, context)
    assert context == before


# --- property-based -----------------------------------------------------------------------

TOKENS = [
    *"()[]{}.,:;+-*/%<>=!~&|^@'\"\\#",
    "**",
    "//",
    "==",
    "<=",
    "if",
    "else",
    "for",
    "in",
    "not",
    "and",
    "or",
    "is",
    "None",
    "lambda",
    "x",
    "s",
    "l",
    "d",
    "__class__",
    "_",
    "len",
    "sum",
    "range",
    "age",
    "date",
    "today",
    "sorted",
    "0",
    "1",
    "9",
    "10",
    "1.5",
    "1e308",
    "'a'",
    "f'{x}'",
    "\n",
    " ",
    "    ",
]
HYPOTHESIS_NAMES = {"x": 3, "s": "abc", "l": [1, 2, [3]], "d": {"a": 1, 1: "b"}}


def only_language_errors(call: Any) -> None:
    with contextlib.suppress(ExpressionRefused, ExpressionFailed):
        call()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join) | st.text(max_size=80))
def test_random_text_raises_only_language_errors(text: str) -> None:
    only_language_errors(lambda: evaluate(text, dict(HYPOTHESIS_NAMES), today=TODAY))
    only_language_errors(lambda: execute(text, copy.deepcopy(HYPOTHESIS_NAMES), today=TODAY))


VARIABLES = {
    name: value for name, value in zip(string.ascii_lowercase[:8], [0, 1, -1, 2, -3, 7, 10, -12], strict=True)
}


def arithmetic() -> st.SearchStrategy[str]:
    leaves = st.sampled_from(sorted(VARIABLES)) | st.integers(-20, 20).map(lambda n: f"({n})")

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%"]), inner).map(
            lambda parts: f"({parts[0]} {parts[1]} {parts[2]})"
        )
        power = st.tuples(inner, st.integers(0, 3)).map(lambda parts: f"({parts[0]} ** {parts[1]})")
        negate = inner.map(lambda e: f"(-{e})")
        compare = st.tuples(inner, st.sampled_from(["<", "<=", "==", "!=", ">", ">="]), inner).map(
            lambda parts: f"({parts[0]} {parts[1]} {parts[2]})"
        )
        return binary | power | negate | compare

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(arithmetic())
def test_arithmetic_agrees_with_python(source: str) -> None:
    try:
        expected: Any = eval(source, {"__builtins__": {}}, dict(VARIABLES))
    except ArithmeticError:
        with pytest.raises((ExpressionFailed, ExpressionRefused)):
            evaluate(source, VARIABLES)
        return
    assert evaluate(source, VARIABLES) == expected


def test_today_in_a_diagram_is_the_office_date_not_utcs(db_url: str, tmp_path: Path) -> None:
    # 01:00 in Beijing on 24 November is still 23 November on a UTC clock.
    moment = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    runner = Runner(ManualClock(moment))
    assert runner.script_engine.environment.evaluate("today()", {}) == date(2026, 11, 24)
    engine = make_engine(db_url, tmp_path, clock=ManualClock(moment))
    try:
        assert engine.runner.script_engine.environment.evaluate("today()", {}) == date(2026, 11, 24)
    finally:
        engine.close()
