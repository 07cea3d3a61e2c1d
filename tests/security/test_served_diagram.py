"""Finding 1: script in a deployed diagram must never run in the site's origin.

Both ends are tested on their own. The serving end: a diagram holding an ``html:script``
that claims a clerk's task is written straight into the deployments table (validation
now refuses it, and the serving end must be safe even for a row that got in), and a
signed-in clerk opens ``/diagrams/{key}/{version}.bpmn`` in chromium: no script runs, the
task stays in the queue, and both diagram routes answer as a sandboxed download. The
deploy end: ``validate`` names the foreign content with its file and element id, the CLI
exits 1, and a deployment is refused, while every shipped diagram and what real
modellers write (bpmn-js colours, Camunda extensions, task scripts) still passes.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from playwright.sync_api import Error as PlaywrightError

from engine.bpmn.definitions import BPMN_NS, digest_files
from engine.bpmn.foreign_content import foreign_content_problems
from engine.bpmn.validation.bundle import validate_bundle_files
from engine.bpmn.validation.command import run_validate
from engine.bpmn.validation.paths import validate_paths
from engine.errors import DefinitionError
from engine.storage.models import Deployment
from tests.api.support import LiveServer, pdf, sqlite_server, upload
from tests.api.walking import apply, bundle_example, open_tasks_of
from tests.browser import conftest as browsing
from tests.browser.conftest import csrf_of, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = "school-enrollment"
CLERK_DEPARTMENT = "public-security"
TASK_ELEMENT = "Task_household_check"
XHTML = "http://www.w3.org/1999/xhtml"
# What the script does when it runs: mark the page, then claim the clerk's task with the
# CSRF token it reads from /inbox (the attack the finding showed), then say it is done.
CLAIMING_SCRIPT = """
window.__xss = 1;
document.title = "xss-ran";
fetch("/inbox").then(function (r) { return r.text(); }).then(function (html) {
  var token = html.match(/name="csrf_token" value="([^"]+)"/)[1];
  return fetch("/tasks/TASK_ID/claim", {
    method: "POST",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: "csrf_token=" + encodeURIComponent(token)
  });
}).then(function () { document.title = "xss-claimed"; });
"""

browser = browsing.browser  # Debian chromium through Playwright, as the browser tests use it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real server of its own: this module writes a deployment row by hand."""
    with sqlite_server(tmp_path_factory.mktemp("served-diagram")) as running:
        yield running


def shipped_files(bundle: str = BUNDLE) -> dict[str, bytes]:
    """The shipped bundle's files, as a deployment reads them."""
    folder = ROOT / "processes" / bundle
    return {
        p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".yaml", ".bpmn", ".dmn")
    }


def with_script(bpmn: bytes, element: str, script: str) -> bytes:
    """The diagram with ``<html:script>`` inside the documentation of ``element``."""
    root = etree.fromstring(bpmn)
    (task,) = [node for node in root.iter() if node.get("id") == element]
    documentation = etree.Element(f"{{{BPMN_NS}}}documentation")
    documentation.text = "核验户籍 "
    tag = etree.SubElement(documentation, f"{{{XHTML}}}script", nsmap={"html": XHTML})
    tag.text = script
    task.insert(0, documentation)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def hostile_files(script: str = "window.__xss = 1;") -> dict[str, bytes]:
    """The shipped bundle with a script in one user task's documentation."""
    files = shipped_files()
    files["process.bpmn"] = with_script(files["process.bpmn"], TASK_ELEMENT, script)
    return files


def store_unvalidated(server: LiveServer, files: dict[str, bytes]) -> int:
    """Write the files as the bundle's next version without validation; that version."""
    engine = server.engine
    with engine.db.read() as session:
        newest = engine.deployments.latest(session, BUNDLE)
    with engine.db.write() as session:
        session.add(
            Deployment(
                key=BUNDLE,
                version=newest.version + 1,
                digest=digest_files(files),
                manifest=dict(newest.manifest),
                files={name: data.decode("utf-8") for name, data in files.items()},
                created_by="test",
            )
        )
    return newest.version + 1


def open_task(server: LiveServer) -> dict[str, Any]:
    """A fresh case of applicant2 and its task in the clerk's queue (ready, unclaimed)."""
    with server.as_user("applicant2") as owner:
        started = apply(owner, BUNDLE, bundle_example(owner, BUNDLE, 0), "served-diagram")
        assert started.status_code == 201, started.text
        case_id = started.json()["id"]
    with server.as_user(f"clerk.{CLERK_DEPARTMENT}") as clerk:
        (task,) = open_tasks_of(clerk, case_id, BUNDLE)
    assert task["state"] == "ready" and task["assignee"] is None
    return task


def test_a_clerk_opening_a_diagram_with_a_script_runs_nothing_and_loses_no_task(
    server: LiveServer, browser: Any
) -> None:
    task = open_task(server)
    version = store_unvalidated(server, hostile_files(CLAIMING_SCRIPT.replace("TASK_ID", str(task["id"]))))
    context = browser.new_context(locale="zh-CN", base_url=server.base_url)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page, f"clerk.{CLERK_DEPARTMENT}")
        try:
            page.goto(f"/diagrams/{BUNDLE}/{version}.bpmn")
        except PlaywrightError as exc:
            assert "Download is starting" in str(exc), exc  # offered as a file: nothing was shown
        with contextlib.suppress(PlaywrightError):  # a script that ran claims, then says so: wait for it
            page.wait_for_function("document.title === 'xss-claimed'", timeout=3_000)
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert not page.title().startswith("xss-")
    finally:
        context.close()
    with server.as_user(f"clerk.{CLERK_DEPARTMENT}") as clerk:
        after = clerk.get(f"/api/tasks/{task['id']}").json()
    assert (after["state"], after["assignee"]) == ("ready", None), "the diagram's script claimed the task"


def page_session(server: LiveServer, username: str) -> httpx.Client:
    """A client signed in through the login form (the pages read the session cookie)."""
    client = server.client()
    token = csrf_of(client.get("/login").text)
    signed = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
    assert signed.status_code == 303, signed.text[:300]
    return client


@pytest.mark.parametrize(
    "route", ["/diagrams/{key}/{version}.bpmn", "/api/bundles/{key}/diagram?version={version}"]
)
def test_diagram_routes_answer_as_a_sandboxed_download(server: LiveServer, route: str) -> None:
    api = route.startswith("/api/")
    client = server.as_user("clerk.education") if api else page_session(server, "clerk.education")
    try:
        answer = client.get(route.format(key=BUNDLE, version=1))
    finally:
        client.close()
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith("<?xml")
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["x-content-type-options"] == "nosniff"
    policy = answer.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy


def test_material_downloads_are_sandboxed_too(server: LiveServer) -> None:
    task = open_task(server)
    with server.as_user("applicant2") as owner:
        stored = upload(owner, "birth_certificate", pdf("served-diagram:download"))
        rest = owner.get(f"/api/materials/{stored['id']}/content")
    with server.as_user(f"clerk.{CLERK_DEPARTMENT}") as clerk:
        kinds = clerk.get(f"/api/tasks/{task['id']}").json()["materials"]
        kind = sorted(kinds)[0]
        through_task = clerk.get(f"/api/tasks/{task['id']}/materials/{kind}")
    page = page_session(server, f"clerk.{CLERK_DEPARTMENT}")
    try:
        on_page = page.get(f"/tasks/{task['id']}/materials/{kind}")
    finally:
        page.close()
    for answer in (rest, through_task, on_page):
        assert answer.status_code == 200, answer.request.url
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in answer.headers["content-security-policy"], answer.request.url
    assert rest.headers["content-disposition"].startswith("attachment;")


def test_validate_names_foreign_content_with_file_and_element_id() -> None:
    report = validate_bundle_files(hostile_files())
    found = [p for p in report.problems if p.rule == "foreign-content"]
    assert len(found) == 1, report.problems
    (problem,) = found
    assert (problem.file, problem.element) == ("process.bpmn", TASK_ELEMENT)
    assert "html:script" in problem.message and "html:script" in problem.message_en


def test_the_cli_lists_the_foreign_content_and_exits_1(tmp_path: Path) -> None:
    folder = tmp_path / BUNDLE
    folder.mkdir()
    for name, data in hostile_files().items():
        (folder / name).write_bytes(data)
    out = io.StringIO()
    assert run_validate([str(folder)], out) == 1
    line = next(line for line in out.getvalue().splitlines() if "foreign-content" in line)
    assert line.startswith(f"{folder / 'process.bpmn'}: {TASK_ELEMENT}: ")


def test_a_lone_bpmn_file_with_a_script_is_named(tmp_path: Path) -> None:
    path = tmp_path / "lone.bpmn"
    path.write_bytes(with_script(shipped_files()["process.bpmn"], TASK_ELEMENT, "window.__xss = 1;"))
    (report,) = validate_paths([path])
    found = [(p.file, p.element) for p in report.problems if p.rule == "foreign-content"]
    assert found == [(str(path), TASK_ELEMENT)]


def test_deploying_a_diagram_with_a_script_is_refused(server: LiveServer) -> None:
    with pytest.raises(DefinitionError) as refused:
        server.engine.deploy_files(hostile_files(), by="analyst")
    assert any(p.rule == "foreign-content" and p.element == TASK_ELEMENT for p in refused.value.problems)


FOREIGN = {
    "svg in documentation": (
        '<bpmn:documentation><svg:svg xmlns:svg="http://www.w3.org/2000/svg" onload="x()"/>'
        "</bpmn:documentation>",
        "svg:svg",
    ),
    "script without a namespace": ("<bpmn:documentation><script>x()</script></bpmn:documentation>", "script"),
    "event handler on a vendor element": (
        '<bpmn:extensionElements><v:note xmlns:v="urn:vendor" onclick="x()"/></bpmn:extensionElements>',
        "onclick",
    ),
    "xlink attribute": (
        '<bpmn:extensionElements><v:a xmlns:v="urn:vendor" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xlink:href="javascript:x()"/></bpmn:extensionElements>',
        "xlink:href",
    ),
}
ALLOWED = {
    "bpmn-js colours": (
        '<bpmn:extensionElements><bioc:x xmlns:bioc="http://bpmn.io/schema/bpmn/biocolor/1.0"/>'
        "</bpmn:extensionElements>"
    ),
    "camunda script": (
        '<bpmn:extensionElements><camunda:inputOutput xmlns:camunda="http://camunda.org/schema/1.0/bpmn">'
        '<camunda:inputParameter name="a"><camunda:script scriptFormat="python">a = 1</camunda:script>'
        "</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>"
    ),
    "plain documentation": "<bpmn:documentation>onload &lt;script&gt; in text is text</bpmn:documentation>",
}
LONE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" isExecutable="true"><bpmn:task id="t">{inner}</bpmn:task></bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_foreign_markup_is_named(name: str) -> None:
    inner, shown = FOREIGN[name]
    problems = foreign_content_problems(LONE.format(inner=inner).encode(), "lone.bpmn")
    assert [(p.file, p.element, p.rule) for p in problems] == [("lone.bpmn", "t", "foreign-content")]
    assert shown in problems[0].message


def test_a_stylesheet_instruction_is_named() -> None:
    text = LONE.format(inner="").replace("?>", '?>\n<?xml-stylesheet type="text/xsl" href="data:,x"?>', 1)
    (problem,) = foreign_content_problems(text.encode(), "lone.bpmn")
    assert problem.rule == "foreign-content" and "xml-stylesheet" in problem.message


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_what_modellers_write_passes(name: str) -> None:
    assert foreign_content_problems(LONE.format(inner=ALLOWED[name]).encode(), "lone.bpmn") == []


def test_every_shipped_and_test_diagram_passes() -> None:
    paths = [
        p
        for folder in ("processes", "tests/engine/bundles", "tests/engine/fixtures")
        for p in sorted((ROOT / folder).rglob("*"))
        if p.suffix in (".bpmn", ".dmn") and "hostile" not in p.parts
    ]
    assert len(paths) >= 15
    found = {str(p): foreign_content_problems(p.read_bytes(), str(p)) for p in paths}
    assert {path: problems for path, problems in found.items() if problems} == {}
