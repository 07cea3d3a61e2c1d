"""Send-back and moves in a real browser: the task page's form, the reopened step, the case page.

The tax clerk sends an enterprise-startup case back from the invoice step to registration on
the task page (an empty reason is refused next to the field); registration's new task shows
its earlier decision; the applicant's timeline says which department sent it back to which,
without the reason; a supervisor of an open step moves the case on the case page, and the
history shows the reason. The pages fit a 390 px phone without sideways scrolling.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from engine.cases.states import Outcome
from engine.demo import demo_pdf, department_systems_work
from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, sign_in

pytestmark = pytest.mark.browser

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)


def clerk(department: str) -> Actor:
    return Actor(f"clerk.{department}", Role.CLERK, frozenset({department}))


@contextmanager
def page_as(browser: Any, server: LiveServer, username: str) -> Iterator[Any]:
    """A signed-in page in its own browser context (a second person beside ``page``), at phone width."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, base_url=server.url)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page, username)
        yield page
    finally:
        context.close()


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_send_back_on_the_task_page_and_a_move_on_the_case_page(
    server: LiveServer, browser: Any, page: Any
) -> None:
    engine = server.engine
    example = engine.bundle_detail(BUNDLE).examples[0]
    materials = {
        kind: engine.materials.upload(APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))).id
        for kind in example["materials"]
    }
    case_id = engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id
    market = clerk("market-regulation")
    registration = next(
        t for t in engine.get_case(APPLICANT, case_id).tasks if t.item == "business-registration"
    )
    engine.claim(market, registration.id)
    engine.complete(market, registration.id, Outcome.APPROVE, example["decisions"]["business-registration"])
    department_systems_work(engine, case_id, example["decisions"])
    invoice = next(
        t
        for t in engine.get_case(APPLICANT, case_id).tasks
        if t.item == "invoice-issue" and t.state == "ready"
    )
    engine.claim(clerk("tax"), invoice.id)

    # The tax clerk, on the task page: the earlier step is offered; an empty reason is refused.
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "clerk.tax")
    page.goto(f"/tasks/{invoice.id}")
    form = page.locator("#send-back-form")
    assert form.get_by_label("退回到").locator("option").all_inner_texts()[0].startswith("企业设立登记")
    no_sideways_scroll(page)
    form.get_by_role("button", name="退回").click()
    page.wait_for_selector("#send-back-reason-error")
    assert "原因" in page.locator("#send-back-reason-error").inner_text()
    page.locator("#send-back-form").get_by_label("退回原因（必填）").fill("经营范围须与登记机关核对一致")
    page.locator("#send-back-form").get_by_role("button", name="退回").click()
    page.wait_for_url("**/inbox?msg=sent_back")

    # Registration's new task shows what it decided before.
    reopened = next(
        t
        for t in engine.get_case(APPLICANT, case_id).tasks
        if t.item == "business-registration" and t.state == "ready"
    )
    with page_as(browser, server, "clerk.market-regulation") as registration_page:
        registration_page.goto(f"/tasks/{reopened.id}")
        earlier = registration_page.locator("#earlier-decisions").inner_text()
        assert example["decisions"]["business-registration"]["uscc"] in earlier
        assert "通过" in earlier
        no_sideways_scroll(registration_page)
    engine.claim(market, reopened.id)
    engine.complete(market, reopened.id, Outcome.APPROVE, example["decisions"]["business-registration"])

    # The applicant reads which department sent the case back to which, never the reason.
    with page_as(browser, server, "applicant1") as applicant_page:
        applicant_page.goto(f"/cases/{case_id}")
        milestones = applicant_page.locator("#milestones").inner_text()
        assert "税务局将办件退回市场监督管理局重新审核" in milestones
        assert "登记机关核对" not in applicant_page.content()
        assert applicant_page.locator("#step-moves").count() == 0

    # A supervisor of an open step (the seal) moves the case back to registration on the case page.
    with page_as(browser, server, "supervisor.public-security") as supervisor_page:
        supervisor_page.goto(f"/cases/{case_id}")
        history = supervisor_page.locator("#step-move-history").inner_text()
        assert "经营范围须与登记机关核对一致" in history
        move = supervisor_page.locator("#move-form")
        move.get_by_label("调整到").select_option("Task_register_business")
        move.get_by_label("调整原因（必填）").fill("登记信息需更正后重新办理")
        move.get_by_role("button", name="调整环节").click()
        supervisor_page.wait_for_url(f"**/cases/{case_id}?msg=moved")
        assert "登记信息需更正后重新办理" in supervisor_page.locator("#step-move-history").inner_text()
        no_sideways_scroll(supervisor_page)
