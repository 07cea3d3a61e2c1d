"""Suspend and resume (挂起/恢复) on the pages, in real chromium.

The market regulation supervisor opens an enterprise-startup case whose registration waits in
the office's queue, fills the suspend form (reason, legal basis) and sends it: the case page says
"已暂停办理" with the reason and basis. The clerk's task page shows the note and offers neither
claim nor decision, the inbox marks the task and offers no claim. The applicant's case page says
in plain words "办件已暂停办理：原因…，依据…；暂停期间不计入办理时限" (no account name), and
offers no suspend form and no withdrawal; on a phone it fits without sideways scrolling. The
supervisor resumes; the history keeps the suspension and the task can be claimed again.
"""

from __future__ import annotations

import re
from typing import Any

from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, shot, sign_in
from tests.support.engines import upload

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
SUPERVISOR = "supervisor.market-regulation"
CLERK = "clerk.market-regulation"
REASON = "等待法院对股权纠纷的裁判结果"
BASIS = "《市场主体登记管理条例》第二十条"


def start_case(server: LiveServer) -> int:
    engine = server.engine
    example = dict(engine.bundle_detail(BUNDLE).examples[0])
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    return engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id


def test_a_supervisor_suspends_and_resumes_and_everyone_sees_it(browser: Any, server: LiveServer) -> None:
    case_id = start_case(server)
    [task] = [t for t in server.engine.get_case(APPLICANT, case_id).tasks if t.state == "ready"]

    def context(viewport: dict[str, int] | None = None) -> Any:
        made = browser.new_context(
            locale="zh-CN", viewport=viewport or {"width": 1280, "height": 900}, base_url=server.url
        )
        made.set_default_timeout(15_000)
        return made

    staff = context({"width": 360, "height": 800})  # the form on a phone: no sideways scroll, 44 px targets
    page = staff.new_page()
    sign_in(page, SUPERVISOR)
    page.goto(f"/cases/{case_id}")
    assert page.locator("h1").count() == 1
    assert page.locator("#resume-form").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for control in page.locator(
        "#suspend-form button, #suspend-form input:visible, #suspend-form textarea"
    ).all():
        box = control.bounding_box()
        assert box is not None and box["height"] >= 44, control.get_attribute("name")
    page.get_by_label("暂停原因").fill(REASON)
    page.get_by_label("法律依据").fill(BASIS)
    page.get_by_role("button", name="暂停办理").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}\?msg=suspended$"))
    assert page.locator("#case-status").get_attribute("data-status") == "suspended"
    words = page.locator("#suspension-words").inner_text()
    assert REASON in words and BASIS in words and "暂停期间不计入办理时限" in words
    assert page.locator("#suspension-history li").count() == 1
    shot(page, "suspension-supervisor")
    staff.close()

    clerk_ctx = context()
    page = clerk_ctx.new_page()
    sign_in(page, CLERK)
    page.goto(f"/tasks/{task.id}")
    assert page.locator("#task-suspended").is_visible()
    assert page.get_by_role("button", name="认领此任务").count() == 0
    page.goto("/inbox")
    row = page.locator(f'tr[data-task="{task.id}"]')
    assert row.locator("[data-suspended]").count() == 1
    assert row.get_by_role("button", name=re.compile("认领")).count() == 0
    clerk_ctx.close()

    phone = context({"width": 360, "height": 800})
    page = phone.new_page()
    sign_in(page, APPLICANT.username)
    page.goto(f"/cases/{case_id}")
    words = page.locator("#suspension-words").inner_text()
    assert words.startswith("办件已暂停办理：原因：" + REASON) and "依据：" + BASIS in words
    assert "暂停期间不计入办理时限" in words
    assert page.locator("#suspend-form, #resume-form").count() == 0
    assert page.locator("#withdraw").count() == 0  # no withdrawal offered while suspended
    assert "办件暂停办理（暂停期间不计入办理时限）" in page.locator("#milestones").inner_text()
    assert SUPERVISOR not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "suspension-applicant-phone")
    phone.close()

    staff = context()
    page = staff.new_page()
    sign_in(page, SUPERVISOR)
    page.goto(f"/cases/{case_id}")
    page.get_by_label("恢复说明（可选）").fill("已收到裁判文书")
    page.get_by_role("button", name="恢复办理").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}\?msg=resumed$"))
    assert page.locator("#case-status").get_attribute("data-status") == "running"
    assert page.locator("#case-suspended").count() == 0
    assert "已收到裁判文书" in page.locator("#suspension-history").inner_text()
    assert page.locator("#suspend-form").count() == 1  # it may be suspended again
    staff.close()

    clerk_ctx = context()
    page = clerk_ctx.new_page()
    sign_in(page, CLERK)
    page.goto(f"/tasks/{task.id}")
    page.get_by_role("button", name="认领此任务").click()
    page.wait_for_url(re.compile(r"msg=claimed"))
    clerk_ctx.close()
