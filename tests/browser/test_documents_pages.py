"""Certificates and receipts in a real browser: the case's results, PDF downloads, the public check.

One server per module; applicant1's enterprise startup is run to the end by simulated clerks
(``engine.demo.work_case``). Phone 390x844 and desktop 1366x900; screenshots go to
test-artifacts/screenshots/documents-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.demo import Step, work_case
from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, shot, sign_in
from tests.documents.support import pdf_text, qr_codes
from tests.support.engines import ANALYST, upload

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
UNKNOWN = "DZZZ2025030300000099ABCD"


@pytest.fixture(scope="module")
def finished(server: LiveServer) -> tuple[int, str]:
    """applicant1's enterprise startup, decided by every department: (case id, licence number)."""
    engine = server.engine
    example: dict[str, Any] = engine.bundle_detail(BUNDLE).examples[0]
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    case_id = engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id
    steps: list[Step] = []
    status, _fired = work_case(engine, APPLICANT, case_id, example["decisions"], server.clock, steps)
    assert status == "completed"
    [licence] = engine.documents.certificates(ANALYST, case_id)
    return case_id, licence.number


def _context(browser: Any, server: LiveServer, viewport: dict[str, int], locale: str = "zh-CN") -> Any:
    context = browser.new_context(
        locale=locale, viewport=viewport, base_url=server.url, accept_downloads=True
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture(params=["phone", "desktop"])
def sized(request: pytest.FixtureRequest, browser: Any, server: LiveServer) -> Iterator[tuple[str, Any]]:
    """A fresh Chinese page at phone or desktop size, failing on script errors."""
    context = _context(browser, server, PHONE if request.param == "phone" else DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield request.param, page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_case_shows_its_licence_the_recorded_results_and_the_receipt(
    sized: tuple[str, Any], server: LiveServer, finished: tuple[int, str]
) -> None:
    size, page = sized
    case_id, number = finished
    sign_in(page, "applicant1")
    page.goto(f"/cases/{case_id}")
    results = page.locator("#case-results")
    expect(results).to_be_visible()
    licence = results.locator(f"[data-certificate='{number}']")
    expect(licence).to_contain_text("营业执照")
    expect(licence).to_contain_text("有效")
    recorded = page.locator("#recorded-results").inner_text()
    for label, value in (
        ("银行基本存款账号", "1001263409000123456"),
        ("单位社会保险登记编号", "3101150098765"),
        ("单位住房公积金账号", "SH310115002468"),
    ):
        assert label in recorded and value in recorded
    assert "bank_account_no" not in recorded and "housing-fund" not in recorded  # names, never keys
    assert _fits(page)
    assert page.locator("h1").count() == 1
    if size == "phone":
        for link in results.locator("a.button").all():
            box = link.bounding_box()
            assert box is not None and box["height"] >= 44, link.inner_text()
    results.scroll_into_view_if_needed()
    shot(page, f"documents-case-results-{size}")

    with page.expect_download() as pdf_download:
        licence.get_by_role("link", name=re.compile("下载 PDF")).click()
    download = pdf_download.value
    assert download.suggested_filename == f"营业执照-{number}.pdf"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF-") and number in pdf_text(content)
    assert qr_codes(content) == [f"{server.engine.settings.public_url}/verify/{number}"]

    with page.expect_download() as receipt_download:
        page.locator("#receipt-link").click()
    receipt = Path(receipt_download.value.path()).read_bytes()
    code = server.engine.get_case(APPLICANT, case_id).code
    assert code and code in pdf_text(receipt)
    assert qr_codes(receipt) == [f"{server.engine.settings.public_url}/cases/{case_id}"]


def test_anyone_checks_a_number_on_a_phone_valid_then_revoked_and_an_unknown_one(
    browser: Any, server: LiveServer, finished: tuple[int, str]
) -> None:
    _case_id, number = finished
    context = _context(browser, server, PHONE)
    page = context.new_page()
    try:
        answer = page.goto(f"/verify/{number}")
        assert answer is not None and answer.status == 200
        expect(page.locator("#verdict")).to_contain_text("有效")
        main = page.locator("main").inner_text()
        assert "上海澄川信息科技有限公司" in main and "市场监督管理局" in main and "2025年3月3日" in main
        assert "applicant1" not in main and "market-regulation" not in main
        assert page.locator("h1").count() == 1 and _fits(page)
        assert page.locator("#revoke-form").count() == 0  # nobody signed in: no revoke form
        for control in (page.get_by_label("证照编号"), page.get_by_role("button", name="核验", exact=True)):
            box = control.bounding_box()
            assert box is not None and box["height"] >= 44
        shot(page, "documents-verify-valid-phone")

        missing = page.goto(f"/verify/{UNKNOWN}")
        assert missing is not None and missing.status == 404
        expect(page.locator("#verdict")).to_contain_text("查无此证")
        assert _fits(page)
        shot(page, "documents-verify-unknown-phone")
    finally:
        context.close()

    # The issuing department's supervisor revokes it from the check page, with a reason.
    desk = _context(browser, server, DESKTOP)
    supervisor = desk.new_page()
    try:
        sign_in(supervisor, "supervisor.market-regulation")
        supervisor.goto(f"/verify/{number}")
        supervisor.get_by_role("button", name="吊销(注销)").click()
        expect(supervisor.locator("#f-reason-error")).to_be_visible()  # the server's message, no reason
        assert supervisor.locator("#f-reason").get_attribute("aria-describedby") == "f-reason-error"
        supervisor.get_by_label("吊销(注销)原因").fill("以欺骗手段取得登记，依法撤销")
        supervisor.get_by_role("button", name="吊销(注销)").click()
        supervisor.wait_for_url(re.compile(r"msg=revoked"))
        shot(supervisor, "documents-verify-revoked-desktop")
    finally:
        desk.close()

    context = _context(browser, server, PHONE)
    page = context.new_page()
    try:
        page.goto(f"/verify/{number}")
        verdict = page.locator("#verdict")
        expect(verdict).to_contain_text("已吊销(注销)")
        assert "以欺骗手段取得登记，依法撤销" in page.locator("main").inner_text()
        assert _fits(page)
        shot(page, "documents-verify-revoked-phone")
    finally:
        context.close()


def test_in_english_the_check_is_in_english(
    browser: Any, server: LiveServer, finished: tuple[int, str]
) -> None:
    context = _context(browser, server, DESKTOP, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"/lang/en?next=/verify/{UNKNOWN}")
        expect(page.locator("#verdict")).to_contain_text("No such certificate")
        assert "查无此证" not in page.locator("main").inner_text()
        shot(page, "documents-verify-unknown-en-desktop")
    finally:
        context.close()


def test_a_later_departments_clerk_opens_the_issued_licence_as_a_pdf(
    page: Any, server: LiveServer, finished: tuple[int, str]
) -> None:
    case_id, number = finished
    [bank_task] = [
        t for t in server.engine.get_case(ANALYST, case_id).tasks if t.item == "bank-account-opening"
    ]
    sign_in(page, "clerk.bank")
    answer = page.request.get(f"/tasks/{bank_task.id}/materials/business_licence")
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert "inline" in answer.headers["content-disposition"]
    assert number in pdf_text(answer.body())
