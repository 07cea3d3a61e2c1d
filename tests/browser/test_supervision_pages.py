"""The supervision desk (督办台) in a real browser: late work, rectifications and complaints of one's offices.

One server per module, the tests in order on one scene: applicant1's school-enrollment case
waits ten days (the test server's clock moved, the worker's SLA sweep run) so its tasks go
late and escalate; applicant1 complains about it; applicant2's case is finished and rated
badly for public security, and the rectification misses its deadline. The public-security
supervisor finds each on the desk with the office, the department and how late, 督办s the
late task, replies to the rectification and answers the complaint; a plain clerk gets the
403 page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from engine.cases.states import Outcome
from engine.demo import demo_document, work_case
from engine.feedback import complaints, ratings
from engine.people.actors import Actor, Role
from engine.worker import Worker
from tests.browser.conftest import LiveServer, checked_page, shot, sign_in

pytestmark = pytest.mark.browser

BUNDLE = "school-enrollment"
DEPARTMENT = "public-security"
SUPERVISOR = f"supervisor.{DEPARTMENT}"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Scene:
    """What the module's tests look at: the late case, the rated case, the complaint."""

    late_case: int
    rated_case: int
    complaint: int


def _start(server: LiveServer, applicant: Actor, bundle: str = BUNDLE) -> tuple[int, dict[str, Any]]:
    """A case of the applicant from the bundle's first example."""
    engine = server.engine
    example = engine.bundle_detail(bundle).examples[0]
    materials = {}
    for kind in example["materials"]:
        filename, body = demo_document(engine, kind)
        materials[kind] = engine.materials.upload(applicant.username, kind, filename, io.BytesIO(body)).id
    return engine.start_case(applicant, bundle, example["data"], materials).id, example


@pytest.fixture(scope="module")
def scene(server: LiveServer) -> Scene:
    """A late case with a complaint, and a finished case whose bad rating's rectification is late."""
    engine = server.engine
    first, second = Actor("applicant1", Role.APPLICANT), Actor("applicant2", Role.APPLICANT)
    rated, example = _start(server, second)
    status, _ = work_case(engine, second, rated, example.get("decisions", {}), server.clock, [])
    assert status == "completed"
    ratings.rate(
        engine.db,
        server.clock,
        second,
        rated,
        2,
        "材料核验来回跑了两趟",
        DEPARTMENT,
        calendar=engine.calendar,
    )
    late, _ = _start(server, first)
    assert DEPARTMENT in {t.department for t in engine.get_case(first, late).tasks if t.state == "ready"}
    server.clock.advance(timedelta(days=12))  # past the tasks' limits and the rectification's deadline
    tick = Worker(engine).run_once()
    assert not tick.errors and tick.sla.escalated >= 1 and tick.rectifications_overdue == 1
    filed = complaints.complain(
        engine.db,
        server.clock,
        first,
        late,
        "户籍核验十多天没有进展，电话也没人接",
        DEPARTMENT,
        calendar=engine.calendar,
    )
    return Scene(late, rated, filed.id)


@pytest.fixture
def desk(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A desktop-sized page (1366x900) in Chinese; script errors and CSP violations fail the test."""
    yield from checked_page(browser, server, DESKTOP)


@pytest.fixture
def phone(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A phone-sized page (390x844) in Chinese; script errors and CSP violations fail the test."""
    yield from checked_page(browser, server, PHONE)


def _one_h1(page: Any) -> None:
    assert page.locator("h1").count() == 1


def test_a_clerk_who_is_no_supervisor_gets_the_403_page_and_no_menu_item(desk: Any, scene: Scene) -> None:
    sign_in(desk, f"clerk.{DEPARTMENT}")
    assert desk.get_by_role("navigation", name="主导航").get_by_role("link", name="督办").count() == 0
    answer = desk.goto("/supervision")
    assert answer is not None and answer.status == 403
    assert "督办台仅供督办人员和管理员使用" in desk.locator("main").inner_text()
    _one_h1(desk)
    token = desk.locator("meta[name='csrf-token']").get_attribute("content")
    refused = desk.request.post(
        f"/supervision/complaints/{scene.complaint}/answer", form={"csrf_token": token, "reply": "x"}
    )
    assert refused.status == 403 and "督办台仅供督办人员" in refused.text()


def test_the_supervisor_sees_the_late_task_with_office_department_and_lateness_and_supervises_it(
    desk: Any, server: LiveServer, scene: Scene
) -> None:
    sign_in(desk, SUPERVISOR)
    desk.get_by_role("navigation", name="主导航").get_by_role("link", name="督办").click()
    desk.wait_for_url(re.compile(r"/supervision$"))
    _one_h1(desk)
    expect(desk.locator("h1")).to_have_text("督办台")
    row = desk.locator(f"#supervision-tasks tbody tr[data-case='{scene.late_case}']")
    expect(row).to_have_count(1)
    text = row.inner_text()
    assert "公安局" in text and "public-security" not in text  # the department's name, never its key
    office = server.engine.regions.office_name(DEPARTMENT, server.engine.regions.default, "zh")
    assert office in text
    assert re.search(r"超期 \d+ 天", text), text
    assert "overdue" in (row.get_attribute("class") or "")
    assert desk.locator("#supervision-tasks").locator("xpath=..").get_attribute("class") == "table-wrap"
    no_scroll = desk.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_scroll, "the desk is wider than a 1366 px screen"
    shot(desk, "supervision-desk-1366x900")

    # 督办 with nothing written: the server's message beside the field, the form kept open.
    row.get_by_text("督办", exact=True).click()
    row.get_by_role("button", name="督办并办结").click()
    expect(desk.locator(".field-error").first).to_contain_text("请写明处理情况")
    row = desk.locator(f"#supervision-tasks tbody tr[data-case='{scene.late_case}']")
    note = row.get_by_label("督办意见（催办、协调、处理情况）")
    assert note.get_attribute("aria-invalid") == "true"
    note.fill("已电话催办户籍科，要求今日办结")
    row.get_by_role("button", name="督办并办结").click()
    desk.wait_for_url(re.compile(r"done=resolved"))
    expect(desk.locator("#done")).to_contain_text("督办事项已办结")
    expect(
        desk.locator(f"#supervision-tasks tbody tr[data-case='{scene.late_case}'][data-state='open']")
    ).to_have_count(0)

    desk.locator("#state-filter").get_by_role("link", name="已办结").click()
    done = desk.locator(f"#supervision-tasks tbody tr[data-case='{scene.late_case}'][data-state='resolved']")
    expect(done).to_have_count(1)
    assert "已电话催办户籍科" in done.inner_text() and SUPERVISOR in done.inner_text()
    # The note is on the case's trail too (the engine's resolve, as the REST call does it).
    supervisor = Actor(SUPERVISOR, Role.CLERK, frozenset({DEPARTMENT}), supervisor=True)
    kinds = [e.kind for e in server.engine.get_case(supervisor, scene.late_case).timeline]
    assert "escalation_resolved" in kinds


def test_the_late_rectification_shows_its_deadline_and_the_supervisor_replies_for_the_office(
    desk: Any, scene: Scene
) -> None:
    sign_in(desk, SUPERVISOR)
    desk.goto("/supervision")
    row = desk.locator(f"#supervision-rectifications tbody tr[data-case='{scene.rated_case}']")
    expect(row).to_have_attribute("data-state", "overdue")
    text = row.inner_text()
    assert "已逾期" in text and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", text), text
    row.get_by_text("答复整改", exact=True).click()
    row.get_by_label("整改答复（向申请人说明整改情况）").fill("已约谈窗口人员，核验改为一次办结，向您致歉")
    row.get_by_role("button", name="发送答复").click()
    desk.wait_for_url(re.compile(r"done=replied"))
    desk.goto("/supervision?state=all")
    replied = desk.locator(f"#supervision-rectifications tbody tr[data-case='{scene.rated_case}']")
    expect(replied).to_have_attribute("data-state", "replied")
    assert "逾期答复" in replied.inner_text() and "已约谈窗口人员" in replied.inner_text()


def test_the_supervisor_answers_the_complaint_and_a_phone_shows_the_desk_without_sideways_scrolling(
    phone: Any, server: LiveServer, scene: Scene
) -> None:
    sign_in(phone, SUPERVISOR)
    phone.goto("/supervision")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    row = phone.locator(f"#supervision-complaints tbody tr[data-complaint='{scene.complaint}']")
    assert "户籍核验十多天没有进展" in row.inner_text()
    shot(phone, "supervision-desk-390x844")
    row.get_by_text("答复", exact=True).click()
    row.get_by_label("答复（申请人可见）").fill("已督促户籍科今日办结，并向您致歉")
    row.get_by_role("button", name="发送答复").click()
    phone.wait_for_url(re.compile(r"done=answered"))
    expect(phone.locator(f"#supervision-complaints tr[data-complaint='{scene.complaint}']")).to_have_count(0)
    phone.goto("/supervision?state=done")
    answered = phone.locator(f"#supervision-complaints tr[data-complaint='{scene.complaint}']")
    expect(answered).to_have_attribute("data-state", "answered")
    view = complaints.complaint_of(server.engine.db, Actor("applicant1", Role.APPLICANT), scene.complaint)
    assert (view.state, view.reply) == ("answered", "已督促户籍科今日办结，并向您致歉")
    shot(phone, "supervision-done-390x844")


def test_another_departments_supervisor_sees_none_of_it(desk: Any, scene: Scene) -> None:
    sign_in(desk, "supervisor.education")
    desk.goto("/supervision?state=all")
    for table in ("tasks", "rectifications", "complaints"):
        expect(desk.locator(f"#supervision-{table} tr[data-case='{scene.late_case}']")).to_have_count(0)
        expect(desk.locator(f"#supervision-{table} tr[data-case='{scene.rated_case}']")).to_have_count(0)
    answer = desk.request.get(f"/supervision?department={DEPARTMENT}")
    assert answer.status == 200 and f'data-case="{scene.late_case}"' not in answer.text()


def test_an_incident_of_a_department_system_is_handed_to_its_clerks_from_the_desk(
    desk: Any, server: LiveServer
) -> None:
    engine = server.engine
    applicant = Actor("applicant1", Role.APPLICANT)
    case_id, example = _start(server, applicant, "enterprise-startup")
    clerk = Actor("clerk.market-regulation", Role.CLERK, frozenset({"market-regulation"}))
    (registration,) = [t for t in engine.get_case(applicant, case_id).tasks if t.state == "ready"]
    engine.claim(clerk, registration.id)
    decision = dict(example.get("decisions", {}).get(registration.item, {}))
    engine.complete(clerk, registration.id, Outcome.APPROVE, decision, "同意")
    (tax,) = [
        t for t in engine.get_case(applicant, case_id).tasks if t.department == "tax" and t.state == "ready"
    ]
    engine.set_retries(Actor("admin", Role.ADMIN), tax.id, 0)  # the tax system gave up: an incident

    sign_in(desk, "supervisor.tax")
    desk.goto("/supervision")
    row = desk.locator(f"#supervision-incidents tr[data-incident='{tax.id}']")
    expect(row).to_contain_text("税务")
    row.get_by_text("转人工办理", exact=True).click()
    row.get_by_role("button", name="确认转人工办理").click()
    expect(desk.locator("#incident-" + str(tax.id) + "-error")).to_be_visible()  # a reason is required
    row = desk.locator(f"#supervision-incidents tr[data-incident='{tax.id}']")
    row.get_by_label("转人工办理的原因").fill("税务系统接口故障，改由窗口人工办理")
    row.get_by_role("button", name="确认转人工办理").click()
    desk.wait_for_url(re.compile(r"done=handed"))
    expect(desk.locator(f"#supervision-incidents tr[data-incident='{tax.id}']")).to_have_count(0)
    now = next(t for t in engine.get_case(applicant, case_id).tasks if t.id == tax.id)
    assert (now.state, now.kind) == ("ready", "human")


def test_the_desk_speaks_english_on_an_english_page(desk: Any, scene: Scene) -> None:
    sign_in(desk, SUPERVISOR)
    desk.goto("/lang/en?next=" + quote("/supervision?state=all", safe=""))
    desk.wait_for_url(re.compile(r"/supervision\?state=all$"))
    expect(desk.locator("h1")).to_have_text("Supervision")
    # Everything the page itself says is English; Chinese stays only in what people wrote.
    words = desk.locator(
        "main h1, main h2, main th, main .badge, main summary, main label, main nav a, main td[data-label]"
    )
    said = " ".join(words.all_inner_texts())
    for written in ("已电话催办户籍科", "户籍核验十多天", "已约谈窗口人员", "已督促户籍科", "材料核验来回"):
        said = re.sub(rf"{written}[^\s]*", "", said)
    assert not re.search(r"[\u4e00-\u9fff]", said), said
    assert "Public security" in said
    shot(desk, "supervision-desk-en-1366x900")
