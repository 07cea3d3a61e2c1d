"""Sign-in, CSRF, sign-out, languages, keyboard and labels, the clerk's queue and the applicant's lists.

One server per module. Two enterprise startup cases of applicant1 are started through the
engine an hour apart, so market regulation's queue holds two tasks with known due times.
"""

from __future__ import annotations

import io
import itertools
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from engine.deadlines import tracking
from engine.demo import demo_pdf, department_systems_work
from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, csrf_of, element_classes, shot, sign_in, wait_diagram

pytestmark = pytest.mark.browser

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
REFUSED = "请求已被拒绝"


@pytest.fixture(scope="module")
def cases(server: LiveServer) -> list[int]:
    """Two cases of applicant1, an hour apart (so their first tasks fall due an hour apart)."""
    engine = server.engine
    example = engine.bundle_detail(BUNDLE).examples[0]
    ids = []
    for _ in range(2):
        materials = {
            kind: engine.materials.upload(
                APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))
            ).id
            for kind in example["materials"]
        }
        ids.append(engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id)
        server.clock.advance(timedelta(hours=1))
    return ids


def _finish_a_case(server: LiveServer) -> int:
    """One more case of applicant1, worked by each department to its end (it issues a licence)."""
    engine = server.engine
    example = engine.bundle_detail(BUNDLE).examples[0]
    materials = {
        kind: engine.materials.upload(APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))).id
        for kind in example["materials"]
    }
    case_id = engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id
    while ready := [t for t in engine.get_case(APPLICANT, case_id).tasks if t.state == "ready"]:
        department_systems_work(engine, case_id, example["decisions"])  # the tax system's step
        for task in (t for t in ready if not t.by_system):
            clerk = Actor(f"clerk.{task.department}", Role.CLERK, frozenset({task.department}))
            engine.claim(clerk, task.id)
            engine.complete(clerk, task.id, "approve", example["decisions"].get(task.item, {}))
    assert engine.get_case(APPLICANT, case_id).status == "completed"
    return case_id


def _task_of(server: LiveServer, case_id: int) -> int:
    case = server.engine.get_case(APPLICANT, case_id)
    return next(t.id for t in case.tasks if t.task_name == "Task_register_business")


def _signed_in_client(server: LiveServer, username: str) -> tuple[httpx.Client, str]:
    """An HTTP client signed in through the login form, and the CSRF token of its session."""
    client = httpx.Client(base_url=server.url)
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
    assert answer.status_code == 303
    return client, csrf_of(client.get("/").text)


def test_session_cookie_is_httponly_and_samesite_and_every_post_needs_the_csrf_token(
    server: LiveServer, cases: list[int]
) -> None:
    with httpx.Client(base_url=server.url) as client:
        first = client.get("/login")
        cookie = first.headers["set-cookie"]
        assert "onething_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        anonymous_token = csrf_of(first.text)
        form = {"username": "clerk.market-regulation", "password": "demo"}
        for data, headers in (
            (form, {}),  # no token
            (form | {"csrf_token": "forged"}, {}),  # a wrong token
            (form | {"csrf_token": anonymous_token}, {"Origin": "http://evil.example"}),  # another site
        ):
            refused = client.post("/login", data=data, headers=headers)
            assert refused.status_code == 403 and REFUSED in refused.text
            assert "msg=signed-in" not in refused.headers.get("location", "")
        signed = client.post("/login", data=form | {"csrf_token": anonymous_token})
        assert signed.status_code == 303 and "msg=signed-in" in signed.headers["location"]
        assert "HttpOnly" in signed.headers["set-cookie"] and "SameSite=lax" in signed.headers["set-cookie"]
        task_id = _task_of(server, cases[0])
        # Signing in made a new session: the token seen before is worthless now (no fixation).
        for data in ({}, {"csrf_token": anonymous_token}):
            refused = client.post(f"/tasks/{task_id}/claim", data=data)
            assert refused.status_code == 403 and REFUSED in refused.text
        clerk = Actor("clerk.market-regulation", Role.CLERK, frozenset({"market-regulation"}))
        assert server.engine.get_task(clerk, task_id).task.state == "ready"
        refused = client.post("/logout", data={})
        assert refused.status_code == 403
        assert client.get("/inbox").status_code == 200, "a refused sign-out must leave the session alone"
        # The scripts' header carries the token as well as a form field does.
        token = csrf_of(client.get("/inbox").text)
        unclaimed = client.post(f"/tasks/{task_id}/unclaim", headers={"X-CSRF-Token": token})
        assert unclaimed.status_code == 409  # let through the CSRF check, refused by the engine: not held


def test_clerk_queue_sorts_by_due_time_filters_counts_and_claims_from_the_list(
    page: Any, server: LiveServer, cases: list[int]
) -> None:
    sign_in(page, "clerk.market-regulation")
    page.goto("/inbox")
    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(2)
    dues = [str(rows.nth(i).get_attribute("data-due")) for i in range(2)]
    assert dues == sorted(dues), "soonest due first"
    assert f"#{cases[0]}" in rows.first.inner_text()
    assert page.locator("[data-count='ready']").inner_text() == "2"
    assert page.locator("[data-count='mine']").inner_text() == "0"
    # The due column sorts the other way round on a click, and says so to assistive technology.
    page.get_by_role("button", name=re.compile("办理时限")).click()
    assert f"#{cases[1]}" in rows.first.inner_text()
    assert page.locator("th[aria-sort='descending']").count() == 1
    row = rows.filter(has_text=f"#{cases[0]}")
    row.get_by_role("button", name=re.compile("认领")).click()
    page.wait_for_url(re.compile(r"msg=claimed"))
    page.goto("/inbox")
    assert page.locator("[data-count='ready']").inner_text() == "1"
    assert page.locator("[data-count='mine']").inner_text() == "1"
    page.locator("[data-filter='mine']").click()
    expect(page.locator("#queue tbody tr")).to_have_count(1)
    assert f"#{cases[0]}" in page.locator("#queue tbody tr").inner_text()
    # Another bundle's filter leaves nothing of enterprise startup.
    page.goto("/inbox?filter=all")
    page.get_by_label("事项包").select_option("school-enrollment")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#queue")).to_have_count(0)
    assert "队列中没有任务" in page.locator("main").inner_text()
    # Late tasks stand out in words and an icon, not by colour alone.
    server.clock.advance(timedelta(days=5))
    tracking.run_sweep(server.engine.db, server.clock, server.engine.calendar)  # what the timer worker does
    page.goto("/inbox?filter=overdue")
    overdue = page.locator("#queue tbody tr.overdue")
    expect(overdue).to_have_count(2)
    for i in range(2):
        assert "⚠ 已逾期" in overdue.nth(i).inner_text()
    assert page.locator("[data-count='overdue']").inner_text() == "2"
    shot(page, "30-inbox-filters")


def _expected_marks(server: LiveServer, case_id: int) -> dict[str, str]:
    """Each task element's state, worked out here from the engine's view of the case."""
    now = server.clock.now()
    newest = {
        t.task_name: t for t in server.engine.get_case(APPLICANT, case_id).tasks if t.state != "cancelled"
    }
    marks = {}
    for element, task in newest.items():
        if task.state in ("ready", "claimed"):
            late = task.overdue or (task.due_at is not None and task.due_at < now)
            marks[element] = "late" if late else "active"
        else:
            marks[element] = "returned" if task.outcome == "return" else "done"
    return marks


def test_case_diagram_marks_every_step_as_the_engine_sees_it_and_nothing_else(
    page: Any, server: LiveServer, cases: list[int]
) -> None:
    sign_in(page, "applicant1")
    xml = server.engine.diagram(BUNDLE, 1)
    user_tasks = re.findall(r'<bpmn:userTask id="([^"]+)"', xml)
    assert len(user_tasks) >= 7
    for case_id in cases:
        expected = _expected_marks(server, case_id)
        assert expected, "the case has steps"
        page.goto(f"/cases/{case_id}")
        wait_diagram(page)
        for element in user_tasks:
            classes = element_classes(page, element)
            if element in expected:
                assert f"ot-{expected[element]}" in classes, (element, classes)
                row = page.locator(f"#steps-table tr[data-element='{element}']")
                assert row.get_attribute("data-state") == expected[element]
            else:
                assert "ot-" not in classes, (element, classes)
        assert page.locator("#steps-table tbody tr").count() == len(expected)
        late = sum(1 for state in expected.values() if state == "late")
        assert page.locator(".ot-overlay.late").count() == late
        label = str(page.locator("#case-diagram").get_attribute("aria-label"))
        assert f"逾期 {late} 步" in label


def test_applicant_sees_their_cases_their_prefilled_answers_and_never_another_s_case(
    page: Any, server: LiveServer, cases: list[int]
) -> None:
    sign_in(page, "applicant1")
    page.goto("/cases")
    for case_id in cases:
        link = page.locator(f"tr[data-case='{case_id}'] a")
        expect(link).to_have_text(f"#{case_id}")
    # Nothing is prefilled from cases still running: an answer under way may yet be corrected.
    page.goto(f"/apply/{BUNDLE}")
    assert page.locator("[data-field='legal_rep_phone']").get_attribute("data-prefilled") is None
    # A finished case prefills its answers, and the licence it issued prefills what it certifies.
    _finish_a_case(server)
    page.goto(f"/apply/{BUNDLE}")
    example = server.engine.bundle_detail(BUNDLE).examples[0]["data"]
    phone = page.locator("[data-field='legal_rep_phone']")
    assert phone.get_attribute("data-prefilled") == "case" and "预填" in phone.inner_text()
    assert page.locator("#f-legal_rep_phone").input_value() == example["legal_rep_phone"]
    company = page.locator("[data-field='company_name']")
    assert company.get_attribute("data-prefilled") == "certificate"
    assert page.locator("#f-company_name").input_value() == example["company_name"]
    shot(page, "31-apply-prefilled")
    sign_in(page, "applicant2")
    answer = page.goto(f"/cases/{cases[0]}")
    assert answer is not None and answer.status == 404
    page.goto("/cases")
    assert page.locator(f"tr[data-case='{cases[0]}']").count() == 0


def test_inline_messages_are_the_server_s_own_and_uploads_show_progress(
    page: Any, server: LiveServer, cases: list[int], tmp_path: Path
) -> None:
    sign_in(page, "applicant1")
    page.goto(f"/apply/{BUNDLE}")
    page.locator("#f-legal_rep_id").fill("310115198503120419")  # a wrong check digit
    page.keyboard.press("Tab")
    inline = page.locator("[data-field='legal_rep_id'] .field-error")
    expect(inline).to_be_visible()
    said_inline = inline.inner_text()
    upload = page.locator("[data-material='articles_of_association']")
    path = tmp_path / "articles.pdf"
    path.write_bytes(demo_pdf("articles_of_association"))
    page.locator("#m-articles_of_association").set_input_files(str(path))
    page.wait_for_selector("[data-material='articles_of_association'][data-uploaded='true']")
    assert upload.locator("progress").evaluate("bar => bar.value") == 100
    page.get_by_role("button", name="下一步：核对申请").click()
    page.wait_for_selector("#problem-summary")
    said_by_server = page.locator("[data-field='legal_rep_id'] .field-error").inner_text()
    assert said_inline == said_by_server and "校验" in said_by_server
    summary = page.locator("#problem-summary li").filter(has_text="身份证号")
    assert summary.inner_text() == "法定代表人身份证号：身份证号校验码错误，请核对号码", (
        "the field is named once"
    )
    # The upload survived the failed submit: no need to send the file again.
    assert "已上传" in upload.inner_text()


def test_sign_out_ends_the_session_and_pages_ask_to_sign_in_again(page: Any, server: LiveServer) -> None:
    sign_in(page, "clerk.tax")
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(re.compile(r"msg=signed-out"))
    expect(page.get_by_role("link", name="登录")).to_be_visible()
    page.goto("/inbox")
    assert re.search(r"/login\?next=%2Finbox$", page.url)


def test_language_switch_turns_the_pages_to_english_and_back(page: Any, server: LiveServer) -> None:
    sign_in(page, "clerk.market-regulation")
    page.goto("/inbox")
    page.get_by_role("link", name="English").click()
    page.wait_for_url(re.compile(r"/inbox$"))
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "en", "the choice is remembered"
    cookie = next(c for c in page.context.cookies() if c["name"] == "onething_lang")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    shot(page, "32-services-english")
    page.get_by_role("link", name="中文").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("html").get_attribute("lang") == "zh-CN"


def test_sign_in_works_from_the_keyboard_alone(page: Any, server: LiveServer) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip", "the first stop skips to the content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto("/login")
    # The browser moves the cursor to an ``autofocus`` field when it next renders, which on a
    # busy machine can come after the load event ``goto`` waits for.
    expect(page.locator("#username"), "the form starts with the cursor in it").to_be_focused()
    page.keyboard.type("applicant1")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("demo")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"msg=signed-in"))
    assert "申请人一" in page.locator(".who").inner_text()


UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.name || el.id || el.outerHTML.slice(0, 80))"""


@pytest.mark.parametrize(
    ("username", "paths"),
    [
        ("applicant1", ["/", f"/apply/{BUNDLE}", "/cases", "/cases/{case}"]),
        ("clerk.market-regulation", ["/inbox", "/tasks/{task}"]),
        ("analyst", ["/studio", f"/studio/{BUNDLE}", f"/studio/{BUNDLE}/edit"]),
    ],
)
def test_every_page_has_one_main_heading_and_every_control_a_label(
    page: Any, server: LiveServer, cases: list[int], username: str, paths: list[str]
) -> None:
    sign_in(page, username)
    for template in paths:
        path = template.format(case=cases[1], task=_task_of(server, cases[1]))
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        expect(page.locator("h1")).to_have_count(1)
        assert page.evaluate(UNLABELLED) == [], f"controls without a label on {path}"
        levels = page.evaluate(
            "() => Array.from(document.querySelectorAll('main h1, main h2, main h3'))"
            ".map(h => Number(h.tagName[1]))"
        )
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), f"heading levels skip on {path}"


def test_applicant_sees_the_tax_system_s_step_marked_as_a_system_step_on_the_diagram(
    page: Any, server: LiveServer
) -> None:
    engine = server.engine
    example = engine.bundle_detail(BUNDLE).examples[0]
    materials = {
        kind: engine.materials.upload(APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))).id
        for kind in example["materials"]
    }
    case_id = engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id
    clerk = Actor("clerk.market-regulation", Role.CLERK, frozenset({"market-regulation"}))
    registration = _task_of(server, case_id)
    engine.claim(clerk, registration)
    engine.complete(clerk, registration, "approve", example["decisions"]["business-registration"])
    sign_in(page, "applicant1")
    page.goto(f"/cases/{case_id}")
    wait_diagram(page)
    assert "ot-system" in element_classes(page, "Task_tax_registration")
    assert "ot-system" not in element_classes(page, "Task_engrave_seal")  # a clerk's step
    note = page.locator(".ot-overlay.system").first.inner_text()
    assert note.strip(), "the system step carries its words on the diagram"
    row = page.locator("#steps-table tr[data-element='Task_tax_registration']")
    expect(row).to_contain_text("部门系统处理中")
    expect(page.locator(".diagram-legend")).to_contain_text("部门系统办理的环节")
