"""The supervision desk's suspended cases (挂起办件) in real chromium.

The market regulation supervisor suspended an enterprise-startup case; on the desk, the section
"挂起办件" lists it: the case, the bundle's name, since when, the reason, the legal basis and
who suspended it by the account's display name (never the username), in Chinese on the Chinese
page and in English on the English one. The tax supervisor, whose office holds no task of the
case, sees no row. On a phone the desk fits without sideways scrolling and the resume control is
a 44 px target; the supervisor resumes from the desk (the case page's resume route) and comes
back to the desk, where the case is gone and it runs again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, checked_page, shot, sign_in
from tests.support.engines import upload

pytestmark = pytest.mark.browser

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
SUPERVISOR = "supervisor.market-regulation"
SUPERVISOR_ACTOR = Actor(SUPERVISOR, Role.CLERK, frozenset({"market-regulation"}), supervisor=True)
REASON = "等待法院对股权纠纷的裁判结果"
BASIS = "《市场主体登记管理条例》第二十条"


@pytest.fixture(scope="module")
def case_id(server: LiveServer) -> int:
    """A case whose registration waits at market regulation, suspended by its supervisor."""
    engine = server.engine
    example = dict(engine.bundle_detail(BUNDLE).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    made = engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id
    engine.suspend(SUPERVISOR_ACTOR, made, REASON, BASIS)
    return made


@pytest.fixture
def desk(browser: Any, server: LiveServer) -> Iterator[Any]:
    yield from checked_page(browser, server, {"width": 1366, "height": 900})


@pytest.fixture
def phone(browser: Any, server: LiveServer) -> Iterator[Any]:
    yield from checked_page(browser, server, {"width": 360, "height": 800})


def test_the_desk_lists_the_suspended_case_in_words(desk: Any, server: LiveServer, case_id: int) -> None:
    sign_in(desk, SUPERVISOR)
    desk.goto("/supervision")
    assert desk.locator("h1").count() == 1
    row = desk.locator(f"#supervision-suspended tr[data-suspended-case='{case_id}']")
    text = row.inner_text()
    bundle_zh = server.engine.bundle_detail(BUNDLE).summary.name.zh
    assert REASON in text and BASIS in text and bundle_zh in text and f"#{case_id}" in text
    assert "市场监督管理局" in text  # the office's department by name
    since = row.locator("time")
    assert since.get_attribute("datetime")
    assert re.search(r"\d{4}", since.inner_text())
    desk_text = desk.locator("#suspended").inner_text()
    assert SUPERVISOR not in desk_text and BUNDLE not in desk_text and "market-regulation" not in desk_text
    who = row.locator("td").nth(4).inner_text().strip()
    assert who and who != "工作人员" and "." not in who  # the display name, not a username
    # In English, in English: the headings and the controls (the reason, the basis and the account's
    # display name are the staff's own text).
    desk.context.add_cookies([{"name": "onething_lang", "value": "en", "url": server.url}])
    desk.goto("/supervision")
    heading = desk.locator("#h-suspended").inner_text()
    assert heading == "Suspended cases"
    row = desk.locator(f"#supervision-suspended tr[data-suspended-case='{case_id}']")
    name = row.locator("td").nth(4).inner_text().strip()  # the account's name as written: "… (supervisor)"
    english = row.inner_text().replace(REASON, "").replace(BASIS, "").replace(name, "")
    assert not re.search(r"[\u4e00-\u9fff]", english), english
    assert "Resume" in english
    desk.context.clear_cookies()
    sign_in(desk, "supervisor.tax")
    desk.goto("/supervision")
    expect(desk.locator(f"tr[data-suspended-case='{case_id}']")).to_have_count(0)
    assert "没有暂停办理的办件" in desk.locator("#suspended").inner_text()


def test_the_supervisor_resumes_from_the_desk(phone: Any, server: LiveServer, case_id: int) -> None:
    sign_in(phone, SUPERVISOR)
    phone.goto("/supervision")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    row = phone.locator(f"#supervision-suspended tr[data-suspended-case='{case_id}']")
    toggle = row.get_by_text("恢复办理", exact=True)
    box = toggle.bounding_box()
    assert box is not None and box["height"] >= 44
    shot(phone, "supervision-suspended-360x800")
    toggle.click()
    row.get_by_label("恢复说明（可选）").fill("法院已作出裁判")
    button = row.get_by_role("button", name="确认恢复办理")
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44
    button.click()
    phone.wait_for_url(re.compile(r"/supervision\?.*done=resumed"))
    assert "办件已恢复办理" in phone.locator("#done").inner_text()
    expect(phone.locator(f"tr[data-suspended-case='{case_id}']")).to_have_count(0)
    view = server.engine.get_case(SUPERVISOR_ACTOR, case_id)
    assert view.status == "running" and view.suspensions[-1].resume_note == "法院已作出裁判"
