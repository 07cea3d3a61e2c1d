"""情形引导 in real chromium: the questions on one phone screen, the result follows them, the form prefilled.

At 390x844 (and 360, 414: no horizontal scroll, touch targets of 44 px) and 1366x900.
Screenshots: test-artifacts/screenshots/guide-<page>-<size>.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, shot, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
MIN_TARGET = 43.5  # 44 px, with room for sub-pixel layout


def items(page: Any) -> list[str]:
    return [
        str(k) for k in page.locator("#guide-items li").evaluate_all("els => els.map(e => e.dataset.item)")
    ]


def answer(page: Any, question: str, choice: str) -> None:
    """Choose an answer by the question's legend and the choice's label, and wait for the result."""
    before = page.locator("#guide-result").get_attribute("data-updated") or "0"
    page.get_by_role("group", name=question).get_by_label(choice, exact=True).check()
    page.wait_for_function(
        "before => (document.getElementById('guide-result').dataset.updated || '0') !== before", arg=before
    )


def assert_fits_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    screen = page.evaluate("document.documentElement.clientWidth")
    assert width <= screen, f"the page is {width}px wide on a {screen}px screen"
    for target in page.locator("#guide-form label.guide-choice, #guide-form button:visible").all():
        box = target.bounding_box()
        assert box is not None and box["height"] >= MIN_TARGET, (target.inner_text(), box)


def test_phone_the_questions_change_the_items_materials_and_time_limit(page: Any, server: LiveServer) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/guide/enterprise-startup")
    assert page.locator("h1").count() == 1
    assert page.locator("#guide-form fieldset legend").all_inner_texts() == [
        "是否招用员工？",
        "是否申领发票？",
    ]
    for radio in page.locator("#guide-form input[type=radio]").all():
        assert radio.evaluate("r => r.labels.length") == 1  # every choice is labelled
    assert_fits_the_phone(page)
    # Nothing answered yet: every route is shown, what depends on the answers is marked.
    assert "Task_social_insurance" not in items(page)
    assert {"social-insurance-registration", "invoice-issue"} <= set(items(page))
    assert page.locator("#guide-open").is_visible()
    assert page.locator("#guide-show").is_hidden()  # the result follows the answers by itself
    shot(page, "guide-enterprise-startup-390x844")

    answer(page, "是否招用员工？", "否")
    answer(page, "是否申领发票？", "否")
    assert items(page) == [
        "business-registration",
        "seal-engraving",
        "tax-registration",
        "bank-account-opening",
    ]
    assert page.locator("#guide-open").count() == 0
    assert page.locator("#guide-items .badge").count() == 0
    assert "市场监督管理局" in page.locator("#guide-items").inner_text()
    assert page.locator("#guide-days").inner_text() == "2 个工作日"
    assert re.search(r"has_employees=false", page.url) and re.search(r"invoice_needed=false", page.url)

    answer(page, "是否招用员工？", "是")
    assert {"social-insurance-registration", "housing-fund-registration"} <= set(items(page))
    assert "invoice-issue" not in items(page)
    assert_fits_the_phone(page)
    shot(page, "guide-enterprise-startup-answered-390x844")

    for width in (360, 414):
        page.set_viewport_size({"width": width, "height": 844})
        assert_fits_the_phone(page)


def test_phone_a_choice_question_changes_the_materials(page: Any, server: LiveServer) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/guide/school-enrollment")
    answer(page, "请选择住房类型", "租赁住房")
    answer(page, "请选择户籍类型", "本地户籍")
    materials = page.locator("#guide-materials").inner_text()
    assert "住房租赁备案证明" in materials
    rented = items(page)
    answer(page, "请选择住房类型", "自有住房")
    assert "住房租赁备案证明" not in page.locator("#guide-materials").inner_text()
    assert items(page) != rented
    assert_fits_the_phone(page)
    shot(page, "guide-school-enrollment-390x844")


def test_without_scripts_the_button_shows_the_result(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(
        locale="zh-CN", viewport=PHONE, base_url=server.url, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto("/guide/enterprise-startup")
        page.get_by_role("group", name="是否招用员工？").get_by_label("否", exact=True).check()
        page.get_by_role("group", name="是否申领发票？").get_by_label("是", exact=True).check()
        page.get_by_role("button", name="查看结果").click()
        page.wait_for_url(re.compile(r"/guide/enterprise-startup\?has_employees=false&invoice_needed=true"))
        assert "invoice-issue" in items(page) and "social-insurance-registration" not in items(page)
        assert page.get_by_role("group", name="是否招用员工？").get_by_label("否", exact=True).is_checked()
    finally:
        context.close()


def test_desktop_start_the_form_with_the_answers(page: Any, server: LiveServer) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, "applicant2")
    page.goto("/guide/enterprise-startup")
    answer(page, "是否招用员工？", "是")
    answer(page, "是否申领发票？", "否")
    shot(page, "guide-enterprise-startup-1366x900")
    page.get_by_role("button", name="开始填表").click()
    page.wait_for_url(re.compile(r"/apply/enterprise-startup\?"))
    assert "has_employees=true" in page.url and "invoice_needed=false" in page.url
    assert page.locator("h1").count() == 1
    assert page.locator("input[name=has_employees][value=true]").is_checked()
    assert page.locator("input[name=invoice_needed][value=false]").is_checked()
    shot(page, "guide-apply-prefilled-1366x900")


def test_an_unknown_bundle_is_a_404_page(page: Any, server: LiveServer) -> None:
    answer_ = page.goto("/guide/no-such-bundle")
    assert answer_ is not None and answer_.status == 404
