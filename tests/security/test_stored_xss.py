"""Stored XSS: every payload of ``xss_payloads.txt`` in every free-text field, every page that shows it.

The payloads are data (``xss_payloads.txt``); so are the fields and the pages (``FIELDS``):
a row names how the text gets in (one of ``PLANTERS``, each the real route a user writes
through), how many characters the field takes (the payloads are joined up to that), and
who opens which pages afterwards. All payloads of a field go in together, so the module
runs one browser visit per page, not one per payload.

In real chromium each page is checked for: no payload script ran (payloads set
``top.__xss``), no element of a payload exists (they carry ``data-xss``), no template
expression was evaluated (``1337xss``), no Content-Security-Policy violation was reported
(markup that got through but was stopped by the policy still fails the test), and no
work item changed state while the pages were open.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
import yaml
from sqlalchemy import select

from engine.storage.models import WorkItem
from tests.api.support import LiveServer, sqlite_server
from tests.api.walking import apply, bundle_example, open_tasks_of, work_case
from tests.browser import conftest as browsing
from tests.browser.conftest import csp_violations

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MARK = "top.__xss=1"
PASSWORD = "Xss-probe-passphrase-2025"
EVALUATED = "1337xss"


def payloads() -> list[str]:
    """The payload lines, with MARK replaced by the script that marks the page."""
    lines = (HERE / "xss_payloads.txt").read_text(encoding="utf-8").splitlines()
    return [line.replace("MARK", MARK) for line in lines if line.strip() and not line.startswith("#")]


def tag(field: Field) -> str:
    """The word that starts each of a field's texts (to see which page shows which field)."""
    return f"xss-{field.planter}"


def joined(limit: int, start: str = "") -> str:
    """``start`` and as many whole payloads as fit in ``limit`` characters (at least the first one)."""
    text = start
    for payload in payloads():
        candidate = f"{text} {payload}" if text else payload
        if len(candidate) > limit:
            break
        text = candidate
    return text if text != start else payloads()[0][:limit]


@dataclass(frozen=True)
class Visit:
    """One page to open: who opens it, its path ({names} from the planters), and how.

    ``form``: the name of a planted form, posted to ``path`` from the browser (the answer is
    the page); ``upload``: the name of a planted file, sent through ``path``'s file input.
    """

    who: str
    path: str
    form: str = ""
    upload: str = ""


@dataclass(frozen=True)
class Field:
    """One free-text field: how its text is planted, its length, and the pages that show it."""

    name: str
    planter: str
    limit: int
    pages: tuple[Visit, ...]


FIELDS = (
    Field(
        "application text fields (company name, address, business scope)",
        "application",
        2000,
        (
            Visit("applicant2", "/cases/{running_case}"),
            Visit("clerk.market-regulation", "/tasks/{returned_task}"),
        ),
    ),
    Field(
        "the application form and its review, shown again with what was typed",
        "typed_answers",
        2000,
        (
            Visit("applicant1", "/apply/enterprise-startup", form="typed_edit"),
            Visit("applicant1", "/apply/enterprise-startup", form="typed_review"),
        ),
    ),
    Field(
        "return comment and problem",
        "return_notice",
        1000,
        (
            Visit("applicant2", "/cases/{running_case}"),
            Visit("clerk.market-regulation", "/tasks/{returned_task}"),
        ),
    ),
    Field(
        "rating comment",
        "rating",
        1000,
        (Visit("applicant2", "/cases/{finished_case}"),),
    ),
    Field(
        "bundle name and description (analyst deploy)",
        "bundle",
        120,
        (
            Visit("applicant1", "/"),
            Visit("applicant1", "/apply/{bundle}"),
            Visit("analyst", "/studio"),
            Visit("analyst", "/studio/{bundle}"),
            Visit("analyst", "/studio/{bundle}/edit"),
        ),
    ),
    Field(
        "a refused upload (its problems quote the manifest, its diagram is drawn)",
        "refused_upload",
        200,
        (Visit("analyst", "/studio", upload="refused_zip"),),
    ),
    Field(
        "account display name",
        "display_name",
        128,
        (Visit("{account}", "/"), Visit("{account}", "/inbox")),
    ),
)


def plant_application(server: LiveServer, text: Callable[[int], str], out: dict[str, Any]) -> None:
    """applicant2 applies for enterprise startup with payloads in its free-text fields."""
    with server.as_user("applicant2") as owner:
        example = bundle_example(owner, "enterprise-startup", 0)
        data = {
            **example["data"],
            "company_name": text(100),
            "address": text(200),
            "business_scope": text(2000),
        }
        started = apply(owner, "enterprise-startup", {**example, "data": data}, "stored-xss")
        assert started.status_code == 201, started.text
        out["running_case"] = started.json()["id"]


def plant_return_notice(server: LiveServer, text: Callable[[int], str], out: dict[str, Any]) -> None:
    """The market-regulation clerk returns the case with payloads as comment and problem."""
    with server.as_user("clerk.market-regulation") as clerk:
        (task,) = open_tasks_of(clerk, out["running_case"], "enterprise-startup")
        assert clerk.post(f"/api/tasks/{task['id']}/claim").status_code == 200
        returned = clerk.post(
            f"/api/tasks/{task['id']}/complete",
            json={
                "outcome": "return",
                "comment": text(1000),
                "problems": [{"field": "company_name", "message": text(500)}],
            },
        )
        assert returned.status_code == 200, returned.text
        out["returned_task"] = task["id"]


def plant_rating(server: LiveServer, text: Callable[[int], str], out: dict[str, Any]) -> None:
    """applicant2's school-enrollment case, worked to its end, rated with payloads."""
    with server.as_user("applicant2") as owner:
        example = bundle_example(owner, "school-enrollment", 0)
        started = apply(owner, "school-enrollment", example, "stored-xss-rated")
        assert started.status_code == 201, started.text
        case_id = started.json()["id"]
        departments = owner.get("/api/bundles/school-enrollment").json()["departments"]
        work_case(server, case_id, "school-enrollment", departments, example["decisions"])
        rated = owner.post(f"/api/cases/{case_id}/rating", json={"score": 2, "comment": text(1000)})
        assert rated.status_code == 201, rated.text
    out["finished_case"] = case_id


def plant_bundle(server: LiveServer, text: Callable[[int], str], out: dict[str, Any]) -> None:
    """An analyst deploys a bundle whose name, description and item names are payloads."""
    folder = ROOT / "tests" / "engine" / "bundles" / "mini-startup"
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".yaml", ".bpmn")}
    key = "xss-probe"
    manifest = yaml.safe_load(files["bundle.yaml"].replace(b"mini-startup", key.encode()))
    manifest["name"] = {"zh": text(120), "en": text(120)}
    manifest["description"] = {"zh": text(500), "en": text(500)}
    manifest["items"][0]["name"] = {"zh": text(120), "en": text(120)}
    files["bundle.yaml"] = yaml.safe_dump(manifest, allow_unicode=True).encode()
    files["process.bpmn"] = files["process.bpmn"].replace(b"mini-startup", key.encode())
    deployed = server.engine.deploy_files(files, by="analyst")
    out["bundle"] = deployed.key


def plant_typed_answers(server: LiveServer, text: Callable[[int], str], out: dict[str, Any]) -> None:
    """What an applicant types into the form's free-text fields (posted from the browser)."""
    typed = {"company_name": text(100), "address": text(200), "business_scope": text(2000)}
    out["typed_edit"] = {**typed, "step": "edit"}
    out["typed_review"] = typed


def plant_refused_upload(server: LiveServer, text: Callable[[int], str], out: dict[str, Any]) -> None:
    """A bundle zip whose department, task and diagram names are payloads (validation refuses it)."""
    source = ROOT / "tests" / "engine" / "bundles" / "mini-startup"
    manifest = yaml.safe_load((source / "bundle.yaml").read_text(encoding="utf-8"))
    manifest["items"][0]["department"] = text(200)
    manifest["items"][0]["task"] = text(200)
    manifest["name"] = {"zh": text(200), "en": text(200)}
    bpmn = (source / "process.bpmn").read_text(encoding="utf-8")
    bpmn = bpmn.replace('name="设立登记"', f"name={quoteattr(text(200))}")
    path = Path(server.settings.data_dir) / "refused.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bundle.yaml", yaml.safe_dump(manifest, allow_unicode=True))
        archive.writestr("process.bpmn", bpmn)
    out["refused_zip"] = str(path)


def plant_display_name(server: LiveServer, text: Callable[[int], str], out: dict[str, Any]) -> None:
    """An admin makes a clerk account whose display name is payloads."""
    with server.as_user("admin") as admin:
        made = admin.post(
            "/api/accounts",
            json={
                "username": "xss.clerk",
                "password": PASSWORD,
                "role": "clerk",
                "departments": ["market-regulation"],
                "display_name": text(128),
            },
        )
        assert made.status_code == 201, made.text
    out["account"] = "xss.clerk"


PLANTERS: dict[str, Callable[[LiveServer, Callable[[int], str], dict[str, Any]], None]] = {
    "application": plant_application,
    "typed_answers": plant_typed_answers,
    "return_notice": plant_return_notice,
    "rating": plant_rating,
    "bundle": plant_bundle,
    "refused_upload": plant_refused_upload,
    "display_name": plant_display_name,
}
# What a page is checked for, read in the browser after it loaded.
FINDINGS = """() => ({
  ran: typeof top.__xss !== "undefined",
  elements: document.querySelectorAll("[data-xss]").length,
  javascript: document.querySelectorAll("a[href^='javascript:' i]").length,
  text: document.body.innerText + " " + document.title,
})"""
# Posts a planted form from the page, as the page's own forms do (with its CSRF token).
POST_FORM = """([action, fields]) => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  const all = {...fields, csrf_token: document.querySelector("meta[name=csrf-token]").content};
  for (const [name, value] of Object.entries(all)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  document.body.appendChild(form);
  form.submit();
}"""

browser = browsing.browser  # Debian chromium through Playwright, as the browser tests use it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real server of its own for the planted text."""
    with sqlite_server(tmp_path_factory.mktemp("stored-xss")) as running:
        yield running


@pytest.fixture(scope="module")
def planted(server: LiveServer) -> dict[str, Any]:
    """The names the visits use, after every field of FIELDS got its payloads (in order: a
    return needs the application's case)."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        PLANTERS[field.planter](server, partial(joined, start=tag(field)), out)
    return out


def work_items(server: LiveServer) -> list[tuple[Any, ...]]:
    """Every work item's state and assignee (to see that opening pages changed nothing)."""
    with server.engine.db.read() as session:
        rows = session.execute(select(WorkItem.id, WorkItem.state, WorkItem.assignee).order_by(WorkItem.id))
        return [tuple(row) for row in rows]


def sign_in_as(page: Any, username: str) -> None:
    """The login form, with the demo password or the password of the account the corpus made."""
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD if username == "xss.clerk" else "demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"msg=signed-in"))


def open_page(page: Any, visit: Visit, planted: dict[str, Any]) -> int:
    """Open one visit's page (plain, posted form or upload); the answer's status."""
    path = visit.path.format(**planted)
    if visit.form:
        page.goto("/")
        with page.expect_navigation() as navigation:
            page.evaluate(POST_FORM, [path, planted[visit.form]])
        return int(navigation.value.status)
    answer = page.goto(path)
    if visit.upload:
        page.set_input_files("input[type=file]", planted[visit.upload])
        with page.expect_navigation() as navigation:
            page.locator("input[type=file]").locator("xpath=ancestor::form").locator(
                "button[type=submit]"
            ).click()
        answer = navigation.value
    return int(answer.status)


def check_visits(
    browser: Any, server: LiveServer, field: Field, who: str, visits: list[Visit], planted: dict[str, Any]
) -> list[str]:
    """Open each visit as ``who`` in one fresh context; what went wrong on each page."""
    context = browser.new_context(locale="zh-CN", base_url=server.base_url)
    context.set_default_timeout(15_000)
    wrong: list[str] = []
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        sign_in_as(page, who)
        for visit in visits:
            console.clear()
            status = open_page(page, visit, planted)
            where = f"{who} {visit.path.format(**planted)}" + (
                " (posted)" if visit.form or visit.upload else ""
            )
            assert status in (200, 422), f"{where}: HTTP {status}"
            page.wait_for_load_state("load")
            page.wait_for_timeout(150)
            found = page.evaluate(FINDINGS)
            if found["ran"]:
                wrong.append(f"{where}: a payload's script ran")
            if found["elements"] or found["javascript"]:
                wrong.append(
                    f"{where}: {found['elements'] + found['javascript']} payload element(s) in the page"
                )
            if EVALUATED in found["text"]:
                wrong.append(f"{where}: a template expression was evaluated")
            if tag(field) not in page.content():
                wrong.append(f"{where}: the payloads never reached this page (a row that tests nothing)")
            if csp_violations(console):
                wrong.append(f"{where}: markup got in and was stopped by CSP: {csp_violations(console)}")
    finally:
        context.close()
    return wrong


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.planter)
def test_payloads_in_a_field_run_nowhere(
    field: Field, planted: dict[str, Any], browser: Any, server: LiveServer
) -> None:
    before = work_items(server)
    by_user: dict[str, list[Visit]] = {}
    for visit in field.pages:
        by_user.setdefault(visit.who.format(**planted), []).append(visit)
    wrong = [
        problem
        for who, visits in by_user.items()
        for problem in check_visits(browser, server, field, who, visits, planted)
    ]
    assert not wrong, "\n".join(wrong)
    assert work_items(server) == before, "opening the pages changed a task"


def test_the_payloads_reach_the_pages_as_text(
    planted: dict[str, Any], browser: Any, server: LiveServer
) -> None:
    """The test above is no test if the text never reached a page: its payloads are there, as text."""
    context = browser.new_context(locale="zh-CN", base_url=server.base_url)
    try:
        page = context.new_page()
        sign_in_as(page, "applicant2")
        page.goto(f"/cases/{planted['running_case']}")
        assert "<img data-xss src=x onerror=top.__xss=1>" in page.evaluate("document.body.innerText")
    finally:
        context.close()
