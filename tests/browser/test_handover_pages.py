"""Bulk actions in the inbox, delegate and reassign on the task page, release all my tasks: in chromium.

One server per module; enterprise-startup cases of applicant1 are started through the engine, so
market regulation's queue holds their registration tasks. A second clerk of the office (王二,
``clerk2.market-regulation``) is made for the hand-overs. Read at 1280 px and at 390 px.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from engine.demo import demo_pdf
from engine.people.accounts import AccountService
from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, shot, sign_in

pytestmark = pytest.mark.browser

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
CLERK2 = "clerk2.market-regulation"
CLERK2_PASSWORD = "a-long-passphrase-2"


def start_cases(server: LiveServer, count: int) -> list[int]:
    """``count`` new cases; their business-registration task ids (ready in market regulation's queue)."""
    engine = server.engine
    example = engine.bundle_detail(BUNDLE).examples[0]
    tasks = []
    for _ in range(count):
        materials = {
            kind: engine.materials.upload(
                APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))
            ).id
            for kind in example["materials"]
        }
        case = engine.start_case(APPLICANT, BUNDLE, example["data"], materials)
        tasks.append(
            next(t.id for t in engine.get_case(APPLICANT, case.id).tasks if t.item == "business-registration")
        )
    return tasks


@pytest.fixture(scope="module")
def clerk2(server: LiveServer) -> str:
    accounts = AccountService(server.engine.db, regions=server.engine.regions)
    accounts.create(CLERK2, CLERK2_PASSWORD, Role.CLERK, ["market-regulation"], display_name="王二")
    return CLERK2


def sign_in_as(page: Any, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"msg=signed-in"))


def fits(page: Any, width: int) -> None:
    """No sideways scroll at ``width``."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_bulk_claim_then_bulk_approve_from_the_inbox_with_a_result_per_task(
    page: Any, server: LiveServer, clerk2: str
) -> None:
    tasks = start_cases(server, 3)
    taken = tasks[2]
    server.engine.claim(Actor(clerk2, Role.CLERK, frozenset({"market-regulation"})), taken)
    sign_in(page, "clerk.market-regulation")
    page.goto("/inbox?filter=all")
    assert page.locator("h1").count() == 1
    assert page.get_by_label(re.compile(r"选择 #\d+ \S")).count() >= 3  # labelled checkboxes
    for task in tasks:
        page.locator(f"input[data-bulk-task='{task}']").check()
    page.locator("#bulk-claim").click()
    page.wait_for_selector("#bulk-results")
    statuses = {
        int(li.get_attribute("data-task")): li.get_attribute("data-status")
        for li in page.locator("#bulk-results li").all()
    }
    assert statuses == {tasks[0]: "ok", tasks[1]: "ok", taken: "refused"}
    assert page.locator("#bulk-summary").get_attribute("data-ok") == "2"
    shot(page, "bulk-claim-results")

    page.goto("/inbox?filter=mine")
    for task in tasks[:2]:
        page.locator(f"input[data-bulk-task='{task}']").check()
    page.locator("#bulk-approve-details summary").click()
    example = server.engine.bundle_detail(BUNDLE).examples[0]
    for name, value in example["decisions"]["business-registration"].items():
        page.locator(f"#bulk-form #f-{name}").fill(str(value))
    page.locator("#bulk-comment").fill("材料齐全，同意")
    # The form as the browser posts it, kept to post it once more (a double submit).
    posted = page.evaluate(
        "new URLSearchParams(new FormData(document.getElementById('bulk-form'),"
        " document.getElementById('bulk-approve'))).toString()"
    )
    page.locator("#bulk-approve").click()
    page.wait_for_selector("#bulk-results")
    assert [li.get_attribute("data-status") for li in page.locator("#bulk-results li").all()] == ["ok", "ok"]
    analyst = Actor("analyst", Role.ANALYST)
    for task in tasks[:2]:
        assert server.engine.get_task(analyst, task).task.state == "completed"
    again = page.evaluate(
        "async (body) => (await fetch('/inbox/bulk', {method: 'POST', body,"
        " headers: {'Content-Type': 'application/x-www-form-urlencoded'}})).text()",
        posted,
    )
    assert again.count('data-status="ok"') == 2  # each task's earlier result, not decided twice
    for task in tasks[:2]:
        case_id = server.engine.get_task(analyst, task).task.case_id
        trail = server.engine.get_case(analyst, case_id).timeline
        assert [e.kind for e in trail if e.work_item_id == task].count("approved") == 1


def test_delegate_with_a_note_reassign_by_the_supervisor_and_release_all_mine(
    page: Any, server: LiveServer, clerk2: str
) -> None:
    (task,) = start_cases(server, 1)
    sign_in(page, "clerk.market-regulation")
    page.goto(f"/tasks/{task}")
    page.get_by_role("button", name="认领此任务").click()
    page.wait_for_url(re.compile("msg=claimed"))
    page.get_by_label("接手人员").select_option(label="王二")
    page.get_by_label("委托留言").fill("材料已核，请录入统一社会信用代码")
    page.get_by_role("button", name="委托", exact=True).click()
    page.wait_for_url(re.compile("msg=delegated"))
    assert "委托" in page.locator(".flash, [role=status]").first.inner_text()

    page.context.clear_cookies()
    sign_in_as(page, clerk2, CLERK2_PASSWORD)
    page.goto(f"/tasks/{task}")
    note = page.locator("#handover-note")
    assert "材料已核，请录入统一社会信用代码" in note.inner_text()
    assert note.get_attribute("data-kind") == "task_delegated"
    page.goto("/messages")
    assert "委托您办理" in page.content()

    page.context.clear_cookies()
    sign_in(page, "supervisor.market-regulation")
    page.goto(f"/tasks/{task}")
    form = page.locator("#reassign-form")
    form.get_by_label("接手人员").select_option(value="clerk.market-regulation")
    form.get_by_label("转办原因").fill("王二休假")
    form.get_by_role("button", name="转办").click()
    page.wait_for_url(re.compile("msg=reassigned"))
    assert (
        server.engine.get_task(Actor("analyst", Role.ANALYST), task).task.assignee
        == "clerk.market-regulation"
    )
    trail = page.content()
    assert "转办" in trail

    page.context.clear_cookies()
    sign_in(page, "clerk.market-regulation")
    page.goto(f"/tasks/{task}")
    assert "王二休假" in page.locator("#handover-note").inner_text()
    page.goto("/inbox?filter=mine")
    page.get_by_role("button", name=re.compile("休假")).click()
    page.wait_for_selector("#released")
    assert int(page.locator("#released").get_attribute("data-count")) >= 1
    assert server.engine.get_task(Actor("analyst", Role.ANALYST), task).task.state == "ready"
    # The applicant's page says nothing of who held the task.
    page.context.clear_cookies()
    sign_in(page, "applicant1")
    case_id = server.engine.get_task(Actor("analyst", Role.ANALYST), task).task.case_id
    page.goto(f"/cases/{case_id}")
    text = page.locator("main").inner_text()
    assert "王二" not in text and "转办" not in text and "委托" not in text


def test_the_bulk_bar_and_the_hand_over_panel_fit_a_phone(page: Any, server: LiveServer, clerk2: str) -> None:
    (task,) = start_cases(server, 1)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "clerk.market-regulation")
    page.goto("/inbox?filter=all")
    fits(page, 390)
    box = page.locator(f"td.bulk-pick:has(input[data-bulk-task='{task}']) label.pick").bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    page.locator(f"input[data-bulk-task='{task}']").check()
    page.locator("#bulk-approve-details summary").click()
    fits(page, 390)
    shot(page, "bulk-bar-390")
    page.locator("#bulk-claim").click()
    page.wait_for_selector("#bulk-results")
    fits(page, 390)
    page.goto(f"/tasks/{task}")
    page.wait_for_selector("#delegate-form")
    fits(page, 390)
    for target in page.locator("#handover button, #handover select").all():
        assert target.bounding_box()["height"] >= 44
    # Keyboard: the picker and the note are reached and filled without a mouse.
    page.locator("#delegate-to").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "delegate-text"
    shot(page, "handover-390")
