"""The message centre page in real chromium, on a phone (390x844, also 360 and 414) and a desktop.

One enterprise-startup case runs with a return, the supplement and the end: the applicant
has two messages, the market regulation clerk one per task of the office. The navigation
badge says how many are unread ("2 条未读消息"); opening a message marks it read and goes to
the case or task it is about, and the badge counts down; "全部标为已读" clears it. The page
keeps one h1, fits the phone without sideways scrolling, and its controls are 44 px tall.
Another person's message cannot be opened (404). Screenshots: messages-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from engine.cases.states import Outcome
from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, csrf_of, shot, sign_in
from tests.support.engines import ANALYST, clerk, upload, work_all

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def case_id(server: LiveServer) -> int:
    """A finished case that went back once for a correction (two messages to the applicant)."""
    engine = server.engine
    example = dict(engine.bundle_detail(BUNDLE).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    case = engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id
    police = clerk("public-security")
    for _ in range(20):
        view = engine.get_case(ANALYST, case)
        seal = [t for t in view.tasks if t.item == "seal-engraving" and t.state == "ready"]
        if seal:
            engine.claim(police, seal[0].id)
            problem = {"field": "legal_rep_phone", "message": "联系电话无法接通，请核对"}
            engine.complete(police, seal[0].id, Outcome.RETURN, {}, "请核对电话", [problem])
            break
        task = next(t for t in view.tasks if t.state == "ready" and t.kind == "human")
        actor = clerk(task.department)
        engine.claim(actor, task.id)
        engine.complete(actor, task.id, Outcome.APPROVE, example["decisions"].get(task.item, {}), "同意")
    work_all(engine, case, example["decisions"])
    engine.supplement(APPLICANT, case, {"legal_rep_phone": "13900001111"}, {})
    work_all(engine, case, example["decisions"])
    assert engine.get_case(APPLICANT, case).status == "completed"
    return case


@pytest.fixture
def open_context(browser: Any, server: LiveServer) -> Iterator[Any]:
    """Make pages at a given size (Chinese); script errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(viewport: dict[str, int]) -> Any:
        context = browser.new_context(locale="zh-CN", viewport=viewport, base_url=server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"script errors on the page: {errors}"


def badge(page: Any) -> tuple[str, str] | None:
    """The nav badge's number and its spoken label, or None when nothing is unread."""
    found = page.locator('header nav a[href="/messages"] [data-unread-count]')
    if found.count() == 0:
        return None
    return found.inner_text().strip(), str(found.get_attribute("aria-label"))


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_applicant_reads_messages_on_a_phone_and_the_badge_counts_down(
    open_context: Any, server: LiveServer, case_id: int
) -> None:
    page = open_context(PHONE)
    sign_in(page, APPLICANT.username)
    assert badge(page) == ("2", "2 条未读消息")
    page.goto("/messages")
    assert page.locator("h1").count() == 1 and page.locator("h1").inner_text() == "消息"
    items = page.locator("li.message")
    assert items.count() == 2 and page.locator("li.message[data-unread]").count() == 2
    titles = [t.strip() for t in page.locator(".message-title").all_inner_texts()]
    assert titles == ["已办结：企业开办一件事", "需要补正：企业开办一件事"]  # newest first
    body = page.locator(".message-body").first.inner_text()
    assert "营业执照" in body and "enterprise-startup" not in page.content()
    for width in (360, 390, 414):
        page.set_viewport_size({"width": width, "height": 844})
        assert no_sideways_scroll(page), f"sideways scroll at {width} px"
    page.set_viewport_size(PHONE)
    for control in page.locator("main button, main a.button").all():
        box = control.bounding_box()
        assert box is not None and box["height"] >= 44, control.inner_text()
    shot(page, "messages-list-phone")

    page.locator("li.message").first.get_by_role("button").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}$"))
    assert badge(page) == ("1", "1 条未读消息")
    page.goto("/messages")
    assert page.locator("li.message[data-unread]").count() == 1
    assert "已读" in page.locator("li.message").first.inner_text()
    page.get_by_role("button", name="全部标为已读").click()
    page.wait_for_url(re.compile(r"/messages$"))
    assert badge(page) is None and page.locator("li.message[data-unread]").count() == 0
    assert "没有未读消息" in page.locator(".messages-summary").inner_text()
    shot(page, "messages-read-phone")


def test_a_clerk_opens_a_task_message_from_the_keyboard_on_a_desktop(
    open_context: Any, server: LiveServer, case_id: int
) -> None:
    page = open_context(DESKTOP)
    sign_in(page, "clerk.market-regulation")
    start = badge(page)
    assert start is not None
    count = int(start[0])
    assert count >= 1 and start[1] == f"{count} 条未读消息"
    page.goto("/messages?unread=true")
    assert page.locator("li.message[data-unread]").count() == count
    assert (
        page.locator("li.message")
        .first.locator(".message-title")
        .inner_text()
        .startswith(("新待办", "补正后"))
    )
    shot(page, "messages-list-desktop")

    first = page.locator("li.message").first.get_by_role("button")
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    assert page.locator("h1").count() == 1
    after = badge(page)
    assert (after[0] if after else "0") == str(count - 1)


def test_another_persons_message_cannot_be_opened(
    open_context: Any, server: LiveServer, case_id: int
) -> None:
    theirs = server.engine.messages.list(Actor("clerk.market-regulation", Role.CLERK)).items[0]
    page = open_context(DESKTOP)
    sign_in(page, "applicant2")
    page.goto("/messages")
    assert page.locator("li.message").count() == 0 and badge(page) is None
    token = csrf_of(page.content())
    answer = page.request.post(f"/messages/{theirs.id}/open", form={"csrf_token": token}, max_redirects=0)
    assert answer.status == 404
    still = server.engine.messages.get(Actor("clerk.market-regulation", Role.CLERK), theirs.id)
    assert still.read_at == theirs.read_at


def test_the_english_page_is_in_english(open_context: Any, server: LiveServer, case_id: int) -> None:
    page = open_context(DESKTOP)
    sign_in(page, "supervisor.market-regulation")
    page.goto("/lang/en?next=/messages")
    page.wait_for_url(re.compile(r"/messages$"))
    assert page.locator("h1").inner_text() == "Messages"
    assert badge(page) == ("1", "1 unread message")
    assert page.locator(".message-title").first.inner_text() == "New task: Business registration"
    assert not re.search(r"[\u4e00-\u9fff]", page.locator("main").inner_text())  # no Chinese left in main
    shot(page, "messages-list-desktop-en")
