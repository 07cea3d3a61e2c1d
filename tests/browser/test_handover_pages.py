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
from tests.browser.conftest import LiveServer, csrf_of, shot, sign_in

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


CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
CLERK2_ACTOR = Actor(CLERK2, Role.CLERK, frozenset({"market-regulation"}))
SUPERVISOR = Actor(
    "supervisor.market-regulation", Role.CLERK, frozenset({"market-regulation"}), supervisor=True
)


def held_by_clerk2(server: LiveServer) -> int:
    """How many tasks 王二 holds now, as the engine counts them for the office's supervisor."""
    loads = {c.clerk.username: c.open_tasks for c in server.engine.clerks_to_release(SUPERVISOR)}
    return loads[CLERK2]


def refusals(page: Any) -> list[str]:
    """The refusal texts of a bulk results page."""
    return [span.inner_text() for span in page.locator("#bulk-results li[data-status=refused] .why").all()]


def post_form(page: Any, path: str, form: dict[str, str]) -> int:
    """Post ``form`` (with the page's CSRF token) from the signed-in page; the answer's status."""
    body = {"csrf_token": csrf_of(page.content()), **form}
    return int(
        page.evaluate(
            "async ([path, body]) => (await fetch(path, {method: 'POST', body: new URLSearchParams(body),"
            " redirect: 'manual'})).status",
            [path, body],
        )
    )


def test_bulk_refusals_are_chinese_on_chinese_pages_and_english_on_english_pages(
    page: Any, server: LiveServer, clerk2: str
) -> None:
    for lang in ("zh", "en"):
        free, taken = start_cases(server, 2)
        server.engine.claim(CLERK2_ACTOR, taken)
        page.context.clear_cookies()
        sign_in(page, "clerk.market-regulation")
        page.goto(f"/lang/{lang}?next=/inbox%3Ffilter%3Dall")
        for task in (free, taken):
            page.locator(f"input[data-bulk-task='{task}']").check()
        page.locator("#bulk-claim").click()  # the free one is claimed, the taken one refused
        page.wait_for_selector("#bulk-results")
        claim_refusals = refusals(page)
        page.goto("/inbox?filter=all")
        page.locator(f"input[data-bulk-task='{taken}']").check()
        page.locator("#bulk-unclaim").click()  # not theirs to release
        page.wait_for_selector("#bulk-results")
        said = claim_refusals + refusals(page)
        page.goto("/inbox?filter=mine")
        page.locator(f"input[data-bulk-task='{free}']").check()
        page.locator("#bulk-approve-details summary").click()
        page.locator("#bulk-form #f-uscc").fill("nonsense")
        page.locator("#bulk-approve").click()  # a decision field the form refuses
        page.wait_for_selector("#bulk-results")
        said += refusals(page)
        assert len(said) == 3, said
        for text in said:
            assert "clerk2" not in text and "_" not in text  # no username, no code
            if lang == "zh":
                assert not re.search(r"\([a-z ]+\)|claimed|assignee", text), text
                assert CJK.search(text), text
            else:
                assert not CJK.search(text), text
        if lang == "en":
            assert "claimed" in said[0] and "unclaim" in said[1] and "credit code" in said[2]
        else:
            assert "认领" in said[0] and "退回队列" in said[1] and "统一社会信用代码" in said[2]
        shot(page, f"bulk-refusals-{lang}")


def test_a_supervisor_releases_all_of_a_clerks_tasks_from_the_office_page(
    page: Any, server: LiveServer, clerk2: str
) -> None:
    tasks = start_cases(server, 2)
    for task in tasks:
        server.engine.claim(CLERK2_ACTOR, task)
    holding = held_by_clerk2(server)
    assert holding >= 2
    sign_in(page, "supervisor.market-regulation")
    page.goto("/supervision")
    page.locator("#office-clerks-link a").click()
    page.wait_for_url(re.compile(r"/supervision/clerks$"))
    assert page.locator("h1").count() == 1
    main = page.locator("main").inner_text()
    assert "王二" in main and "clerk2" not in main and "clerk.market-regulation" not in main
    card = page.locator("li.release-clerk", has=page.locator("h2", has_text="王二"))
    assert card.get_attribute("data-open") == str(holding)
    assert f"办理中的任务：{holding} 个" in card.inner_text()
    card.locator("summary").click()
    card.get_by_role("button", name="全部释放回队列").click()  # no reason, not confirmed
    card = page.locator("li.release-clerk", has=page.locator("h2", has_text="王二"))
    assert "请填写释放原因" in card.get_by_role("alert").inner_text()
    assert held_by_clerk2(server) == holding  # nothing released
    card.get_by_label("释放原因").fill("王二请假一周")
    card.get_by_label(re.compile("确认将王二办理中的")).check()
    card.get_by_role("button", name="全部释放回队列").click()
    page.wait_for_selector("#released")
    done = page.locator("#released-tasks li[data-status=released]")
    assert done.count() == holding and page.locator("#released").get_attribute("data-count") == str(holding)
    assert "王二" in page.locator("#released h2").inner_text()
    analyst = Actor("analyst", Role.ANALYST)
    for task in tasks:
        assert page.locator(f"#released-tasks li[data-task='{task}']").count() == 1
        assert server.engine.get_task(analyst, task).task.state == "ready"
        case_id = server.engine.get_task(analyst, task).task.case_id
        line = [e for e in server.engine.get_case(analyst, case_id).timeline if e.kind == "task_released"][-1]
        assert line.detail["reason"] == "王二请假一周" and line.actor == "supervisor.market-regulation"
    assert held_by_clerk2(server) == 0
    shot(page, "office-clerks-released")

    # English, on a phone: English words, no sideways scroll, 44 px targets.
    server.engine.claim(CLERK2_ACTOR, tasks[0])
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/lang/en?next=/supervision/clerks")
    assert page.locator("h1").inner_text() == "Clerks of your offices"
    fits(page, 390)
    card = page.locator("li.release-clerk", has=page.locator("h2", has_text="王二"))
    card.locator("summary").click()
    fits(page, 390)
    for target in (card.locator("summary"), card.get_by_role("button"), card.locator("label.confirm")):
        assert target.bounding_box()["height"] >= 44
    card.get_by_label("Reason").fill("on leave")
    card.get_by_role("button", name="Release all to the queue").click()  # not confirmed
    card = page.locator("li.release-clerk", has=page.locator("h2", has_text="王二"))
    alert = card.get_by_role("alert").inner_text()
    assert "tick the box to confirm" in alert and not CJK.search(alert)
    card.get_by_label(re.compile("Put all 1 tasks")).check()
    card.get_by_role("button", name="Release all to the queue").click()
    page.wait_for_selector("#released")
    assert "went back to the queue" in page.locator("#released h2").inner_text()
    fits(page, 390)
    shot(page, "office-clerks-390-en")


def test_only_a_supervisor_of_the_clerks_office_releases_from_the_page(
    page: Any, server: LiveServer, clerk2: str
) -> None:
    (task,) = start_cases(server, 1)
    server.engine.claim(CLERK2_ACTOR, task)
    release = f"/supervision/clerks/{CLERK2}/release"
    form = {"reason": "x", "confirm": "yes"}
    sign_in(page, "clerk.market-regulation")  # a clerk, not a supervisor
    assert page.goto("/supervision/clerks").status == 403
    page.goto("/inbox")
    assert post_form(page, release, form) == 403
    page.context.clear_cookies()
    sign_in(page, "supervisor.public-security")  # a supervisor of another office
    assert page.goto("/supervision/clerks").status == 200
    assert "王二" not in page.locator("main").inner_text()
    assert post_form(page, release, form) == 404
    assert post_form(page, "/supervision/clerks/no.such.clerk/release", form) == 404
    assert server.engine.get_task(Actor("analyst", Role.ANALYST), task).task.assignee == CLERK2
