"""The applicant's case page, the shell's 404 page and favicon, and the searchable home page.

One server per module with a case of applicant1 in each state (``case_states``). Phone is
390x844, desktop 1366x900; screenshots go to test-artifacts/screenshots/case-*.png and home-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from engine.people.actors import Actor, Role
from tests.browser import case_states
from tests.browser.conftest import SCREENSHOTS, LiveServer, csrf_of, shot, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
# A phone's home page was 15,826 px tall with 14 full cards (1,130 px a card: the issue's
# measure); grouped compact cards must make it far shorter: at most 430 px a bundle, all in.
PHONE_HOME_PER_BUNDLE = 430
WORDING_ZH = "部门已提出补正意见；本轮其他部门审查完毕后，您将收到一次性补正通知"


@pytest.fixture(scope="module")
def cases(server: LiveServer) -> dict[str, int]:
    """applicant1's cases by state: fresh, pending, awaiting, completed, withdrawn."""
    return case_states.all_states(server.engine)


@pytest.fixture
def phone(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A fresh Chinese context at 390x844, failing on script errors."""
    context = browser.new_context(locale="zh-CN", viewport=PHONE, base_url=server.url)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def _timeline_text(page: Any) -> str:
    return str(page.locator("#milestones").inner_text())


def test_on_a_phone_the_case_lists_its_steps_in_words_and_shows_the_diagram_on_demand(
    phone: Any, cases: dict[str, int]
) -> None:
    sign_in(phone, "applicant1")
    phone.goto(f"/cases/{cases['pending']}")
    steps = phone.locator("#step-list li")
    expect(steps.first).to_be_visible()
    text = phone.locator("#step-list").inner_text()
    # Department (office) names and states in words, a due date on open steps; never a key.
    assert "市场监督管理局" in text and "公安" in text
    assert "已完成" in text and "办理中" in text and "退回补正" in text
    assert "办理时限" in text
    assert "market-regulation" not in text and "public-security" not in text
    # The diagram waits behind 查看流程图.
    details = phone.locator("#diagram-details")
    assert details.get_attribute("open") is None
    expect(phone.locator("#case-diagram")).to_be_hidden()
    shot(phone, "case-steps-phone")
    phone.get_by_text("查看流程图").click()
    expect(phone.locator("#case-diagram")).to_be_visible()
    phone.wait_for_selector("#case-diagram[data-drawn='true']")
    box = phone.locator("#case-diagram").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert phone.locator("#case-diagram svg").count() >= 1
    shot(phone, "case-diagram-phone")


def test_on_a_wide_screen_the_diagram_is_open_and_drawn(page: Any, cases: dict[str, int]) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, "applicant1")
    page.goto(f"/cases/{cases['pending']}")
    assert page.locator("#diagram-details").get_attribute("open") is not None
    page.wait_for_selector("#case-diagram[data-drawn='true']")
    expect(page.locator("#step-list")).to_be_visible()
    shot(page, "case-desktop")


def test_the_applicant_reads_milestones_without_usernames_while_staff_keep_the_full_trail(
    page: Any, server: LiveServer, cases: dict[str, int]
) -> None:
    sign_in(page, "applicant1")
    page.goto(f"/cases/{cases['completed']}")
    text = _timeline_text(page)
    for said in ("提交申请", "已办结", "签发电子证照", "全部办结", "您已评价"):
        assert said in text, (said, text)
    kinds = page.locator("#milestones li").evaluate_all("items => items.map(li => li.dataset.kind)")
    assert not {"claimed", "unclaimed", "task_created", "timer_fired"} & set(kinds), kinds
    assert "clerk." not in text and "applicant1" not in text and "system" not in text
    assert "认领" not in text
    # Milestones name offices, never department keys.
    assert "market-regulation" not in text and "市场监督管理局" in text
    shot(page, "case-milestones")
    # A clerk of a department involved reads the full trail, claims and people included.
    page.context.clear_cookies()
    sign_in(page, "clerk.market-regulation")
    page.goto(f"/cases/{cases['completed']}")
    assert page.locator("#milestones").count() == 0
    trail = page.locator("ol.timeline").inner_text()
    assert "认领" in trail and "clerk.market-regulation" in trail


def test_a_pending_return_says_what_will_happen_and_the_notice_follows_the_round(
    page: Any, cases: dict[str, int]
) -> None:
    sign_in(page, "applicant1")
    page.goto(f"/cases/{cases['pending']}")
    expect(page.locator("#case-status")).to_have_text("办理中")
    pending = page.locator("#pending-return")
    expect(pending).to_contain_text(WORDING_ZH)
    expect(pending).to_contain_text("公安")
    assert "public-security" not in pending.inner_text()
    assert page.locator("#notice").count() == 0
    # Once the round is over the one notice is there, and the explanation gone.
    page.goto(f"/cases/{cases['awaiting']}")
    assert page.locator("#pending-return").count() == 0
    expect(page.locator("#notice")).to_be_visible()
    assert page.locator("#supplement-form").get_attribute("novalidate") is not None
    # In English, in English.
    page.context.add_cookies([{"name": "onething_lang", "value": "en", "url": page.url}])
    page.goto(f"/cases/{cases['pending']}")
    expect(page.locator("#pending-return")).to_contain_text("you will receive one correction notice")


def test_the_rating_form_answers_with_the_server_s_messages_beside_its_fields(
    page: Any, server: LiveServer
) -> None:
    case_id = case_states.completed(server.engine, rate=False)
    sign_in(page, "applicant1")
    page.goto(f"/cases/{case_id}")
    form = page.locator("#rating-form")
    assert form.get_attribute("novalidate") is not None
    form.get_by_role("button", name="提交评价").click()  # no score chosen: the server answers
    page.wait_for_selector("#f-score-error")
    expect(page.locator("#f-score-error")).to_contain_text("评分")
    expect(page.locator("#f-score")).to_have_attribute("aria-invalid", "true")
    assert "score" not in page.locator("#problem-summary").inner_text()  # the field's name, not its key
    page.locator("#rating-form").get_by_text("非常满意").click()
    page.locator("#rating-form").get_by_role("button", name="提交评价").click()
    page.wait_for_url(re.compile(r"msg=rated"))


def test_the_applicant_withdraws_before_any_decision_after_a_confirmation(
    page: Any, server: LiveServer, cases: dict[str, int]
) -> None:
    case_id = case_states.start(server.engine)
    sign_in(page, "applicant1")
    page.goto(f"/cases/{case_id}")
    page.locator("#withdraw").get_by_role("link", name="撤回申请…").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}/withdraw$"))
    expect(page.locator("h1")).to_have_text("确认撤回申请？")
    shot(page, "case-withdraw-confirm")
    assert server.engine.get_case(case_states.APPLICANT, case_id).status == "running"  # not yet
    page.get_by_role("button", name="确认撤回").click()
    page.wait_for_url(re.compile(r"msg=withdrawn"))
    expect(page.locator("#case-status")).to_have_attribute("data-status", "withdrawn")
    assert page.locator("#withdraw").count() == 0
    assert "您已撤回申请" in _timeline_text(page)


def test_a_claimed_step_names_no_clerk_and_is_not_yet_a_decision(page: Any, server: LiveServer) -> None:
    case_id = case_states.start(server.engine)
    [task] = server.engine.get_case(case_states.APPLICANT, case_id).tasks
    server.engine.claim(case_states.clerk_of(task.department), task.id)
    sign_in(page, "applicant1")
    page.goto(f"/cases/{case_id}")
    assert "clerk." not in page.locator("main").inner_text()
    assert "clerk." not in page.locator("#diagram-details").text_content()  # folded, or not
    expect(page.locator("#withdraw")).to_be_visible()


def test_no_withdrawal_is_offered_or_accepted_once_a_department_has_decided(
    page: Any, server: LiveServer, cases: dict[str, int]
) -> None:
    decided = cases["pending"]
    sign_in(page, "applicant1")
    page.goto(f"/cases/{decided}")
    assert page.locator("#withdraw").count() == 0
    for finished in (cases["completed"], cases["withdrawn"]):
        page.goto(f"/cases/{finished}")
        assert page.locator("#withdraw").count() == 0
    answer = page.goto(f"/cases/{decided}/withdraw")
    assert answer is not None and answer.status == 409
    expect(page.locator("h1")).to_have_text("不能撤回")
    # A post made anyway (an old page, a script) is refused by the engine's rule.
    with httpx.Client(base_url=server.url) as client:
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"username": "applicant1", "password": "demo", "csrf_token": token})
        token = csrf_of(client.get("/").text)
        refused = client.post(f"/cases/{decided}/withdraw", data={"csrf_token": token})
        assert refused.status_code == 409 and "不能撤回" in refused.text
        # Another applicant cannot withdraw applicant1's fresh case: it does not exist for them.
        other = httpx.Client(base_url=server.url)
        token = csrf_of(other.get("/login").text)
        other.post("/login", data={"username": "applicant2", "password": "demo", "csrf_token": token})
        token = csrf_of(other.get("/").text)
        assert other.post(f"/cases/{cases['fresh']}/withdraw", data={"csrf_token": token}).status_code == 404
        other.close()
    case = server.engine.get_case(case_states.APPLICANT, decided)
    assert case.status == "running"
    assert server.engine.get_case(case_states.APPLICANT, cases["fresh"]).status == "running"
    clerk = Actor("clerk.market-regulation", Role.CLERK, frozenset({"market-regulation"}))
    assert server.engine.get_case(clerk, decided).status == "running"


def test_unknown_addresses_answer_a_page_for_people_and_json_for_programs(
    page: Any, server: LiveServer
) -> None:
    answer = page.goto("/no-such-page/at-all")
    assert answer is not None and answer.status == 404
    assert "text/html" in answer.headers["content-type"]
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_have_text("页面不存在")
    home = page.get_by_role("link", name="回到首页")
    expect(home).to_have_attribute("href", "/")
    assert "detail" not in page.content()
    shot(page, "shell-404")
    page.context.add_cookies([{"name": "onething_lang", "value": "en", "url": server.url}])
    page.goto("/no-such-page")
    expect(page.locator("h1")).to_have_text("Page not found")
    answer = page.goto("/logout")  # a form's target opened as a page
    assert answer is not None and answer.status == 405
    expect(page.locator("h1")).to_have_count(1)
    with httpx.Client(base_url=server.url) as client:
        api = client.get("/api/no-such-thing")
        assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
        rest = client.get("/engine-rest/no-such-thing")
        assert rest.status_code == 404 and set(rest.json()) == {"type", "message", "code"}
        assert client.get("/static/no-such.css").headers["content-type"].startswith("application/json")


def test_the_favicon_is_linked_and_answers(page: Any, server: LiveServer) -> None:
    page.goto("/")
    href = page.locator("link[rel='icon']").get_attribute("href")
    assert href
    with httpx.Client(base_url=server.url) as client:
        for path in (href, "/favicon.ico"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"].startswith("image/svg+xml")
            assert answer.text.lstrip().startswith("<svg")


def _visible_cards(page: Any) -> list[str]:
    return list(
        page.locator("article[data-bundle]:visible").evaluate_all("cards => cards.map(c => c.dataset.bundle)")
    )


@pytest.mark.parametrize(("size", "name"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_the_home_page_groups_services_and_filters_them_as_one_types(
    page: Any, server: LiveServer, size: dict[str, int], name: str
) -> None:
    page.set_viewport_size(size)
    page.goto("/")
    every = {b.key for b in server.engine.list_bundles()}
    assert set(_visible_cards(page)) == every
    expect(page.locator("#h-audience-individual")).to_have_text("个人办事")
    expect(page.locator("#h-audience-enterprise")).to_have_text("企业办事")
    individual = page.locator("#audience-individual article[data-bundle]").evaluate_all(
        "cards => cards.map(c => c.dataset.bundle)"
    )
    assert "newborn-birth" in individual and "enterprise-startup" not in individual
    assert page.locator("#audience-enterprise h3").count() >= 2  # life events
    card = page.locator("article[data-bundle='newborn-birth']")
    guide, apply = (card.get_by_role("link", name=re.compile(said)) for said in ("办事指南", "在线申请"))
    expect(guide).to_have_attribute("href", "/guide/newborn-birth")
    expect(apply).to_have_attribute("href", "/apply/newborn-birth")
    height = page.evaluate("document.documentElement.scrollHeight")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"home-height-{name}.txt").write_text(f"{size['width']}x{size['height']}: {height}px\n")
    shot(page, f"home-{name}")
    if name == "phone":
        assert height < PHONE_HOME_PER_BUNDLE * len(every), (height, len(every))
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Typing filters at once; the groups left empty fold away.
    page.get_by_label("搜索要办的事").fill("新生儿")
    expect(page.locator("#bundle-count")).to_have_text("共 1 项")
    assert _visible_cards(page) == ["newborn-birth"]
    expect(page.locator("#audience-enterprise")).to_be_hidden()
    page.get_by_label("搜索要办的事").fill("")
    assert set(_visible_cards(page)) == every


def test_the_home_search_works_without_scripts(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(
        locale="zh-CN", viewport=PHONE, base_url=server.url, java_script_enabled=False
    )
    page = context.new_page()
    try:
        page.goto("/")
        page.get_by_label("搜索要办的事").fill("退休")
        page.get_by_role("button", name="搜索").click()
        page.wait_for_url(re.compile(r"\?q="))
        # A sent search is ranked (智能导办, tests/browser/test_home_search.py): the best fit first.
        found = _visible_cards(page)
        assert found[0] == "retirement"
        expect(page.locator("#bundle-count")).to_have_text(f"共 {len(found)} 项")
        # Names in both languages are searched too.
        page.goto("/?q=Newborn")
        assert _visible_cards(page)[0] == "newborn-birth"
        # Nothing matched: said so, and every service listed.
        page.goto("/")
        every = set(_visible_cards(page))
        page.goto("/?q=没有这种事项")
        assert set(_visible_cards(page)) == every
        expect(page.get_by_role("status")).to_contain_text("没有找到")
    finally:
        context.close()
