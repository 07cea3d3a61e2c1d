"""Values are sized as they are stored: shared references count every time they appear.

``cond and [[1] * 8000] * 8000`` builds two small lists, but its result is copied into the
task data and written as JSON as 64 million elements (14.6 s to deploy, seconds on every
case start); ``[[1] * 10**4] * 10**4`` took 17 s and 1.1 GB. Each must be refused at
deploy when its size is known from the text, at run time when it comes from case data,
and in well under a second, without building the large value on the way.
"""

from __future__ import annotations

import copy
import time
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.definitions import read_bundle_dir
from engine.bpmn.expressions import Limits, check_expression, evaluate, execute
from engine.bpmn.validation.bundle import validate_bundle_files
from engine.errors import ExpressionFailed, ExpressionRefused
from tests.engine.test_expressions import causes, fee_workflow

# Refusals must be quick and small; the values refused would take seconds and gigabytes.
QUICK_SECONDS = 1.0
SMALL_BYTES = 4_000_000

BOMBS = ["cond and [[1]*8000]*8000", "[[1]*10**4]*10**4"]


def refused_quickly(call: Callable[[], Any], error: type[Exception], fragment: str) -> str:
    """Assert ``call`` raises ``error`` within QUICK_SECONDS, and at most SMALL_BYTES at its peak.

    Timed and traced in two runs: tracing every allocation slows Python code severalfold.
    """
    started = time.perf_counter()
    with pytest.raises(error) as info:
        call()
    elapsed = time.perf_counter() - started
    assert elapsed < QUICK_SECONDS, f"took {elapsed:.2f} s"
    tracemalloc.start()
    try:
        with pytest.raises(error):
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < SMALL_BYTES, f"peak {peak} bytes"
    message = str(info.value)
    assert fragment in message, message
    return message


# --- the two expressions of the finding -----------------------------------------------------


@pytest.mark.parametrize("source", BOMBS)
def test_repeated_rows_are_refused_at_deploy(source: str) -> None:
    message = refused_quickly(lambda: check_expression(source), ExpressionRefused, "value too large")
    assert "a constant part cannot be evaluated" in message
    assert "more than 1000000 characters or elements" in message


@pytest.mark.parametrize("n", [8000, 10**4])
def test_repeated_rows_sized_by_case_data_fail_at_run_time(n: int) -> None:
    check_expression("cond and [[1]*n]*n")
    refused_quickly(
        lambda: evaluate("cond and [[1]*n]*n", {"cond": True, "n": n}), ExpressionFailed, "value too large"
    )
    assert evaluate("cond and [[1]*n]*n", {"cond": False, "n": n}) is False


@pytest.mark.parametrize(
    "source",
    [
        "[[1]*1000]*1000 + [[1]*1000]*1000",  # two values within the limit, joined beyond it
        "['a'*10**6]*10**6",  # a string repeated by reference
        "[10**1000]*10**6",  # a thousand digits, a million times
        "[['x'*500]*1000]*3",
        "len([[0]*5000]*5000) > 1",  # refused although only its length is used
    ],
)
def test_constant_values_larger_than_stored_are_refused_at_deploy(source: str) -> None:
    refused_quickly(lambda: check_expression(source), ExpressionRefused, "value too large")


FIXTURE = Path(__file__).parent / "fixtures" / "valid-minimal"
CONDITION = "wants_invoices == True and len(company_name) &gt; 1"


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_bundle_with_repeated_rows_is_refused_at_validation_in_a_moment(bomb: str) -> None:
    files = read_bundle_dir(FIXTURE)
    text = files["process.bpmn"].decode()
    assert CONDITION in text, "fixture changed"
    condition = "wants_invoices == True and " + bomb.replace("cond and ", "")
    files = {**files, "process.bpmn": text.replace(CONDITION, condition).encode()}
    started = time.perf_counter()
    report = validate_bundle_files(files, "upload")
    elapsed = time.perf_counter() - started
    refusals = [p for p in report.problems if p.rule == "expression-refused"]
    assert [(p.file, p.element) for p in refusals] == [("process.bpmn", "f_tax")], report.problems
    assert "value too large" in refusals[0].message_en
    assert elapsed < 5, f"validation took {elapsed:.1f} s"


def test_a_script_task_building_repeated_rows_fails_cleanly_with_task_data_unchanged() -> None:
    data = {"base": 8000, "applicant": {"name": "Alice", "tags": ["local"]}}
    workflow = fee_workflow("fee = 1\nlevel = [[1] * base] * base", copy.deepcopy(data))
    started = time.perf_counter()
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert time.perf_counter() - started < QUICK_SECONDS
    assert any(
        isinstance(cause, ExpressionFailed) and "value too large" in str(cause)
        for cause in causes(info.value)
    )
    failed_task = next(t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "compute")
    assert failed_task.state == TaskState.ERROR
    assert failed_task.data == data


# --- results handed back to the case ---------------------------------------------------------


def test_a_shared_result_from_case_data_is_refused_before_it_is_copied() -> None:
    rows = [[1] * 3000] * 3000
    refused_quickly(lambda: evaluate("rows", {"rows": rows}), ExpressionFailed, "the result is larger than")
    refused_quickly(lambda: evaluate("{'all': rows}", {"rows": rows}), ExpressionFailed, "value too large")


class Rows(list[Any]):
    """A list subclass, as a library could hand one over in task data."""


def test_collection_subclasses_in_case_data_are_measured_like_their_bases() -> None:
    shared = [[1] * 3000] * 3000
    for rows in (
        Rows(shared),
        {"rows": Rows(shared)},
        OrderedDict(a=shared),
        [Rows([Rows(["x" * 600])] * 2000)],
    ):
        with pytest.raises(ExpressionFailed, match="the result is larger than"):
            evaluate("rows", {"rows": rows})


@pytest.mark.parametrize(
    ("change", "grows"),
    [
        ("for i in range(300):\n    inner.append(i)", True),
        ("inner.extend([0] * 300)", True),
        ("inner[0] = [0] * 300", True),
        ("table.update({'more': [0] * 300})", True),
        ("table['more'] = [0] * 300", True),
        ("inner.pop(0)", False),
        ("table.pop('big')", False),
    ],
)
def test_sizes_the_run_remembers_are_forgotten_when_a_script_changes_a_collection(
    change: str, grows: bool
) -> None:
    # The first join measures (and remembers) outer and rows, 4530 each; the change makes
    # them far larger or smaller, which the second join must see.
    second = "outer + rows" if grows else "outer + outer + rows + rows"
    script = (
        "inner = [[0] * 150, 1]\ntable = {'big': [0] * 150}\nouter = [inner] * 30\nrows = [table] * 30\n"
        f"probe = outer + rows\n{change}\nprobe = {second}"
    )
    limits = Limits(max_size=10_000)
    if grows:
        with pytest.raises(ExpressionFailed, match="value too large"):
            execute(script, {}, limits=limits)
    else:
        assert execute(script, {}, limits=limits)["probe"]


def test_a_list_a_script_appends_to_keeps_its_remembered_size_exact() -> None:
    script = (
        "seen = [0] * 20\nprobe = seen + []\nfor i in range(40):\n    seen.append('ab')\nprobe = seen + seen"
    )
    # seen: 20 + 80 = 100 as stored; twice that is exactly the limit.
    assert (
        execute(script, {}, limits=Limits(max_size=200))["probe"]
        == [0] * 20 + ["ab"] * 40 + [0] * 20 + ["ab"] * 40
    )
    with pytest.raises(ExpressionFailed, match="value too large"):
        execute(script, {}, limits=Limits(max_size=199))


def test_joining_in_a_loop_measures_each_list_once() -> None:
    # Measuring ``l`` afresh on every join took 0.57 s of CPU here; remembered, about 0.03 s.
    started = time.process_time()
    assert len(execute("l = []\nfor i in range(4000):\n    l = l + [i]", {})["l"]) == 4000
    assert time.process_time() - started < 0.2


@pytest.mark.parametrize(
    "adding",
    [
        "rows.append(row)",
        "rows.extend([row])",
        "rows[0] = row",
        "table[i] = row",
        "table.update({i: row})",
    ],
)
def test_what_a_script_adds_in_a_loop_is_charged_at_its_stored_size(adding: str) -> None:
    # A thousand references to one row are a million elements to compare, store or print.
    script = f"row = [0] * 1000\nrows = [0]\ntable = {{}}\nfor i in range(1000):\n    {adding}\nn = 1"
    names: dict[str, Any] = {}
    with pytest.raises(ExpressionFailed, match="more than 100000 characters or elements produced"):
        execute(script, names, limits=Limits(max_allocated=100_000))
    assert names == {}
    assert execute(script.replace("range(1000)", "range(20)"), names, limits=Limits(max_allocated=100_000))


@pytest.mark.parametrize(
    "comparing",
    [
        "same = b == b2",
        "same = b != b2",
        "less = b < b2",
        "found = a2 in b",
        "n = b.count(a2)",
        "m = max(b, b2)",
    ],
)
def test_comparing_a_row_aliased_and_grown_in_place_is_refused(comparing: str) -> None:
    # b refers to a a thousand times; growing a afterwards makes b as large as a thousand rows.
    # At full scale (a million references, 50 000 elements) one comparison ran for minutes in C.
    script = (
        "a = []\nb = [a] * 1000\na2 = []\nb2 = [a2] * 1000\n"
        f"a.extend(range(200))\na2.extend(range(200))\n{comparing}"
    )
    with pytest.raises(ExpressionFailed, match="larger than 100000 characters or elements as stored"):
        execute(script, {}, limits=Limits(max_allocated=100_000, max_result_size=10**9))
    assert execute(script.replace("range(200)", "range(20)"), {}, limits=Limits(max_allocated=100_000))


def test_ordinary_comparisons_of_collections_still_work() -> None:
    assert evaluate("[1, [2]] == [1, [2]] and (1, 2) < (1, 3) and 'a' in ['a'] and {1: [2]} != {1: [3]}", {})
    assert evaluate(
        "kind in ('llc', 'corp') and [1] not in [[2]] and 3 in {3: 1} and 'b' in 'abc'", {"kind": "llc"}
    )
    assert evaluate("max([[1, 2], [1, 3]]) == [1, 3] and [[1], [1]].count([1]) == 2", {})


def test_a_script_growing_a_shared_row_is_refused_when_handed_back() -> None:
    script = "row = []\nrows = [row] * 2000\nfor i in range(2000):\n    row.append(i)"
    names: dict[str, Any] = {}
    refused_quickly(lambda: execute(script, names), ExpressionFailed, "the result is larger than")
    assert names == {}


def test_all_names_a_script_sets_share_one_result_bound() -> None:
    names: dict[str, Any] = {"r": [1] * 600}
    limits = Limits(max_result_size=1_000)
    with pytest.raises(ExpressionFailed, match="the result is larger than 1000"):
        execute("a = r\nb = r", names, limits=limits)
    assert set(names) == {"r"}
    assert execute("a = r", names, limits=limits) == {"a": names["r"]}


def test_the_result_bound_is_a_parameter_counted_at_its_edge() -> None:
    rows = [[1] * 10] * 10
    assert evaluate("rows", {"rows": rows}, limits=Limits(max_result_size=100)) == rows
    with pytest.raises(ExpressionFailed, match="larger than 99 characters"):
        evaluate("rows", {"rows": rows}, limits=Limits(max_result_size=99))
    # Characters of texts count, and so do the digits of a very wide integer.
    assert evaluate("['abcd'] * 5", {}, limits=Limits(max_result_size=20)) == ["abcd"] * 5
    with pytest.raises(ExpressionFailed, match="larger than 19 characters"):
        evaluate("['abcd'] * 5", {}, limits=Limits(max_result_size=19))
    with pytest.raises(ExpressionFailed, match="larger than 1000 characters"):
        evaluate("[n]", {"n": 10**1100}, limits=Limits(max_result_size=1000))


def test_a_result_is_an_unshared_copy() -> None:
    result = evaluate("[[0] * 2] * 2", {})
    assert result == [[0, 0], [0, 0]]
    assert result[0] is not result[1]
    result = evaluate("[row, row]", {"row": {"a": [1]}})
    assert result[0] is not result[1] and result[0]["a"] is not result[1]["a"]


def test_copying_a_result_watches_the_clock() -> None:
    with pytest.raises(ExpressionFailed, match="time limit"):
        evaluate("rows", {"rows": [[1] * 100] * 100}, limits=Limits(max_seconds=0.0))


def test_measuring_a_large_result_watches_the_clock() -> None:
    rows = [[i] for i in range(20_000)]
    with pytest.raises(ExpressionFailed, match="time limit"):
        evaluate("rows", {"rows": rows}, limits=Limits(max_seconds=0.0))


def test_a_shared_part_nested_deeper_the_second_time_is_still_refused() -> None:
    deep: list[Any] = [1]
    for _ in range(20):
        deep = [deep]
    wrapped: list[Any] = deep
    for _ in range(11):
        wrapped = [wrapped]
    assert evaluate("wrapped", {"wrapped": wrapped}) == wrapped
    # ``deep`` is met first one level down (and sized once), then again twelve levels down.
    with pytest.raises(ExpressionFailed, match="nested more than 32 levels"):
        evaluate("[deep, wrapped]", {"deep": deep, "wrapped": wrapped})
    assert evaluate("[deep, deep]", {"deep": deep}) == [deep, deep]


@pytest.mark.parametrize(("levels", "allowed"), [(32, True), (33, False)])
def test_result_nesting_is_bounded_at_its_edge(levels: int, allowed: bool) -> None:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    if allowed:
        assert evaluate("v", {"v": value}) == value
    else:
        with pytest.raises(ExpressionFailed, match="nested more than 32 levels"):
            evaluate("v", {"v": value})


# --- values built while running ---------------------------------------------------------------


SMALL = Limits(max_size=1_000, max_result_size=1_000)


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("[r, r]", {"r": [1] * 600}),
        ("(r, r)", {"r": [1] * 600}),
        ("{'a': r, 'b': r}", {"r": [1] * 600}),
        ("{r[0]: r, 'b': r}", {"r": ["k"] * 600}),
        ("[r for i in range(3)]", {"r": [1] * 400}),
        ("{i: r for i in range(3)}", {"r": [1] * 400}),
        ("list(r for i in range(3))", {"r": [1] * 400}),
        ("tuple(r for i in range(3))", {"r": [1] * 400}),
        ("sorted(r for i in range(3))", {"r": [1] * 400}),
        ("dict((i, r) for i in range(3))", {"r": [1] * 400}),
        ("dict(d)", {"d": {"a": [1] * 600, "b": [1] * 600}}),
        ("r + r", {"r": [[1] * 10] * 60}),
        ("len([r] * 2) > 1", {"r": [1] * 600}),
        ("len([s] * 3) > 1", {"s": "x" * 400}),
        ("len(str(rows)) > 0", {"rows": [["x" * 10] * 10] * 11}),
        ("len(f'{rows}') > 0", {"rows": [[1] * 100] * 11}),
    ],
)
def test_values_built_from_shared_parts_are_sized_as_stored(source: str, names: dict[str, Any]) -> None:
    check_expression(source)
    with pytest.raises(ExpressionFailed, match="value too large"):
        evaluate(source, names, limits=SMALL)


@pytest.mark.parametrize("source", ["str(rows)", "f'{rows}'"])
def test_a_shared_value_is_refused_before_it_is_turned_into_text(source: str) -> None:
    refused_quickly(
        lambda: evaluate(source, {"rows": [[1] * 3000] * 3000}), ExpressionFailed, "value too large"
    )


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("'a' * 1_000_000", True),
        ("'a' * 1_000_001", False),
        ("[[1]*1000]*1000", True),
        ("[[1]*1000]*1001", False),
        ("['ab'] * 500_000", True),
        ("['ab'] * 500_001", False),
        ("[[1]*500]*1000 + [[1]*500]*1000", True),
        ("[[1]*500]*1000 + [[1]*500]*1000 + [[1]]", False),
    ],
)
def test_size_limit_edges(source: str, allowed: bool) -> None:
    if allowed:
        check_expression(source)
    else:
        with pytest.raises(ExpressionRefused, match="value too large"):
            check_expression(source)


def test_ordinary_repetition_and_joining_still_work() -> None:
    assert evaluate("[0] * 3 + [1]", {}) == [0, 0, 0, 1]
    assert evaluate("['ab'] * 2", {}) == ["ab", "ab"]
    assert evaluate("[[0] * 2] * 2", {}) == [[0, 0], [0, 0]]
    assert evaluate("[] * 10**9 + [] == []", {}) is True
    assert evaluate("3 * (1, 'x')", {}) == (1, "x", 1, "x", 1, "x")
    assert evaluate("str([1, 'a', None])", {}) == "[1, 'a', None]"
    assert evaluate("rows * 1", {"rows": [{"k": [1, 2]}]}) == [{"k": [1, 2]}]
