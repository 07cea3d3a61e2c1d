"""The duplicate-case warning on the apply page, in real chromium: reviewed, refused unconfirmed, confirmed.

Another applicant's open case for the same company name is announced on the review page
without their data; submitting without ticking the box brings the form back with the
warning next to the company name; ticking it submits. Implausible answers (a legal
representative under 18) are listed on the form like any field problem.
"""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest

from engine.demo import demo_pdf
from engine.people.actors import Actor, Role
from forms.checks import resident_id_check_char
from tests.browser.conftest import LiveServer, shot, sign_in

pytestmark = pytest.mark.browser

COMPANY = "杭州重复提醒测试科技有限公司"


def example(server: LiveServer) -> dict[str, Any]:
    detail = server.engine.bundle_detail("enterprise-startup")
    return dict(detail.example["data"]) | {"company_name": COMPANY}


def upload_all(server: LiveServer, owner: str) -> dict[str, str]:
    """The example's materials, uploaded as ``owner``'s own (kind -> material id)."""
    ids = {}
    for kind in ("articles_of_association", "premises_proof"):
        pdf = io.BytesIO(demo_pdf(f"{owner}-{kind}"))
        ids[kind] = server.engine.materials.upload(owner, kind, f"{kind}.pdf", pdf).id
    return ids


def post_review(page: Any, answers: dict[str, Any], materials: dict[str, str]) -> None:
    """Fill the apply page's own form with the answers (as the applicant would) and go to the review."""
    page.goto("/apply/enterprise-startup")
    page.evaluate(
        """([answers, materials]) => {
            const form = document.getElementById('apply-form');
            const put = (name, value) => {
                form.querySelectorAll(`[name="${name}"]`).forEach(e => e.remove());
                const input = document.createElement('input');
                input.type = 'hidden'; input.name = name; input.value = value;
                form.appendChild(input);
            };
            for (const [k, v] of Object.entries(answers)) put(k, String(v));
            for (const [k, v] of Object.entries(materials)) put('material:' + k, v);
        }""",
        [answers, materials],
    )
    page.get_by_role("button", name="下一步：核对申请").click()


def test_a_duplicate_is_announced_refused_unconfirmed_and_submitted_once_confirmed(
    page: Any, server: LiveServer
) -> None:
    answers = example(server)
    other = Actor("applicant2", Role.APPLICANT)
    server.engine.start_case(other, "enterprise-startup", answers, upload_all(server, "applicant2"))

    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "applicant1")
    mine = upload_all(server, "applicant1")
    post_review(page, answers | {"legal_rep_name": "王五"}, mine)
    warning = page.locator("#duplicate-warning")
    assert warning.is_visible()
    assert "已有一件企业名称相同的企业开办一件事申请正在办理" in warning.inner_text()
    assert "applicant2" not in page.content() and "申请人二" not in warning.inner_text()
    box = page.get_by_label("我已核对，确认不是重复申请，仍要提交")
    assert box.bounding_box()["height"] > 0
    shot(page, "guide-duplicate-review-390x844")

    page.get_by_role("button", name="确认提交").click()
    page.wait_for_load_state()
    assert "/cases/" not in page.url
    assert "已有一件企业名称相同的企业开办一件事申请正在办理" in page.locator("main").inner_text()

    post_review(page, answers | {"legal_rep_name": "王五"}, mine)
    page.get_by_label("我已核对，确认不是重复申请，仍要提交").check()
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url(re.compile(r"/cases/\d+\?msg=submitted"))


def test_implausible_answers_are_listed_on_the_form(page: Any, server: LiveServer) -> None:
    today = date.today()
    body = f"310115{today.year - 17}0101041"
    minor = body + resident_id_check_char(body)
    sign_in(page, "applicant1")
    post_review(
        page, example(server) | {"company_name": "杭州未成年测试科技有限公司", "legal_rep_id": minor}, {}
    )
    text = page.locator("main").inner_text()
    assert "应年满18周岁" in text
    assert page.locator("#duplicate-warning").count() == 0
