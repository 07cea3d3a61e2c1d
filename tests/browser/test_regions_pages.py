"""The pages by office: a district clerk's inbox, a supervisor's division filter, the applicant's
case naming the office of each step, the studio's variants and office ranking, 办理地区 on apply.

One server per module; the module opens the demo offices (黄浦区 310101, 徐汇区 310104, ...)
and makes their demo accounts, as ``onething serve --demo`` does. Three
enterprise-startup cases of applicant1 are started through the engine, at 黄浦区, at 徐汇区
and at 浦东新区 (310115: no office there, so the default division's office handles it).
"""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from engine.bpmn.deployments import load_departments
from engine.demo import demo_pdf
from engine.people.accounts import AccountService
from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, csrf_of, shot, sign_in

pytestmark = pytest.mark.browser

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
HUANGPU, XUHUI, PUDONG = "310101", "310104", "310115"
REGISTER = "Task_register_business"


def _start(server: LiveServer, division: str) -> int:
    """An enterprise-startup case of applicant1 whose address is in ``division``."""
    engine = server.engine
    example = engine.bundle_detail(BUNDLE).examples[0]
    materials = {
        kind: engine.materials.upload(APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))).id
        for kind in example["materials"]
    }
    data = {**example["data"], "address_division": division}
    return engine.start_case(APPLICANT, BUNDLE, data, materials).id


@pytest.fixture(scope="module")
def offices(server: LiveServer) -> None:
    """The demo offices open, and their clerks', supervisors', admins' and analysts' accounts."""
    engine = server.engine
    engine.regions.ensure_demo_offices()
    accounts = AccountService(
        engine.db, departments=load_departments(engine.settings.processes_dir), regions=engine.regions
    )
    accounts.ensure_demo_accounts({d for bundle in engine.list_bundles() for d in bundle.departments})


@pytest.fixture(scope="module")
def cases(server: LiveServer, offices: None) -> dict[str, int]:
    """A case at 黄浦区, one at 徐汇区 and one at 浦东新区 (handled at the default division)."""
    return {division: _start(server, division) for division in (HUANGPU, XUHUI, PUDONG)}


def _register_task(server: LiveServer, case_id: int) -> tuple[int, str]:
    """The market-regulation registration task of a case and the division of its office."""
    case = server.engine.get_case(APPLICANT, case_id)
    task = next(t for t in case.tasks if t.task_name == REGISTER)
    return task.id, task.division


def _queued(page: Any) -> set[int]:
    """The task ids of the inbox table's rows."""
    return {int(str(row.get_attribute("data-task"))) for row in page.locator("#queue tbody tr").all()}


def test_a_district_clerks_inbox_names_its_office_and_holds_its_tasks_only(
    page: Any, server: LiveServer, cases: dict[str, int]
) -> None:
    huangpu, routed = _register_task(server, cases[HUANGPU])
    assert routed == HUANGPU
    assert _register_task(server, cases[XUHUI])[1] == XUHUI
    assert _register_task(server, cases[PUDONG])[1] == "310000"  # no office in 浦东新区: the default's

    sign_in(page, "clerk.market-regulation@310101")
    page.goto("/inbox")
    expect(page.locator("#my-office")).to_contain_text("上海市黄浦区市场监督管理局")
    assert _queued(page) == {huangpu}
    assert page.locator("#f-division").count() == 0  # one office: no division filter, no office column
    shot(page, "regions-inbox-huangpu")


def test_a_supervisor_sees_each_tasks_office_and_narrows_the_inbox_to_one_division(
    page: Any, server: LiveServer, cases: dict[str, int]
) -> None:
    tasks = {d: _register_task(server, cases[d])[0] for d in cases}
    sign_in(page, "supervisor.market-regulation")  # the default division: 上海市 and its districts
    page.goto("/inbox")
    expect(page.locator("#my-reach")).to_contain_text("上海市及下辖地区")
    assert _queued(page) == set(tasks.values())
    office = page.locator(f"#queue tr[data-task='{tasks[XUHUI]}'] td[data-division]")
    expect(office).to_have_text("上海市徐汇区市场监督管理局")
    # A supervisor reads the offices below but claims only in their own (the default's task).
    assert page.locator(f"#queue tr[data-task='{tasks[XUHUI]}'] form[action$='/claim']").count() == 0
    assert page.locator(f"#queue tr[data-task='{tasks[PUDONG]}'] form[action$='/claim']").count() == 1

    page.get_by_label("办理地区").select_option(label="上海市黄浦区")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(re.compile(r"division=310101"))
    assert _queued(page) == {tasks[HUANGPU]}
    shot(page, "regions-inbox-supervisor")


def test_the_applicants_case_names_the_office_of_each_step_never_a_code(
    page: Any, server: LiveServer, cases: dict[str, int]
) -> None:
    sign_in(page, "applicant1")
    page.goto(f"/cases/{cases[XUHUI]}")
    expect(page.locator("#case-division")).to_have_text("上海市徐汇区")
    step = page.locator(f"#steps-table tr[data-element='{REGISTER}'] td.office")
    expect(step).to_have_text("上海市徐汇区市场监督管理局")
    # The facts, the steps table and the timeline name places and offices, never codes or keys
    # (the diagram's own lane labels are the bundle author's).
    text = " ".join(page.locator(s).inner_text() for s in ("dl.facts", "#steps-table", "ol.timeline"))
    assert "310104" not in text and "market-regulation" not in text
    shot(page, "regions-case-xuhui")

    page.goto(f"/cases/{cases[PUDONG]}")
    step = page.locator(f"#steps-table tr[data-element='{REGISTER}'] td.office")
    expect(step).to_have_text("上海市市场监督管理局")  # no office in 浦东新区: the city's handles it


def test_in_english_the_case_and_the_inbox_name_offices_in_english(
    page: Any, server: LiveServer, cases: dict[str, int]
) -> None:
    page.context.add_cookies([{"name": "onething_lang", "value": "en", "url": server.url}])
    page.goto("/login")
    page.get_by_label("Username").fill("applicant1")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"msg=signed-in"))
    page.goto(f"/cases/{cases[XUHUI]}")
    expect(page.locator("#case-division")).to_have_text("Xuhui District, Shanghai")
    office = page.locator(f"#steps-table tr[data-element='{REGISTER}'] td.office").inner_text()
    assert "Xuhui District, Shanghai" in office and not re.search(r"[\u4e00-\u9fff]", office)
    expect(page.locator("#steps-table thead")).to_contain_text("Office")


def test_the_task_page_names_its_office(page: Any, server: LiveServer, cases: dict[str, int]) -> None:
    task_id, _ = _register_task(server, cases[HUANGPU])
    sign_in(page, "clerk.market-regulation@310101")
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("#task-office")).to_have_text("上海市黄浦区市场监督管理局")
    sign_in(page, "clerk.market-regulation@310104")
    response = page.goto(f"/tasks/{task_id}")
    assert response is not None and response.status == 404  # another district's task


def test_the_studio_shows_variants_by_division_and_ranks_offices(
    page: Any, server: LiveServer, cases: dict[str, int]
) -> None:
    engine = server.engine
    clerk = Actor(
        "clerk.market-regulation@310101", Role.CLERK, frozenset({"market-regulation"}), division=HUANGPU
    )
    task_id, _ = _register_task(server, cases[HUANGPU])
    decisions = engine.bundle_detail(BUNDLE).examples[0]["decisions"]
    engine.claim(clerk, task_id)
    engine.complete(clerk, task_id, "approve", decisions.get("business-registration", {}))

    sign_in(page, "analyst")
    page.goto("/studio")
    variants = page.locator(f"#bundles tr[data-bundle='{BUNDLE}'] td.variants")
    expect(variants).to_contain_text("上海市徐汇区")
    ranked = page.locator("#office-ranking tr[data-office='market-regulation@310101']")
    expect(ranked).to_contain_text("上海市黄浦区市场监督管理局")
    expect(ranked).to_contain_text("100%")
    page.goto(f"/studio/{BUNDLE}")
    expect(page.locator("#variants li[data-division='310104']")).to_contain_text("上海市徐汇区")
    expect(page.locator("#office-ranking")).to_contain_text("上海市黄浦区市场监督管理局")
    shot(page, "regions-studio")

    sign_in(page, "analyst@330100")  # a city's analyst reads its own subtree's figures only
    page.goto("/studio")
    expect(page.locator("#studio-scope")).to_contain_text("浙江省杭州市")
    assert page.locator("#office-ranking tr[data-office='market-regulation@310101']").count() == 0


def test_the_apply_page_offers_a_division_only_where_the_form_asks_none(
    page: Any, server: LiveServer
) -> None:
    sign_in(page, "applicant1")
    page.goto(f"/apply/{BUNDLE}")  # its form asks the address's division code itself
    assert page.locator("#f-division").count() == 0
    page.goto("/apply/social-security-card")
    select = page.get_by_label("办理地区")
    expect(select.locator("option[value='310101']")).to_have_text("上海市黄浦区")
    expect(select.locator("option[value='330102']")).to_have_text("浙江省杭州市上城区")
    shot(page, "regions-apply-division")


def _signed_in(server: LiveServer, username: str) -> tuple[httpx.Client, str]:
    """An HTTP client signed in through the login form, and the CSRF token of its session."""
    client = httpx.Client(base_url=server.url)
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
    assert answer.status_code == 303
    return client, csrf_of(client.get("/").text)


def test_an_application_posted_with_a_division_is_handled_by_that_districts_office(
    server: LiveServer,
) -> None:
    engine = server.engine
    key = "social-security-card"
    example = engine.bundle_detail(key).examples[0]
    form: dict[str, Any] = {
        name: [str(v) for v in value]
        if isinstance(value, list)
        else ("true" if value is True else "false" if value is False else str(value))
        for name, value in example["data"].items()
    }
    for kind in example["materials"]:
        stored = engine.materials.upload(APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind)))
        form[f"material:{kind}"] = stored.id
    client, token = _signed_in(server, "applicant1")
    try:
        sent = {**form, "step": "submit", "csrf_token": token}
        refused = client.post(f"/apply/{key}", data={**sent, "division": "999999"})
        assert refused.status_code == 422 and "请从列表中选择办理地区" in refused.text
        answer = client.post(f"/apply/{key}", data={**sent, "division": HUANGPU})
    finally:
        client.close()
    assert answer.status_code == 303, answer.text
    found = re.search(r"/cases/(\d+)", answer.headers["location"])
    assert found is not None
    case = engine.get_case(APPLICANT, int(found.group(1)))
    assert case.division == HUANGPU
    assert {t.division for t in case.tasks if t.state in ("ready", "claimed")} == {HUANGPU}
