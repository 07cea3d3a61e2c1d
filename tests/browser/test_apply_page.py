"""The application page in real chromium: phones and desktops, drafts, the server's messages, names.

- At 360, 390 and 414 px the page never scrolls sideways and every control is at least 44 px
  to tap; at 1366 px the short fields sit two by two.
- What the applicant types is saved as a draft while they type (and when they leave); coming
  back resumes it, with the time and a way to start again.
- Field checks are the server's, in the page's language, next to the field, and never the
  browser's own bubble; a submit lists every problem at once.
- The guide's answers (query parameters) fill the form where the draft left it empty.
- A division is picked from the tree by name; the page shows no codes, keys or MIME types.

One server per module (tests/browser/conftest.py); each test works on its own bundle or
applicant, so their drafts do not meet.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.demo import demo_pdf
from engine.people.actors import Actor, Role
from engine.portal.drafts import DraftNotFound
from tests.browser.conftest import LiveServer, shot, sign_in

pytestmark = pytest.mark.browser

STARTUP = "enterprise-startup"
CHANGE = "enterprise-info-change"
RESTAURANT = "restaurant-opening"
PHONES = (360, 390, 414)
PHONE_HEIGHT = 844
DESKTOP = {"width": 1366, "height": 900}
SETTLE_MS = 2000
BAD_USCC = "91310115MA1K4B7C2V"  # the shipped example's code with a wrong check character

# Controls under 44 x 44 px in #main, too small to tap (radios and checkboxes are tapped through their label).
SMALL_TARGETS = """() => {
  const small = [];
  for (const el of document.querySelectorAll(
      '#main input, #main select, #main textarea, #main button, #main a.button')) {
    if (el.type === 'hidden') continue;
    const target = (el.type === 'radio' || el.type === 'checkbox') ? (el.closest('label') || el) : el;
    const box = target.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown (a condition that does not hold)
    if (box.height < 44 || box.width < 44) {
      small.push(`${el.name || el.id || el.tagName} ${box.width}x${box.height}`);
    }
  }
  return small;
}"""


def _fits(page: Any) -> None:
    """No horizontal scrolling: the document is no wider than the window."""
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width} px wide in a {inner} px window"


def _saved(page: Any) -> None:
    """Wait for the quiet status that says the draft was saved."""
    expect(page.locator("#draft-status")).to_contain_text("已自动保存", timeout=10_000)


@pytest.mark.parametrize("width", PHONES)
def test_the_form_fits_a_phone_and_every_control_is_big_enough_to_tap(
    page: Any, server: LiveServer, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": PHONE_HEIGHT})
    sign_in(page, "applicant1")
    page.goto(f"/apply/{STARTUP}")
    _fits(page)
    assert page.evaluate(SMALL_TARGETS) == []
    # The conditional field, once shown, fits too.
    page.locator("[data-field='has_employees'] input[value='true']").check()
    expect(page.locator("#f-employee_count")).to_be_visible()
    _fits(page)
    assert page.evaluate(SMALL_TARGETS) == []
    # Fields stack: the company name and its type are one above the other, each the full width.
    name = page.locator("#f-company_name").bounding_box()
    kind = page.locator("#f-company_type").bounding_box()
    assert kind["y"] > name["y"] + name["height"] - 1
    assert name["width"] > width * 0.75
    assert page.locator("h1").count() == 1
    shot(page, f"apply-startup-{width}")


def test_on_a_desktop_the_short_fields_sit_two_by_two(page: Any, server: LiveServer) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, "applicant1")
    page.goto(f"/apply/{STARTUP}")
    _fits(page)
    name = page.locator("#f-company_name").bounding_box()
    kind = page.locator("#f-company_type").bounding_box()
    assert abs(name["y"] - kind["y"]) < 2 and kind["x"] > name["x"] + name["width"]
    assert 300 < name["width"] < 700  # comfortable, not the whole screen
    shot(page, "apply-startup-1366")


def test_a_draft_is_saved_while_typing_and_resumed_on_coming_back(
    page: Any, server: LiveServer, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": PHONE_HEIGHT})
    sign_in(page, "applicant2")
    page.goto(f"/apply/{STARTUP}")
    expect(page.locator("#draft-note")).to_have_count(0)
    page.locator("#f-company_name").fill("上海澄川信息科技有限公司")
    page.locator("[data-field='has_employees'] input[value='true']").check()
    page.locator("#f-employee_count").fill("6")
    status = page.locator("#draft-status")
    assert status.get_attribute("aria-live") == "polite"
    _saved(page)
    # An upload is kept in the draft too (its id, not the file again).
    upload = tmp_path / "articles.pdf"
    upload.write_bytes(demo_pdf("articles_of_association"))
    page.locator("#m-articles_of_association").set_input_files(str(upload))
    page.wait_for_selector("[data-material='articles_of_association'][data-uploaded='true']")
    applicant = Actor("applicant2", Role.APPLICANT)
    for _ in range(50):
        if "articles_of_association" in server.engine.drafts.load(applicant, STARTUP).materials:
            break
        page.wait_for_timeout(200)
    else:
        pytest.fail("the uploaded material never reached the draft")
    _saved(page)
    # Typed just before leaving: saved as the page goes away, not lost with the timer.
    page.locator("#f-address").fill("上海市浦东新区张江路88号")
    page.goto("/")
    # The page-hide save is a keepalive request of its own: it may still be on its way while
    # the next page loads, so wait for it to land (it never does without the page-hide save).
    for _ in range(50):
        if server.engine.drafts.load(applicant, STARTUP).data.get("address") == "上海市浦东新区张江路88号":
            break
        page.wait_for_timeout(200)
    else:
        pytest.fail("what was typed just before leaving never reached the draft")
    page.goto(f"/apply/{STARTUP}")
    note = page.locator("#draft-note")
    expect(note).to_contain_text("已恢复您上次保存的草稿")
    expect(note).to_contain_text(re.compile(r"保存于 \d\d:\d\d"))
    assert page.locator("#f-company_name").input_value() == "上海澄川信息科技有限公司"
    assert page.locator("#f-address").input_value() == "上海市浦东新区张江路88号"
    assert page.locator("[data-field='has_employees'] input[value='true']").is_checked()
    assert page.locator("#f-employee_count").input_value() == "6"
    assert "已上传" in page.locator("#m-articles_of_association-status").inner_text()
    shot(page, "apply-draft-resumed-390")
    # My cases lists it, with a way back.
    page.goto("/cases")
    draft = page.locator("[data-draft='enterprise-startup']")
    expect(draft).to_contain_text("企业开办一件事")
    draft.get_by_role("link", name=re.compile("继续填写")).click()
    page.wait_for_url(re.compile(rf"/apply/{STARTUP}$"))
    # 清空重填: the draft is gone and the form empty, even with something typed just before.
    page.locator("#f-company_name").fill("刚刚输入")
    page.get_by_role("button", name="清空重填").click()
    page.wait_for_url(re.compile(r"draft=cleared"))
    expect(page.locator("#draft-note")).to_contain_text("草稿已清空")
    assert page.locator("#f-company_name").input_value() == ""
    page.wait_for_timeout(SETTLE_MS)  # a save sent as the page went would have landed by now
    with pytest.raises(DraftNotFound):
        server.engine.drafts.load(applicant, STARTUP)


def test_the_server_speaks_for_a_bad_uscc_and_the_browser_never_does(page: Any, server: LiveServer) -> None:
    page.set_viewport_size({"width": 390, "height": PHONE_HEIGHT})
    sign_in(page, "applicant1")
    page.goto(f"/apply/{CHANGE}")
    form = page.locator("#apply-form")
    assert form.get_attribute("novalidate") is not None
    checked = ", ".join(
        f"{tag}[{a}]"
        for tag in ("input", "select", "textarea")
        for a in ("pattern", "required", "min", "max", "minlength")
    )
    assert form.locator(checked).count() == 0
    uscc = page.locator("#f-uscc")
    uscc.fill(BAD_USCC)
    page.keyboard.press("Tab")
    error = page.locator("[data-field='uscc'] .field-error")
    expect(error).to_be_visible()
    said = error.inner_text()
    assert "统一社会信用代码" in said or "校验" in said, said
    assert not re.search(r"[A-Za-z]{4,}", said), f"English beside Chinese: {said}"
    assert uscc.get_attribute("aria-invalid") == "true"
    assert "f-uscc-error" in (uscc.get_attribute("aria-describedby") or "")
    # The browser has nothing to say about it: no constraint, no "Please match the requested format".
    assert uscc.evaluate("el => el.validity.valid && el.validationMessage === ''")
    shot(page, "apply-uscc-inline-390")
    # Corrected, the message goes.
    uscc.fill("91310115MA1K4B7C2U")
    page.keyboard.press("Tab")
    expect(error).to_be_hidden()
    assert uscc.get_attribute("aria-invalid") is None
    # Submitting: every problem at once at the top, each also under its field, from the server.
    uscc.fill(BAD_USCC)
    page.get_by_role("button", name="下一步：核对申请").click()
    summary = page.locator("#problem-summary")
    expect(summary).to_be_visible()
    # What was typed just before sending went into the draft as well.
    page.wait_for_timeout(SETTLE_MS)
    assert server.engine.drafts.load(Actor("applicant1", Role.APPLICANT), CHANGE).data["uscc"] == BAD_USCC
    assert summary.locator("li").count() >= 3
    expect(summary.locator("li").filter(has_text="统一社会信用代码")).to_have_count(1)
    expect(page.locator("[data-field='uscc'] .field-error")).to_be_visible()
    _fits(page)
    shot(page, "apply-problems-390")


def test_the_guide_s_answers_fill_only_what_the_draft_left_empty(page: Any, server: LiveServer) -> None:
    page.set_viewport_size({"width": 414, "height": PHONE_HEIGHT})
    sign_in(page, "applicant1")
    query = "company_name=%E6%B2%AA%E4%B8%8A%E5%B0%8F%E9%A6%86&has_outdoor_sign=true&password=x&nothing="
    page.goto(f"/apply/{RESTAURANT}?{query}")
    assert page.locator("#f-company_name").input_value() == "沪上小馆"
    assert page.locator("[data-field='has_outdoor_sign'] input[value='true']").is_checked()
    note = page.locator("#query-note")
    expect(note).to_contain_text("情形引导")
    expect(note).to_contain_text("企业名称")
    assert page.locator("#apply-form [name='password']").count() == 0  # not a field of this form
    # With a draft, its answer stays; the guide fills the rest.
    page.locator("#f-company_name").fill("澄川餐饮有限公司")
    _saved(page)
    page.goto(
        f"/apply/{RESTAURANT}?{query}&address=%E4%B8%8A%E6%B5%B7%E5%B8%82%E9%BB%84%E6%B5%A6%E5%8C%BA%E5%8D%97%E4%BA%AC%E4%B8%9C%E8%B7%AF1%E5%8F%B7"
    )
    assert page.locator("#f-company_name").input_value() == "澄川餐饮有限公司"
    assert page.locator("#f-address").input_value() == "上海市黄浦区南京东路1号"
    assert page.locator("[data-field='has_outdoor_sign'] input[value='true']").is_checked()
    expect(page.locator("#draft-note")).to_be_visible()
    filled, kept = note.locator("p").all_inner_texts()
    assert "住所" in filled and "企业名称" not in filled
    assert "草稿中已填写的内容保持不变" in kept and "企业名称" in kept
    _fits(page)
    shot(page, "apply-guide-prefill-414")


def test_a_division_is_picked_by_name_and_no_codes_show(page: Any, server: LiveServer) -> None:
    page.set_viewport_size({"width": 390, "height": PHONE_HEIGHT})
    sign_in(page, "applicant1")
    page.goto(f"/apply/{STARTUP}")
    picker = page.locator("#f-address_division")
    assert picker.evaluate("el => el.tagName") == "SELECT"
    labels = picker.locator("option").all_inner_texts()
    assert "上海市黄浦区" in labels
    assert not any(re.search(r"\d{6}", text) for text in labels), "a division code is shown"
    # Two steps: the province narrows the places to choose from.
    province = page.get_by_label("所在省（自治区、直辖市）")
    assert "浙江省" in province.locator("option").all_inner_texts()
    province.select_option(label="浙江省")
    narrowed = picker.locator("option").all_inner_texts()
    assert "上海市黄浦区" not in narrowed and any(text.startswith("浙江省") for text in narrowed[1:])
    province.select_option(label="上海市")
    picker.select_option(label="上海市黄浦区")
    assert picker.input_value() == "310101"
    assert page.evaluate(SMALL_TARGETS) == []
    _fits(page)
    main = page.locator("#main").inner_text()
    for leak in ("address_division", "company_name", "application/pdf", "image/jpeg", " / Choose"):
        assert leak not in main, leak
    assert "PDF、JPG、PNG" in main
    # English pages in English only.
    page.goto(f"/lang/en?next=/apply/{STARTUP}")
    page.wait_for_url(re.compile(rf"/apply/{STARTUP}"))
    main = page.locator("#main").inner_text()
    assert "Company name" in main and "企业名称" not in main and "请选择" not in main
    assert "Huangpu District, Shanghai" in page.locator("#f-address_division option").all_inner_texts()
    assert "PDF, JPG, PNG" in main
    page.locator("#f-legal_rep_id").fill("310115198503120419")  # a wrong check digit
    page.keyboard.press("Tab")
    said = page.locator("[data-field='legal_rep_id'] .field-error")
    expect(said).to_be_visible()
    assert not re.search(r"[\u4e00-\u9fff]", said.inner_text()), said.inner_text()
    shot(page, "apply-startup-en-390")


def test_a_resumed_draft_goes_to_review_and_submitting_it_discards_it(page: Any, server: LiveServer) -> None:
    page.set_viewport_size({"width": 360, "height": PHONE_HEIGHT})
    engine = server.engine
    applicant = Actor("applicant2", Role.APPLICANT)
    example = engine.bundle_detail(STARTUP).examples[0]
    materials = {
        kind: engine.materials.upload(applicant.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))).id
        for kind in example["materials"]
    }
    engine.drafts.save(applicant, STARTUP, example["data"], materials)
    sign_in(page, "applicant2")
    page.goto(f"/apply/{STARTUP}")
    expect(page.locator("#draft-note")).to_be_visible()
    # The resumed division shows in both steps of the picker.
    chosen = example["data"]["address_division"]
    assert page.locator("#f-address_division").input_value() == chosen
    province = page.locator("#f-address_division-group")
    assert province.evaluate("el => el.options[el.selectedIndex].text") == "上海市"
    page.get_by_role("button", name="下一步：核对申请").click()
    page.wait_for_selector("#review-form")
    _fits(page)
    division = page.locator("[data-summary='address_division']")
    if division.count():
        assert not re.search(r"\d{6}", division.inner_text()), "the review shows a division code"
    shot(page, "apply-review-360")
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url(re.compile(r"/cases/\d+\?msg=submitted"))
    with pytest.raises(DraftNotFound):
        engine.drafts.load(applicant, STARTUP)
