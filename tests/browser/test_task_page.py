"""The clerk's task page and queue in a real browser: names, not codes; the server's own messages.

One server per module. Two enterprise-startup cases of applicant1 are started through the engine;
the first goes round once (market regulation approves, public security returns it with a problem
on the phone number) so the trail holds claims, decisions, a certificate and a return. Pages are
read at 1366x900 and 390x844, in Chinese (and the task page's own words in English).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest

from engine.demo import demo_pdf, department_systems_work
from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, shot, sign_in, wait_diagram

pytestmark = pytest.mark.browser

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
SIZES = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}
MIME = re.compile(r"\b(?:application|image|text|video|audio)/[a-z0-9.+-]+", re.IGNORECASE)
CJK = re.compile(r"[\u4e00-\u9fff]")


class Cases:
    """The two cases and the tasks the tests open."""

    first: int = 0
    second: int = 0
    returned_task: int = 0  # public security's returned task of the first case
    registration: int = 0  # market regulation's ready task of the second case


@pytest.fixture(scope="module")
def cases(server: LiveServer) -> Cases:
    """Two cases; the first approved by market regulation and returned by public security."""
    engine = server.engine
    example = engine.bundle_detail(BUNDLE).examples[0]
    found = Cases()
    ids = []
    for _ in range(2):
        materials = {
            kind: engine.materials.upload(
                APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))
            ).id
            for kind in example["materials"]
        }
        ids.append(engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id)
    found.first, found.second = ids

    def clerk(department: str) -> Actor:
        return Actor(f"clerk.{department}", Role.CLERK, frozenset({department}))

    first = engine.get_case(APPLICANT, found.first)
    registration = next(t for t in first.tasks if t.item == "business-registration")
    engine.claim(clerk("market-regulation"), registration.id)
    engine.complete(
        clerk("market-regulation"), registration.id, "approve", example["decisions"]["business-registration"]
    )
    department_systems_work(engine, found.first, example["decisions"])
    seal = next(t for t in engine.get_case(APPLICANT, found.first).tasks if t.item == "seal-engraving")
    engine.claim(clerk("public-security"), seal.id)
    engine.complete(
        clerk("public-security"),
        seal.id,
        "return",
        {},
        "请核对联系方式",
        [{"field": "legal_rep_phone", "message": "该号码无法接通"}],
    )
    found.returned_task = seal.id
    second = engine.get_case(APPLICANT, found.second)
    found.registration = next(t.id for t in second.tasks if t.item == "business-registration")
    return found


@pytest.fixture(scope="module")
def codes(server: LiveServer) -> re.Pattern[str]:
    """Every code of the bundle a person must never read: keys of items, departments, fields,
    materials and outputs, BPMN element ids, and the usernames made of them."""
    engine = server.engine
    detail = engine.bundle_detail(BUNDLE)
    manifest = detail.manifest
    words: set[str] = set(detail.form.get("properties", {}))
    for item in manifest["items"]:
        words.update([item["key"], item["department"], item["task"]])
        for group in ("fields", "materials", "outputs", "decision_fields"):
            words.update(item.get(group) or ())
    words.update(re.findall(r'\bid="([A-Za-z_][\w-]*)"', engine.diagram(BUNDLE, 1)))
    words.update(m["kind"] for m in detail.materials)
    words.discard("")
    alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w-])")


def _leaks(text: str, codes: re.Pattern[str]) -> list[str]:
    """The codes and MIME types found in a page's visible text."""
    return sorted({m.group(0) for m in codes.finditer(text)} | {m.group(0) for m in MIME.finditer(text)})


@pytest.fixture
def zh(page: Any) -> Iterator[Any]:
    """The page, in Chinese at the end too (the language is remembered in the session)."""
    yield page


def test_the_queue_and_the_task_pages_show_names_never_codes(
    page: Any, server: LiveServer, cases: Cases, codes: re.Pattern[str]
) -> None:
    for clerk, path, name in (
        ("clerk.market-regulation", "/inbox", "inbox-market"),
        ("clerk.market-regulation", f"/tasks/{cases.registration}", "task-ready"),
        ("clerk.public-security", f"/tasks/{cases.returned_task}", "task-returned"),
        ("clerk.public-security", "/inbox?filter=all", "inbox-public-security-all"),
    ):
        sign_in(page, clerk)
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            page.goto(path)
            if "/tasks/" in path:
                wait_diagram(page)
            text = page.evaluate("document.body.innerText")
            assert not _leaks(text, codes), f"{path} at {size} shows codes: {_leaks(text, codes)}"
            main = page.locator("main").inner_text()
            assert "窗口人员 (clerk)" not in main, "display names without their English gloss in Chinese"
            who = page.locator(".who").inner_text()
            assert "窗口人员 ·" in who and "(clerk)" not in who, f"the header names the clerk {who!r}"
            assert not re.search(r"\bclerk\.", text), "usernames instead of names"
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {size}"
            shot(page, f"{name}-{size}")


def test_the_queue_is_a_list_of_cards_on_a_phone_and_a_table_on_a_desktop(
    page: Any, server: LiveServer, cases: Cases
) -> None:
    sign_in(page, "clerk.market-regulation")
    page.set_viewport_size(SIZES["390"])
    page.goto("/inbox")
    row = page.locator("#queue tbody tr").filter(has_text=f"#{cases.second}")
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    item = row.locator("td[data-label]").first
    assert item.evaluate("e => getComputedStyle(e).display") == "block"
    assert "事项" in item.evaluate("e => getComputedStyle(e, '::before').content")
    claim = row.get_by_role("button", name=re.compile("认领"))
    assert claim.bounding_box()["height"] >= 44
    shot(page, "inbox-cards-390")
    page.set_viewport_size(SIZES["1366"])
    page.goto("/inbox")
    assert page.locator("#queue thead").is_visible()
    cell = page.locator("#queue tbody tr td").first
    assert cell.evaluate("e => getComputedStyle(e).display") == "table-cell"


def test_the_trail_on_the_task_page_names_events_items_people_and_fields(
    page: Any, server: LiveServer, cases: Cases
) -> None:
    sign_in(page, "clerk.public-security")
    page.goto(f"/tasks/{cases.returned_task}")
    trail = page.locator("#case-trail")
    text = trail.inner_text()
    for words in ("提交申请", "进入部门待办队列", "审核通过", "签发电子证照", "退回补正", "申请人", "系统"):
        assert words in text, words
    assert "企业设立登记" in text and "公章刻制备案" in text
    assert "市场监督管理局 窗口人员" in text and "公安局 窗口人员" in text
    assert trail.locator("li[data-kind='claimed']").count() >= 2, "staff keep the whole trail"
    # An analyst reads every detail: the certificate and the returned field by their names.
    sign_in(page, "analyst")
    page.goto(f"/tasks/{cases.returned_task}")
    issued = page.locator("#case-trail li[data-kind='certificate_issued']").inner_text()
    assert "营业执照" in issued and "企业设立登记" in issued
    returned = page.locator("#case-trail li[data-kind='returned']").inner_text()
    assert "法定代表人手机号码" in returned and "该号码无法接通" in returned and "请核对联系方式" in returned


def test_a_bad_decision_value_comes_back_with_the_server_s_message_next_to_the_field(
    page: Any, server: LiveServer, cases: Cases
) -> None:
    sign_in(page, "clerk.market-regulation")
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.goto(f"/tasks/{cases.registration}")
        if page.locator("#task-state").get_attribute("data-state") == "ready":
            page.get_by_role("button", name="认领此任务").click()
            page.wait_for_url(re.compile(r"msg=claimed"))
        form = page.locator("#approve-form")
        assert form.get_attribute("novalidate") is not None
        assert page.locator("#return-form").get_attribute("novalidate") is not None
        hint = page.locator("#decision-example").inner_text()
        assert "统一社会信用代码" in hint and "uscc" not in hint
        form.locator("#f-uscc").fill("91310115MA1K4B7C2X")  # a wrong check digit
        with page.expect_response(re.compile(r"/complete$")) as answer:
            form.get_by_role("button", name="审核通过").click()
        assert answer.value.status == 422, "the browser let the form through to the server"
        field = page.locator("#approve-form [data-field='uscc']")
        error = field.locator(".field-error")
        assert error.is_visible() and "校验" in error.inner_text()
        assert page.locator("#f-uscc").get_attribute("aria-describedby").startswith("f-uscc-error")
        assert page.locator("#problem-summary").is_visible()
        assert page.locator("#f-uscc").evaluate("e => e.validationMessage") == ""
        # Nothing typed at all: the server says the field is required, in Chinese, beside it.
        page.locator("#f-uscc").fill("")
        with page.expect_response(re.compile(r"/complete$")) as answer:
            page.locator("#approve-form").get_by_role("button", name="审核通过").click()
        assert answer.value.status == 422
        assert page.locator("#approve-form [data-field='uscc'] .field-error").is_visible()
        shot(page, f"task-decision-problems-{size}")


def test_the_task_page_speaks_english_in_english(page: Any, server: LiveServer, cases: Cases) -> None:
    sign_in(page, "clerk.public-security")
    page.set_viewport_size(SIZES["1366"])
    page.goto(f"/lang/en?next=/tasks/{cases.returned_task}")
    wait_diagram(page)
    chrome = page.evaluate(
        """() => Array.from(document.querySelectorAll(
             'main h1, main h2, main h3, main dt, main th, main button, main label, main .hint,'
             + ' #case-trail strong, .diagram-legend li'))
           .map(e => e.innerText).join('\\n')"""
    )
    assert not CJK.search(chrome), [line for line in chrome.splitlines() if CJK.search(line)]
    lanes = page.locator("g.djs-element[data-element-id='Lane_public_security']").text_content()
    assert "Public security" in lanes
    shot(page, "task-returned-en-1366")
    page.goto(f"/lang/zh?next=/tasks/{cases.returned_task}")
