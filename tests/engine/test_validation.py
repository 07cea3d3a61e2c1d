"""`onething validate`: every problem of a bundle or a BPMN file, with file and element id, in one run.

The fixtures under ``fixtures/`` are real bundle folders and real modeller files; the
mutation table changes one thing at a time in the valid bundle and expects exactly that
thing to be named.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.bpmn.definitions import read_bundle_dir
from engine.bpmn.validation.bpmn_file import validate_bpmn_file
from engine.bpmn.validation.bundle import validate_bundle_dir, validate_bundle_files
from engine.bpmn.validation.command import run_validate
from engine.bpmn.validation.paths import validate_paths
from engine.bpmn.validation.report import Report
from engine.storage.settings import shipped_processes_dir

FIXTURES = Path(__file__).parent / "fixtures"
VALID = FIXTURES / "valid-minimal"
MANY = FIXTURES / "many-problems"
LONE = FIXTURES / "lone"
ALL_BUNDLE_CHECKS = (
    "manifest",
    "files",
    "xml",
    "diagram",
    "bindings",
    "form",
    "examples",
    "names",
    "load",
    "routes",
)

Files = dict[str, bytes]


def where(report: Report) -> set[tuple[str, str, str]]:
    """(file, element, rule) of every problem."""
    return {(p.file, p.element, p.rule) for p in report.problems}


def cli(*paths: str | Path, as_json: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    code = run_validate([str(p) for p in paths], out, as_json=as_json)
    return code, out.getvalue()


# --- the fixture bundles ---------------------------------------------------------------


def test_valid_minimal_bundle_passes_every_check() -> None:
    code, text = cli(VALID)
    assert code == 0, text
    assert text.strip() == f"{VALID}: 通过 OK; 可运行 runnable [checked: {', '.join(ALL_BUNDLE_CHECKS)}]"
    report = validate_bundle_dir(VALID)
    assert report.ok and report.runnable and report.unsupported == ()
    assert set(report.checked) == set(ALL_BUNDLE_CHECKS)


MANY_PROBLEMS = {
    # the brief's list
    ("process.bpmn", "orphan_task", "lane-missing"),  # user task outside any lane
    ("process.bpmn", "unbound_task", "task-unbound"),  # task bound to no item
    ("process.bpmn", "Lane_magic", "lane-department"),  # lane naming an unknown department
    ("bundle.yaml", "items[ghost]", "item-task-missing"),  # item whose task id is missing
    ("process.bpmn", "f_evil", "expression-refused"),  # __import__('os')
    ("process.bpmn", "broken_script", "expression-syntax"),  # unparseable
    ("process.bpmn", "choose", "gateway-no-default"),  # no default, no condition
    ("process.bpmn", "stuck", "dead-end"),
    ("bundle.yaml", "items[business-registration].fields", "form-unknown_key"),  # unknown field
    # and the others in the same bundle
    ("process.bpmn", "f_mood", "unknown-name"),
    ("bundle.yaml", "items[wrong-lane]", "item-lane"),
    ("bundle.yaml", "items[wrong-lane]", "material-self-output"),
    ("bundle.yaml", "examples[0].data.legal_rep_id", "example-invalid"),
    ("bundle.yaml", "follow_on[0].when", "expression-refused"),
}


def test_invalid_bundle_lists_every_problem_with_file_and_element() -> None:
    code, text = cli(MANY)
    assert code == 1
    report = validate_bundle_dir(MANY)
    found = where(report)
    for file, element, rule in MANY_PROBLEMS:
        assert (f"{MANY}/{file}", element, rule) in found, (file, element, rule)
        line = re.compile(rf"^{re.escape(f'{MANY}/{file}: {element}: ')}.+ \({re.escape(rule)}\)$", re.M)
        assert line.search(text), f"no printed line for {file}: {element}: ... ({rule})"
    assert not report.runnable
    assert text.rstrip().splitlines()[-1].startswith(f"{MANY}: {len(report.problems)} 个问题 problem(s)")
    assert "Traceback" not in text


def test_json_output_carries_the_same_problems() -> None:
    code, text = cli(MANY, VALID, as_json=True)
    assert code == 1
    document = json.loads(text)
    assert document["ok"] is False
    bad, good = document["reports"]
    assert good == {**good, "path": str(VALID), "ok": True, "runnable": True, "problems": []}
    printed = {(p["file"], p.get("element", ""), p["rule"]) for p in bad["problems"]}
    assert {(f"{MANY}/{f}", e, r) for f, e, r in MANY_PROBLEMS} <= printed
    assert all(p["message"] and p.get("message_en") for p in bad["problems"])


def test_decision_table_cells_are_vetted_at_their_ids() -> None:
    report = validate_bundle_dir(FIXTURES / "dmn-cells")
    dmn = str(FIXTURES / "dmn-cells" / "capital.dmn")
    assert {
        (dmn, "in_bad", "expression-syntax"),
        (dmn, "cell_evil", "expression-refused"),
        (dmn, "out_evil", "expression-refused"),
    } <= where(report)
    # the decision's output is a name the gateway may read
    assert not any(p.rule == "unknown-name" for p in report.problems)


# --- lone modeller files -----------------------------------------------------------------


def test_lone_file_with_camunda_and_spiff_extensions_is_runnable() -> None:
    code, text = cli(LONE / "camunda_extensions.bpmn")
    assert code == 0, text
    report = validate_bpmn_file(LONE / "camunda_extensions.bpmn")
    assert report.ok and report.runnable
    assert report.checked == ("files", "xml", "diagram", "load")  # no manifest checks for a lone file


def test_lone_file_with_services_and_messages_runs_them_and_names_the_signal_it_cannot() -> None:
    # External service tasks, send and receive tasks and message events run; a signal does not.
    report = validate_bpmn_file(LONE / "services_and_messages.bpmn")
    assert not report.runnable
    assert report.unsupported == ("End_notify (signalEventDefinition)",)
    assert {p.element for p in report.problems if p.rule == "bpmn-unsupported"} == {"End_notify"}
    code, text = cli(LONE / "services_and_messages.bpmn")
    assert code == 1
    assert (
        "不可运行 not runnable — 不支持 unsupported: " in text
        and "End_notify (signalEventDefinition)" in text
    )
    assert "Task_lookup" not in text


def test_interrupting_timer_that_leaves_a_parallel_branch_is_a_deadlock() -> None:
    report = validate_bpmn_file(LONE / "parallel_timer_deadlock.bpmn")
    assert where(report) == {(str(LONE / "parallel_timer_deadlock.bpmn"), "Timer_tax", "parallel-deadlock")}
    assert "Join" in report.problems[0].message_en


def test_timer_path_that_rejoins_its_branch_before_the_join_passes() -> None:
    report = validate_bpmn_file(LONE / "parallel_timer_rejoin.bpmn")
    assert report.ok and report.runnable


def test_shape_problems_are_each_reported_at_their_element() -> None:
    report = validate_bpmn_file(LONE / "shape_problems.bpmn")
    file = str(LONE / "shape_problems.bpmn")
    assert {
        (file, "Fork", "implicit-split"),
        (file, "f_cond", "condition-ignored"),
        (file, "Island", "unreachable"),
        (file, "Sub", "no-end"),
        (file, "Sub_task", "dead-end"),
        (file, "Wait", "timer-unquoted"),
        (file, "headless", "no-start"),
    } <= where(report)
    assert not report.runnable


# --- one change at a time ------------------------------------------------------------------


def valid_files() -> Files:
    return read_bundle_dir(VALID)


def edit(name: str, old: str, new: str, count: int = 1) -> Callable[[Files], Files]:
    def apply(files: Files) -> Files:
        text = files[name].decode()
        assert old in text, f"fixture changed: {old!r} not in {name}"
        return {**files, name: text.replace(old, new, count).encode()}

    return apply


def replace_element(name: str, element_id: str, new: str) -> Callable[[Files], Files]:
    """Swap a whole element (opening tag to its closing tag) for ``new``."""
    pattern = re.compile(rf'<bpmn:(\w+) id="{element_id}"[^>]*>.*?</bpmn:\1>', re.S)

    def apply(files: Files) -> Files:
        text = files[name].decode()
        assert pattern.search(text), f"fixture changed: no element {element_id} in {name}"
        return {**files, name: pattern.sub(new, text, count=1).encode()}

    return apply


def drop(name: str) -> Callable[[Files], Files]:
    return lambda files: {k: v for k, v in files.items() if k != name}


def put(name: str, data: bytes) -> Callable[[Files], Files]:
    return lambda files: {**files, name: data}


BPMN, YAML = "process.bpmn", "bundle.yaml"
TIMER = '<bpmn:timeDuration>"P3D"</bpmn:timeDuration>'
# A second example without invoices: the diagram skips tax registration on its route.
SECOND_EXAMPLE = """route: [business-registration, tax-registration]
  - name: {zh: 不申领发票, en: Without invoices}
    data: {company_name: 上海一件事科技有限公司, legal_rep_name: 张三, legal_rep_id: "11010519491231002X",
           invoice_needed: false, registered_capital: 100}
    materials: [articles_of_association]
    decisions:
      business-registration: {uscc: "91350100M000100Y43"}
    route: [business-registration]"""


def compose(*edits: Callable[[Files], Files]) -> Callable[[Files], Files]:
    def apply(files: Files) -> Files:
        for change in edits:
            files = change(files)
        return files

    return apply


MUTATIONS: dict[str, tuple[Callable[[Files], Files], set[tuple[str, str, str]]]] = {
    "process id is not the bundle key": (
        edit(BPMN, 'process id="valid-minimal"', 'process id="something-else"'),
        {(BPMN, "valid-minimal", "process-id")},
    ),
    "manifest missing": (drop(YAML), {(YAML, "", "missing-file")}),
    "process file missing": (drop(BPMN), {(BPMN, "", "missing-file")}),
    "manifest schema error": (
        edit(YAML, "baseline: {steps: 4", "baselines: {steps: 4"),
        {(YAML, "baseline", "schema"), (YAML, "baselines", "schema")},
    ),
    "lane names an unknown department": (
        edit(BPMN, 'name="tax"', 'name="taxes"'),
        {(BPMN, "Lane_tax", "lane-department"), (YAML, "items[tax-registration]", "item-lane")},
    ),
    "item bound to a script task": (
        edit(YAML, "task: register_tax", "task: derive"),
        {(YAML, "items[tax-registration]", "item-task-missing"), (BPMN, "register_tax", "task-unbound")},
    ),
    "two items bound to one task": (
        edit(YAML, "task: register_tax", "task: register_business"),
        {(YAML, "items[tax-registration]", "duplicate-task"), (BPMN, "register_tax", "task-unbound")},
    ),
    "unknown department": (
        edit(YAML, "department: tax", "department: ministry-of-magic"),
        {
            (YAML, "items[tax-registration]", "item-department"),
            (YAML, "items[tax-registration]", "item-lane"),
        },
    ),
    "unknown material": (
        edit(YAML, "materials: [articles_of_association]", "materials: [articles_of_association, unicorn]"),
        {(YAML, "items[business-registration].materials", "form-unknown_key")},
    ),
    "exemption of a material the bundle does not ask": (
        edit(
            YAML,
            "examples:",
            "exemptions:\n  - {material: lease_contract, why: {zh: 共享, en: shared}}\nexamples:",
        ),
        {(YAML, "exemptions.lease_contract", "form-unknown_key")},
    ),
    "promise of a material the bundle does not ask": (
        edit(YAML, "examples:", "accept_with_promise:\n  - {material: premises_proof, days: 5}\nexamples:"),
        {(YAML, "promises.premises_proof", "form-unknown_key")},
    ),
    "condition on a field the bundle does not have": (
        edit(YAML, "examples:", "conditions:\n  invoice_needed: {has_employees: true}\nexamples:"),
        {(YAML, "conditions.invoice_needed", "form-unknown_field")},
    ),
    "example missing a required field": (
        edit(YAML, "legal_rep_name: 张三, legal_rep_id", "legal_rep_id"),
        {(YAML, "examples[0].data.legal_rep_name", "example-invalid")},
    ),
    "example decision outside the item's decision fields": (
        edit(YAML, '{uscc: "91350100M000100Y43"}', '{uscc: "91350100M000100Y43", assigned_school: 一小}'),
        {(YAML, "examples[0].decisions.business-registration.assigned_school", "example-invalid")},
    ),
    "example route naming no item": (
        edit(YAML, "route: [business-registration, tax-registration]", "route: [business-registration, tax]"),
        {(YAML, "examples[0].route", "example-invalid")},
    ),
    "example whose declared route the diagram does not take": (
        edit(BPMN, "wants_invoices == True and", "wants_invoices == False and"),
        {(YAML, "examples[0].route", "example-route")},
    ),
    "example that never reaches an end (a parallel join after an exclusive choice)": (
        edit(BPMN, '<bpmn:exclusiveGateway id="merge"/>', '<bpmn:parallelGateway id="merge"/>'),
        {(YAML, "examples[0]", "example-unfinished")},
    ),
    "example looping back forever": (
        edit(
            BPMN,
            '<bpmn:sequenceFlow id="f4" sourceRef="register_tax" targetRef="merge"/>',
            '<bpmn:sequenceFlow id="f4" sourceRef="register_tax" targetRef="register_business"/>',
        ),
        {(YAML, "examples[0]", "example-unfinished")},
    ),
    "example failing on an expression of the diagram": (
        edit(BPMN, "len(company_name) &gt; 1", "len(company_name) / 0 &gt; 1"),
        {(YAML, "examples[0]", "example-unfinished")},
    ),
    "condition asking what the example's route does not use": (
        compose(
            edit(
                YAML,
                "fields: [company_name, legal_rep_name]",
                "fields: [company_name, legal_rep_name, registered_capital]",
            ),
            edit(YAML, "examples:", "conditions:\n  registered_capital: {invoice_needed: false}\nexamples:"),
            edit(YAML, "route: [business-registration, tax-registration]", SECOND_EXAMPLE),
        ),
        {(YAML, "conditions.registered_capital", "condition-unused")},
    ),
    "material the item issues itself": (
        edit(
            YAML,
            "materials: [business_licence]",
            "materials: [business_licence]\n    outputs: [business_licence]",
        ),
        {(YAML, "items[tax-registration]", "material-self-output")},
    ),
    "unquoted timer": (
        edit(BPMN, TIMER, "<bpmn:timeDuration>P3D</bpmn:timeDuration>"),
        {(BPMN, "remind_tax", "timer-unquoted")},
    ),
    "timer that is not ISO 8601": (
        edit(BPMN, TIMER, '<bpmn:timeDuration>"P3X"</bpmn:timeDuration>'),
        {(BPMN, "remind_tax", "timer-format")},
    ),
    "script reading a name nobody sets": (
        edit(BPMN, "invoice_needed and business", "invoice_wanted and business"),
        {(BPMN, "derive", "unknown-name")},
    ),
    "condition reading a name the script no longer sets": (
        edit(BPMN, "<bpmn:script>wants_invoices =", "<bpmn:script>wants =", 1),
        {(BPMN, "f_tax", "unknown-name")},
    ),
    "default flow that is not the gateway's": (
        edit(BPMN, 'default="f_skip"', 'default="f4"'),
        {(BPMN, "route", "gateway-default"), (BPMN, "route", "gateway-no-default")},
    ),
    "condition on a flow out of a task": (
        edit(
            BPMN,
            '<bpmn:sequenceFlow id="f4" sourceRef="register_tax" targetRef="merge"/>',
            '<bpmn:sequenceFlow id="f4" sourceRef="register_tax" targetRef="merge">'
            "<bpmn:conditionExpression>True</bpmn:conditionExpression></bpmn:sequenceFlow>",
        ),
        {(BPMN, "f4", "condition-ignored")},
    ),
    "flow to a node that does not exist": (
        edit(BPMN, 'sourceRef="merge" targetRef="end"', 'sourceRef="merge" targetRef="the_end"'),
        {(BPMN, "f6", "flow-ref"), (BPMN, "merge", "dead-end")},
    ),
    "call activity to a missing process": (
        edit(
            BPMN,
            '<bpmn:exclusiveGateway id="merge"/>',
            '<bpmn:exclusiveGateway id="merge"/>'
            '<bpmn:callActivity id="call_missing" calledElement="nowhere"/>'
            '<bpmn:sequenceFlow id="f_call" sourceRef="call_missing" targetRef="end"/>',
        ),
        {(BPMN, "call_missing", "call-target"), (BPMN, "call_missing", "unreachable")},
    ),
    "element the schema does not know": (
        edit(BPMN, '<bpmn:endEvent id="end"', '<bpmn:frobnicate id="odd"/><bpmn:endEvent id="end"'),
        {(BPMN, "odd", "schema")},
    ),
    "service task no system item binds": (
        replace_element(BPMN, "derive", '<bpmn:serviceTask id="derive"/>'),
        {(BPMN, "derive", "service-unbound")},
    ),
    "service task calling a Java class": (
        replace_element(
            BPMN,
            "derive",
            '<bpmn:serviceTask id="derive" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
            'camunda:class="org.example.Derive"/>',
        ),
        {(BPMN, "derive", "bpmn-unsupported")},
    ),
    "vendor pre-script the engine would skip": (
        edit(
            BPMN,
            '<bpmn:userTask id="register_tax" name="涉税事项"/>',
            '<bpmn:userTask id="register_tax" name="涉税事项" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">'
            "<bpmn:extensionElements><spiffworkflow:preScript>x = 1</spiffworkflow:preScript>"
            "</bpmn:extensionElements></bpmn:userTask>",
        ),
        {(BPMN, "register_tax", "bpmn-unsupported")},
    ),
    "timer on the process's start": (
        edit(
            BPMN,
            '<bpmn:startEvent id="start" name="申请提交"/>',
            '<bpmn:startEvent id="start"><bpmn:timerEventDefinition>'
            '<bpmn:timeDate>"2030-01-01"</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:startEvent>',
        ),
        {(BPMN, "start", "bpmn-unsupported")},
    ),
    "groovy script": (
        edit(BPMN, '<bpmn:scriptTask id="derive"', '<bpmn:scriptTask scriptFormat="groovy" id="derive"'),
        {(BPMN, "derive", "bpmn-unsupported")},
    ),
    "diagram not well formed": (
        lambda files: {**files, BPMN: files[BPMN][:-40]},
        {(BPMN, "", "xml-syntax")},
    ),
    "diagram that is not BPMN": (
        put(BPMN, b'<?xml version="1.0"?><html><body/></html>'),
        {(BPMN, "", "bpmn-root")},
    ),
    "diagram not in UTF-8": (
        lambda files: {**files, BPMN: files[BPMN].decode().replace("UTF-8", "GB18030").encode("gb18030")},
        {(BPMN, "", "encoding")},
    ),
    "second diagram nobody runs": (
        put("old.bpmn", (VALID / BPMN).read_bytes()),
        {("old.bpmn", "", "unused-file")},
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_one_change_is_named_exactly(name: str) -> None:
    mutate, expected = MUTATIONS[name]
    report = validate_bundle_files(mutate(valid_files()), "upload")
    assert expected <= where(report), sorted(where(report))
    assert all(p.rule != "internal" for p in report.problems), report.problems
    assert all(p.message and p.message_en for p in report.problems)


def test_a_stuck_example_says_where_it_waits_and_an_invalid_example_is_not_run() -> None:
    mutate, _ = MUTATIONS["example that never reaches an end (a parallel join after an exclusive choice)"]
    (stuck,) = [
        p for p in validate_bundle_files(mutate(valid_files())).problems if p.rule == "example-unfinished"
    ]
    assert "停在 merge" in stuck.message and "waiting at merge" in stuck.message_en
    # Only "example-invalid" for an example that is no valid application: running it would add noise.
    mutate, _ = MUTATIONS["example missing a required field"]
    report = validate_bundle_files(mutate(valid_files()))
    assert {p.rule for p in report.problems} == {"example-invalid"}
    assert "routes" in report.checked


def test_examples_run_only_on_a_diagram_without_problems() -> None:
    mutate, _ = MUTATIONS["timer that is not ISO 8601"]
    report = validate_bundle_files(mutate(valid_files()))
    assert "routes" not in report.checked and "load" in report.checked


def test_unsupported_element_makes_the_bundle_not_runnable_and_is_named() -> None:
    mutate, _ = MUTATIONS["service task calling a Java class"]
    report = validate_bundle_files(mutate(valid_files()), "upload")
    assert not report.runnable
    assert report.unsupported == ("derive (serviceTask camunda:class)",)


def test_a_crashing_check_becomes_a_problem_and_the_others_still_run() -> None:
    class Exploding(frozenset[str]):
        def __contains__(self, key: object) -> bool:
            raise RuntimeError("departments unavailable")

    files = MUTATIONS["unquoted timer"][0](valid_files())
    report = validate_bundle_files(files, "upload", departments=Exploding())
    rules = {p.rule for p in report.problems}
    assert "internal" in rules
    assert "timer-unquoted" in rules  # a later check still ran
    assert "examples" in report.checked


# --- paths, folders and the CLI --------------------------------------------------------------


def test_folder_of_bundles_is_checked_bundle_by_bundle_and_keys_must_differ(tmp_path: Path) -> None:
    shutil.copytree(VALID, tmp_path / "a")
    shutil.copytree(VALID, tmp_path / "b")
    reports = validate_paths([tmp_path])
    assert [r.path for r in reports] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert reports[0].ok
    assert where(reports[1]) == {(str(tmp_path / "b" / "bundle.yaml"), "valid-minimal", "duplicate-key")}


def test_cli_reports_bad_paths_and_garbage_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "garbage.bpmn").write_bytes(b"\x00\xff\xfe not xml at all")
    bundle = tmp_path / "binary-bundle"
    bundle.mkdir()
    (bundle / "bundle.yaml").write_bytes(b"\x00\x01\x02\xff")
    paths = [
        tmp_path / "missing",
        tmp_path / "empty",
        tmp_path / "notes.txt",
        tmp_path / "garbage.bpmn",
        bundle,
    ]
    code, text = cli(*paths)
    assert code == 1
    assert "Traceback" not in text
    for path in paths:
        assert re.search(
            rf"^{re.escape(str(path))}: \d+ 个问题 problem\(s\); 不可运行 not runnable", text, re.M
        ), path


def test_cli_without_paths_says_what_is_missing() -> None:
    code, text = cli()
    assert code == 1
    assert "请给出要校验的路径" in text


def test_shipped_bundles_validate_without_problems() -> None:
    reports = validate_paths([shipped_processes_dir()])
    assert {Path(r.path).name for r in reports} >= {"enterprise-startup", "school-enrollment"}
    for report in reports:
        assert report.ok, [f"{p.file}: {p.element}: {p.message} ({p.rule})" for p in report.problems]
        assert report.runnable and set(report.checked) >= set(ALL_BUNDLE_CHECKS)


def test_the_whole_processes_folder_validates_as_the_shell_globs_it() -> None:
    """``onething validate processes/*`` meets the department table too, and checks it."""
    paths = sorted(shipped_processes_dir().iterdir())
    code, text = cli(*paths)
    assert code == 0, text
    assert "departments.yaml: 通过 OK" in text


def test_a_broken_department_table_names_each_bad_entry(tmp_path: Path) -> None:
    table = tmp_path / "departments.yaml"
    table.write_text(
        "tax: {zh: 税务局, en: Taxation, kind: government}\n"
        "Bad_Key: {zh: 某局, en: Some office}\n"
        "court: {zh: 法院}\n"
        "bank: {zh: 开户银行, en: Bank, kind: shop}\n",
        encoding="utf-8",
    )
    code, text = cli(table)
    assert code == 1
    for element, rule in (
        ("Bad_Key", "department-key"),
        ("court", "department-name"),
        ("bank", "department-kind"),
    ):
        assert f"{element}: " in text and f"({rule})" in text, text


# --- open inputs ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifest=st.binary(max_size=600), diagram=st.binary(max_size=600))
def test_arbitrary_bytes_give_problems_never_an_exception(manifest: bytes, diagram: bytes) -> None:
    report = validate_bundle_files({"bundle.yaml": manifest, "process.bpmn": diagram}, "fuzz")
    assert report.problems and not report.runnable
    assert all(p.rule != "internal" for p in report.problems), report.problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_valid_bundles_give_problems_never_an_exception(data: st.DataObject) -> None:
    files = valid_files()
    name = data.draw(st.sampled_from(sorted(files)))
    text = files[name]
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 80)))
    filler = data.draw(
        st.sampled_from([b"", b"<", b">", b"&", b'"', b"\n  - ", b"__import__", b"<bpmn:task/>"])
    )
    damaged = {**files, name: text[:start] + filler + text[end:]}
    report = validate_bundle_files(damaged, "fuzz")
    assert all(p.rule != "internal" for p in report.problems), report.problems
    if report.ok:
        assert report.runnable
