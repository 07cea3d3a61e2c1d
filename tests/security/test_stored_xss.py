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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from engine.models import WorkItem
from tests.api.support import LiveServer, sqlite_server
from tests.api.walking import apply, bundle_example, open_tasks_of, work_case
from tests.browser import conftest as browsing
from tests.browser.conftest import csp_violations, sign_in

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


def joined(limit: int) -> str:
    """As many whole payloads as fit in ``limit`` characters (at least the first one)."""
    text = ""
    for payload in payloads():
        candidate = f"{text} {payload}" if text else payload
        if len(candidate) > limit:
            break
        text = candidate
    return text or payloads()[0][:limit]


@dataclass(frozen=True)
class Field:
    """One free-text field: how its text is planted, its length, and the pages that show it."""

    name: str
    planter: str
    limit: int
    pages: tuple[tuple[str, str], ...]  # (who opens it, the path; {names} from the planter)


FIELDS = (
    Field(
        "application text fields (company name, address, business scope)",
        "application",
        2000,
        (
            ("applicant2", "/cases/{running_case}"),
            ("applicant2", "/cases"),
            ("clerk.market-regulation", "/inbox"),
            ("clerk.market-regulation", "/tasks/{returned_task}"),
            ("analyst", "/cases/{running_case}"),
        ),
    ),
    Field(
        "return comment and problem",
        "return_notice",
        1000,
        (
            ("applicant2", "/cases/{running_case}"),
            ("clerk.market-regulation", "/tasks/{returned_task}"),
        ),
    ),
    Field(
        "rating comment", "rating", 1000, (("applicant2", "/cases/{finished_case}"), ("analyst", "/studio"))
    ),
    Field(
        "bundle name and description (analyst deploy)",
        "bundle",
        120,
        (
            ("applicant1", "/"),
            ("applicant1", "/apply/{bundle}"),
            ("analyst", "/studio"),
            ("analyst", "/studio/{bundle}"),
            ("analyst", "/studio/{bundle}/edit"),
        ),
    ),
    Field("account display name", "display_name", 128, (("{account}", "/"), ("{account}", "/inbox"))),
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
    "return_notice": plant_return_notice,
    "rating": plant_rating,
    "bundle": plant_bundle,
    "display_name": plant_display_name,
}

browser = browsing.browser  # Debian chromium through Playwright, as the browser tests use it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real server of its own, every field planted once (in FIELDS order: returns need a case)."""
    with sqlite_server(tmp_path_factory.mktemp("stored-xss")) as running:
        yield running


@pytest.fixture(scope="module")
def planted(server: LiveServer) -> dict[str, Any]:
    """The names the page paths use, after every field of FIELDS got its payloads."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        PLANTERS[field.planter](server, joined, out)
    return out


def work_items(server: LiveServer) -> list[tuple[Any, ...]]:
    """Every work item's state and assignee (to see that opening pages changed nothing)."""
    with server.engine.db.read() as session:
        rows = session.execute(select(WorkItem.id, WorkItem.state, WorkItem.assignee).order_by(WorkItem.id))
        return [tuple(row) for row in rows]


def visit(browser: Any, server: LiveServer, who: str, paths: list[str]) -> list[str]:
    """Open each path as ``who`` in a fresh context; what went wrong on each page."""
    context = browser.new_context(locale="zh-CN", base_url=server.base_url)
    context.set_default_timeout(15_000)
    wrong: list[str] = []
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        if who == "xss.clerk":
            page.goto("/login")
            page.get_by_label("用户名").fill(who)
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.wait_for_url("**/*msg=signed-in*")
        else:
            sign_in(page, who)
        for path in paths:
            console.clear()
            answer = page.goto(path)
            assert answer is not None and answer.status == 200, (who, path, answer and answer.status)
            page.wait_for_load_state("load")
            page.wait_for_timeout(150)
            found = page.evaluate(
                """() => ({
                  ran: typeof top.__xss !== "undefined",
                  elements: document.querySelectorAll("[data-xss]").length,
                  javascript: document.querySelectorAll("a[href^='javascript:' i]").length,
                  text: document.body.innerText,
                  title: document.title,
                })"""
            )
            if found["ran"]:
                wrong.append(f"{who} {path}: a payload's script ran")
            if found["elements"] or found["javascript"]:
                wrong.append(f"{who} {path}: {found['elements']} payload element(s) in the page")
            if EVALUATED in found["text"] or EVALUATED in found["title"]:
                wrong.append(f"{who} {path}: a template expression was evaluated")
            if csp_violations(console):
                wrong.append(f"{who} {path}: markup got in and was stopped by CSP: {csp_violations(console)}")
    finally:
        context.close()
    return wrong


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.planter)
def test_payloads_in_a_field_run_nowhere(
    field: Field, planted: dict[str, Any], browser: Any, server: LiveServer
) -> None:
    before = work_items(server)
    by_user: dict[str, list[str]] = {}
    for who, path in field.pages:
        by_user.setdefault(who.format(**planted), []).append(path.format(**planted))
    wrong = [problem for who, paths in by_user.items() for problem in visit(browser, server, who, paths)]
    assert not wrong, "\n".join(wrong)
    assert work_items(server) == before, "opening the pages changed a task"


def test_the_payloads_reach_the_pages_as_text(
    planted: dict[str, Any], browser: Any, server: LiveServer
) -> None:
    """The test above is no test if the text never reached a page: its payloads are there, as text."""
    context = browser.new_context(locale="zh-CN", base_url=server.base_url)
    try:
        page = context.new_page()
        sign_in(page, "applicant2")
        page.goto(f"/cases/{planted['running_case']}")
        assert "<img data-xss src=x onerror=top.__xss=1>" in page.evaluate("document.body.innerText")
    finally:
        context.close()
