"""An applicant files and follows a 办不成事 complaint on a phone (390x844), in a real browser.

From the case page (its 办不成事 part) to the filing form, whose problems the server lists
beside each field; then the complaint's own page with its department, deadline and state,
the list of one's complaints, and the answer once the supervisor has given it on the desk.
Nothing is wider than the screen at 360, 390 or 414 px, every control is at least 44 px tall,
and another applicant gets the 404 page for it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from engine.demo import demo_document
from engine.people.actors import Actor, Role
from tests.browser.conftest import SCREENSHOTS, LiveServer, checked_page, shot, sign_in

pytestmark = pytest.mark.browser

BUNDLE = "school-enrollment"
PHONE = {"width": 390, "height": 844}
WIDTHS = (360, 390, 414)
# What an applicant touches: buttons, button-like links, form controls, disclosure summaries.
CONTROLS = ("button", ".button", "select", "textarea", "input:not([type=hidden])", "summary")


class Filed:
    """What the ordered tests hand on: the case and the complaint filed on it."""

    case_id: int = 0
    complaint_id: int = 0


@pytest.fixture(scope="module")
def filed(server: LiveServer) -> Filed:
    """applicant1's running school-enrollment case (the complaint comes in the first test)."""
    engine = server.engine
    applicant = Actor("applicant1", Role.APPLICANT)
    example = engine.bundle_detail(BUNDLE).examples[0]
    materials = {}
    for kind in example["materials"]:
        filename, body = demo_document(engine, kind)
        materials[kind] = engine.materials.upload(applicant.username, kind, filename, io.BytesIO(body)).id
    found = Filed()
    found.case_id = engine.start_case(applicant, BUNDLE, example["data"], materials).id
    return found


@pytest.fixture
def phone(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A phone-sized page (390x844) in Chinese; script errors and CSP violations fail the test."""
    yield from checked_page(browser, server, PHONE, has_touch=True)


def fits_phones(page: Any, scope: str = "main") -> None:
    """No sideways scrolling at 360-414 px, one h1, and every control in ``scope`` 44 px or taller."""
    controls = ", ".join(f"{scope} {control}" for control in CONTROLS)
    assert page.locator("h1").count() == 1
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{page.url} is {wide} px wide at {width} px"
        small = page.evaluate(
            """(selector) => [...document.querySelectorAll(selector)]
                .filter((e) => e.offsetParent !== null)
                .map((e) => [e.outerHTML.slice(0, 80), e.getBoundingClientRect().height])
                .filter(([, h]) => h < 44)""",
            controls,
        )
        assert not small, f"controls under 44 px at {width} px on {page.url}: {small}"
    page.set_viewport_size(PHONE)


def test_the_applicant_files_a_complaint_from_the_case_page_with_the_servers_messages(
    phone: Any, filed: Filed
) -> None:
    sign_in(phone, "applicant1")
    phone.goto(f"/cases/{filed.case_id}")
    part = phone.locator("#case-complaints")
    expect(part).to_be_visible()
    part.get_by_role("link", name="我要反映（办不成事）").click()
    phone.wait_for_url(re.compile(rf"/complaints/new\?case_id={filed.case_id}$"))
    expect(phone.locator("h1")).to_have_text("我要反映（办不成事）")
    form = phone.locator("#complaint-form")
    assert form.get_attribute("novalidate") is not None
    assert phone.get_by_label("相关办件").input_value() == str(filed.case_id)
    # The departments of this case's bundle, by name; never a key.
    options = phone.get_by_label("反映的部门").locator("option").all_inner_texts()
    assert "公安局" in options and not any("public-security" in o for o in options)
    fits_phones(phone)
    shot(phone, "complaint-new-390x844")

    # Nothing written: the server says so beside the field (and in the summary at the top).
    form.get_by_role("button", name="提交反映").click()
    expect(phone.locator("#f-text-error")).to_contain_text("请填写内容")
    text = phone.get_by_label("遇到的问题")
    assert text.get_attribute("aria-invalid") == "true"
    assert "f-text-error" in (text.get_attribute("aria-describedby") or "")
    expect(phone.locator("#problem-summary")).to_contain_text("遇到的问题")
    fits_phones(phone)
    shot(phone, "complaint-new-problems-390x844")

    phone.get_by_label("反映的部门").select_option(label="公安局")
    text.fill("户籍核验已经一周没有进展，窗口电话无人接听")
    phone.get_by_role("button", name="提交反映").click()
    phone.wait_for_url(re.compile(r"/complaints/\d+\?done=filed$"))
    filed.complaint_id = int(re.findall(r"/complaints/(\d+)", phone.url)[0])
    expect(phone.locator("#done")).to_contain_text("已收到您的反映")
    expect(phone.locator("#complaint-state")).to_have_text("待答复")
    expect(phone.locator("#complaint-department")).to_have_text("公安局")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", phone.locator("#complaint-due").inner_text())
    fits_phones(phone)
    shot(phone, "complaint-filed-390x844")


def test_the_complaint_is_followed_from_the_list_and_the_case_page(phone: Any, filed: Filed) -> None:
    sign_in(phone, "applicant1")
    phone.goto("/complaints")
    card = phone.locator(f"#complaints li[data-complaint='{filed.complaint_id}']")
    expect(card).to_have_attribute("data-state", "open")
    assert "户籍核验已经一周没有进展" in card.inner_text() and "答复期限" in card.inner_text()
    fits_phones(phone)
    phone.goto(f"/cases/{filed.case_id}")
    mine = phone.locator(f"#case-complaints li[data-complaint='{filed.complaint_id}']")
    expect(mine).to_contain_text("待答复")
    fits_phones(phone, "#case-complaints")  # the rest of the case page is its own test's
    phone.locator("#case-complaints").screenshot(path=str(SCREENSHOTS / "complaint-case-390x844.png"))


def test_the_answer_given_on_the_desk_reaches_the_applicant(phone: Any, filed: Filed) -> None:
    sign_in(phone, "supervisor.public-security")
    phone.goto("/supervision")
    row = phone.locator(f"#supervision-complaints tr[data-complaint='{filed.complaint_id}']")
    row.get_by_text("答复", exact=True).click()
    row.get_by_label("答复（申请人可见）").fill("已督促户籍科今日办结，并向您致歉")
    row.get_by_role("button", name="发送答复").click()
    phone.wait_for_url(re.compile(r"done=answered"))

    sign_in(phone, "applicant1")
    phone.goto(f"/complaints/{filed.complaint_id}")
    expect(phone.locator("#complaint-state")).to_have_text("已答复")
    expect(phone.locator("#complaint-answer")).to_contain_text("已督促户籍科今日办结，并向您致歉")
    fits_phones(phone)
    shot(phone, "complaint-answered-390x844")
    phone.goto("/complaints")
    card = phone.locator(f"#complaints li[data-complaint='{filed.complaint_id}']")
    expect(card).to_have_attribute("data-state", "answered")
    phone.goto(f"/cases/{filed.case_id}")
    expect(phone.locator(f"#case-complaints li[data-complaint='{filed.complaint_id}']")).to_contain_text(
        "已督促户籍科今日办结"
    )


def test_another_applicant_cannot_open_the_complaint_nor_complain_about_the_case(
    phone: Any, filed: Filed
) -> None:
    sign_in(phone, "applicant2")
    answer = phone.goto(f"/complaints/{filed.complaint_id}")
    assert answer is not None and answer.status == 404
    assert "已督促户籍科" not in phone.locator("main").inner_text()
    assert phone.goto(f"/complaints/new?case_id={filed.case_id}").status == 404
    phone.goto("/complaints")
    expect(phone.locator(f"li[data-complaint='{filed.complaint_id}']")).to_have_count(0)
    # A clerk has no complaint pages at all.
    sign_in(phone, "clerk.public-security")
    assert phone.goto("/complaints").status == 403


def test_the_complaint_pages_speak_english_on_english_pages(phone: Any, filed: Filed) -> None:
    sign_in(phone, "applicant1")
    for path in (
        f"/complaints/{filed.complaint_id}",
        "/complaints",
        f"/complaints/new?case_id={filed.case_id}",
    ):
        phone.goto("/lang/en?next=" + quote(path, safe=""))
        phone.wait_for_url(re.compile(re.escape(path) + "$"))
        # What the page says is English; Chinese stays only in what people wrote.
        said = phone.locator("main").inner_text()
        for written in ("户籍核验已经一周没有进展，窗口电话无人接听", "已督促户籍科今日办结，并向您致歉"):
            said = said.replace(written, "")
        assert not re.search(r"[\u4e00-\u9fff]", said), (path, said)
        fits_phones(phone)
    shot(phone, "complaint-new-en-390x844")
