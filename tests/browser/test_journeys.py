"""Each kind of user does their whole job in a real browser: apply, decide, correct, rate, model.

One server per module; the tests run in order on one case, and ``make test`` hands out whole
files (``--dist loadfile``) so they stay on one worker: the applicant applies, the clerks of
every department decide from their inbox, two departments return in one round, the applicant
answers the one notice, the case finishes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.demo import department_systems_work
from tests.browser.conftest import LiveServer, element_classes, shot, sign_in, wait_diagram
from tests.documents.support import pdf_text

pytestmark = pytest.mark.browser

BUNDLE = "enterprise-startup"
PROCESSES = Path(__file__).resolve().parents[2] / "processes"
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
ANSWERS = {
    "company_name": "上海澄川信息科技有限公司",
    "address": "上海市浦东新区张江路88号3幢501室",
    "registered_capital": "100",
    "business_scope": "信息技术咨询服务；软件开发",
    "legal_rep_name": "陈晓明",
    "legal_rep_id": "310115198503120418",
    "legal_rep_phone": "13816612345",
    "employee_count": "6",
}
SELECTS = {"company_type": "limited", "seal_set": "basic", "bank_name": "icbc", "address_division": "310115"}


class Journey:
    """What the ordered tests hand on to each other (the case id)."""

    case_id: int = 0


@pytest.fixture(scope="module")
def journey() -> Journey:
    return Journey()


def test_applicant_applies_for_enterprise_startup_with_uploads(
    page: Any, server: LiveServer, journey: Journey, tmp_path: Path
) -> None:
    sign_in(page, "applicant1")
    page.goto("/")
    assert page.locator(f"[data-bundle='{BUNDLE}']").count() == 1
    assert "企业开办一件事" in page.content()
    shot(page, "01-bundles")
    page.goto(f"/apply/{BUNDLE}")
    # A submit with nothing filled shows every problem at once, each next to its field.
    page.get_by_role("button", name="下一步：核对申请").click()
    summary = page.locator("#problem-summary")
    assert summary.is_visible()
    assert summary.locator("li").count() >= 8
    assert page.locator("[data-field='company_name'] .field-error").is_visible()
    assert page.locator("[data-material='articles_of_association'] .field-error").is_visible()
    shot(page, "02-apply-problems")
    # The employee count is asked only of a company that hires.
    count_box = page.locator("[data-field='employee_count']")
    assert count_box.is_hidden()
    page.locator("[data-field='has_employees'] input[value='true']").check()
    assert count_box.is_visible()
    page.locator("[data-field='has_employees'] input[value='false']").check()
    assert count_box.is_hidden()
    page.locator("[data-field='has_employees'] input[value='true']").check()
    page.locator("[data-field='invoice_needed'] input[value='true']").check()
    for name, value in ANSWERS.items():
        page.locator(f"#f-{name}").fill(value)
    for name, value in SELECTS.items():
        page.locator(f"#f-{name}").select_option(value)
    # Inline validation speaks with the server's words: a bad ID check digit is caught on leaving the field.
    page.locator("#f-legal_rep_id").fill("310115198503120419")
    page.locator("#f-legal_rep_phone").focus()
    id_error = page.locator("[data-field='legal_rep_id'] .field-error")
    expect(id_error).to_contain_text("校验")
    page.locator("#f-legal_rep_id").fill(ANSWERS["legal_rep_id"])
    page.locator("#f-legal_rep_phone").focus()
    expect(id_error).to_be_hidden()
    # Uploads go up at once, with progress, and leave their id in the form.
    for kind in ("articles_of_association", "premises_proof"):
        path = tmp_path / f"{kind}.pdf"
        path.write_bytes(MINIMAL_PDF + kind.encode())
        page.locator(f"#m-{kind}").set_input_files(str(path))
        page.wait_for_selector(f"[data-material='{kind}'][data-uploaded='true']")
        assert "已上传" in page.locator(f"#m-{kind}-status").inner_text()
    # Exempt materials say so, and why.
    exempt = page.locator("[data-material='legal_rep_id_card']")
    assert "免交" in exempt.inner_text() and "实名认证" in exempt.inner_text()
    shot(page, "03-apply-filled")
    page.get_by_role("button", name="下一步：核对申请").click()
    page.wait_for_selector("#review-form")
    assert page.locator("[data-summary='company_name']").inner_text() == ANSWERS["company_name"]
    assert "已上传" in page.locator("[data-summary-material='premises_proof']").inner_text()
    shot(page, "04-review")
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url(re.compile(r"/cases/\d+\?msg=submitted"))
    journey.case_id = int(re.search(r"/cases/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    assert page.locator("#case-status").get_attribute("data-status") == "running"
    wait_diagram(page)
    svg = page.locator("#case-diagram svg").first.inner_html()
    for task in ("Task_register_business", "Task_engrave_seal", "Task_open_bank_account"):
        assert f'data-element-id="{task}"' in svg
    assert "设立登记" in svg
    assert "ot-active" in element_classes(page, "Task_register_business")
    assert "ot-" not in element_classes(page, "Task_engrave_seal")
    overlay = page.locator(".ot-overlay.active").first.inner_text()
    assert "市场监督管理局" in overlay and "时限" in overlay
    assert (
        page.locator("#steps-table tr[data-element='Task_register_business']").get_attribute("data-state")
        == "active"
    )
    shot(page, "05-case-submitted")


def claim_from_inbox(page: Any, case_id: int, item_zh: str) -> None:
    """Find the case's task in the inbox and claim it from the list."""
    page.goto("/inbox")
    row = page.locator("#queue tbody tr").filter(has_text=f"#{case_id}").filter(has_text=item_zh)
    expect(row).to_have_count(1)
    row.get_by_role("button", name=re.compile("认领")).click()
    page.wait_for_url(re.compile(r"/tasks/\d+\?msg=claimed"))
    assert page.locator("#task-state").get_attribute("data-state") == "claimed"


def approve(page: Any, decisions: dict[str, str] | None = None) -> None:
    for name, value in (decisions or {}).items():
        page.locator(f"#approve-form #f-{name}").fill(value)
    page.locator("#approve-form").get_by_role("button", name="审核通过").click()
    page.wait_for_url(re.compile(r"/inbox\?msg=approved"))


def send_back(page: Any, problems: dict[str, str], comment: str) -> None:
    for key, message in problems.items():
        page.locator(f"#p-{key}").fill(message)
    page.locator("#return-comment").fill(comment)
    page.locator("#return-form").get_by_role("button", name="退回补正").click()
    page.wait_for_url(re.compile(r"/inbox\?msg=returned"))


def test_registration_clerk_sees_only_the_item_and_approves_with_the_credit_code(
    page: Any, server: LiveServer, journey: Journey
) -> None:
    sign_in(page, "clerk.market-regulation")
    assert "/inbox" in page.url
    shot(page, "06-inbox-market")
    claim_from_inbox(page, journey.case_id, "企业设立登记")
    fields = page.locator("#task-fields").inner_text()
    assert ANSWERS["company_name"] in fields and "陈晓明" in fields
    assert "中国工商银行" not in fields, "the bank's field must not reach market regulation"
    link = page.locator("#task-materials a").filter(has_text="公司章程")
    answer = page.request.get(str(link.get_attribute("href")))
    assert answer.status == 200 and answer.body().startswith(b"%PDF")
    assert answer.headers["x-content-type-options"] == "nosniff"
    wait_diagram(page)
    assert "ot-focus" in element_classes(page, "Task_register_business")
    shot(page, "07-task-market")
    approve(page, {"uscc": "91310115MA1K4B7C2U"})


def test_two_departments_return_in_one_round_while_the_others_approve(
    page: Any, server: LiveServer, journey: Journey
) -> None:
    sign_in(page, "clerk.public-security")
    claim_from_inbox(page, journey.case_id, "公章刻制备案")
    send_back(page, {"legal_rep_phone": "该号码无法接通，请提供可联系的手机号码"}, "请核对联系方式")
    sign_in(page, "clerk.bank")
    claim_from_inbox(page, journey.case_id, "银行基本存款账户开立")
    send_back(page, {"bank_name": "该行暂不受理，请改选其他开户银行"}, "")
    # The tax registration is the tax system's external task: the demo's in-process worker does it.
    tax = {"tax-registration": {"tax_registration_no": "91310115MA1K4B7C2U"}}
    done = department_systems_work(server.engine, journey.case_id, tax)
    assert [step.item for step in done] == ["tax-registration"]
    sign_in(page, "clerk.tax")
    claim_from_inbox(page, journey.case_id, "发票票种核定与首次申领")
    approve(page)
    for clerk, item, decisions in (
        (
            "clerk.human-resources-social-security",
            "社会保险参保登记",
            {"social_insurance_no": "3101150098765"},
        ),
        ("clerk.medical-insurance", "医疗保险参保登记", {}),
        ("clerk.housing-fund", "住房公积金单位缴存登记", {"housing_fund_account": "SH310115002468"}),
    ):
        sign_in(page, clerk)
        claim_from_inbox(page, journey.case_id, item)
        approve(page, decisions)


def test_applicant_gets_one_notice_from_both_departments_and_supplements(
    page: Any, server: LiveServer, journey: Journey
) -> None:
    sign_in(page, "applicant1")
    page.goto(f"/cases/{journey.case_id}")
    assert page.locator("#case-status").get_attribute("data-status") == "awaiting_applicant"
    notice = page.locator("#notice")
    assert notice.locator(".notice-item").count() == 2
    assert notice.locator("[data-department='public-security']").is_visible()
    assert notice.locator("[data-department='bank']").is_visible()
    assert "无法接通" in notice.inner_text() and "改选其他开户银行" in notice.inner_text()
    wait_diagram(page)
    assert "ot-returned" in element_classes(page, "Task_engrave_seal")
    assert "ot-returned" in element_classes(page, "Task_open_bank_account")
    assert "ot-done" in element_classes(page, "Task_register_business")
    assert "ot-done" in element_classes(page, "Task_social_insurance")
    shot(page, "08-case-notice")
    page.locator("#supplement-form #f-legal_rep_phone").fill("13900001111")
    page.locator("#supplement-form #f-bank_name").select_option("cmb")
    page.locator("#supplement-form").get_by_role("button", name="提交补正").click()
    page.wait_for_url(re.compile(r"msg=supplemented"))
    assert page.locator("#case-status").get_attribute("data-status") == "running"
    wait_diagram(page)
    assert "ot-active" in element_classes(page, "Task_engrave_seal")
    assert "ot-active" in element_classes(page, "Task_open_bank_account")


def test_late_steps_are_marked_in_words_for_applicant_and_clerk(
    page: Any, server: LiveServer, journey: Journey
) -> None:
    server.clock.advance(timedelta(days=7))
    sign_in(page, "applicant1")
    page.goto(f"/cases/{journey.case_id}")
    wait_diagram(page)
    assert "ot-late" in element_classes(page, "Task_engrave_seal")
    assert "逾期" in page.locator(".ot-overlay.late").first.inner_text()
    assert "已逾期" in page.locator("#steps-table tr[data-element='Task_engrave_seal']").inner_text()
    shot(page, "09-case-late")
    sign_in(page, "clerk.public-security")
    page.goto("/inbox?filter=all")
    row = page.locator("#queue tbody tr.overdue").filter(has_text=f"#{journey.case_id}")
    expect(row).to_have_count(1)
    assert "已逾期" in row.inner_text()
    shot(page, "10-inbox-overdue")


def test_second_round_approvals_finish_the_case_with_its_licence(
    page: Any, server: LiveServer, journey: Journey
) -> None:
    sign_in(page, "clerk.public-security")
    claim_from_inbox(page, journey.case_id, "公章刻制备案")
    assert "13900001111" in page.locator("#task-fields").inner_text()
    approve(page)
    sign_in(page, "clerk.bank")
    claim_from_inbox(page, journey.case_id, "银行基本存款账户开立")
    approve(page, {"bank_account_no": "1001263409000123456"})
    sign_in(page, "applicant1")
    page.goto(f"/cases/{journey.case_id}")
    assert page.locator("#case-status").get_attribute("data-status") == "completed"
    link = page.locator("#certificates a[download]").first
    answer = page.request.get(str(link.get_attribute("href")))
    assert answer.status == 200 and "attachment" in answer.headers["content-disposition"]
    assert answer.headers["content-type"] == "application/pdf"
    assert "91310115MA1K4B7C2U" in pdf_text(answer.body())
    wait_diagram(page)
    assert "ot-done" in element_classes(page, "Task_open_bank_account")
    assert page.locator(".djs-element.ot-active, .djs-element.ot-late").count() == 0


def test_applicant_rates_the_finished_case(page: Any, server: LiveServer, journey: Journey) -> None:
    sign_in(page, "applicant1")
    page.goto(f"/cases/{journey.case_id}")
    form = page.locator("#rating-form")
    form.get_by_label(re.compile("非常满意")).check()
    form.get_by_label("意见建议（选填）").fill("一次办好，很方便")
    form.get_by_role("button", name="提交评价").click()
    page.wait_for_url(re.compile(r"msg=rated"))
    assert page.locator("#rating [data-score='5']").is_visible()
    # A bad rating of one department opens a rectification in its queue, and says so.
    form = page.locator("#rating-form")
    form.get_by_label("评价对象").select_option("bank")
    form.get_by_label(re.compile("^不满意")).check()
    form.get_by_role("button", name="提交评价").click()
    page.wait_for_url(re.compile(r"msg=rated"))
    assert "整改" in page.locator("#rating [data-score='2']").inner_text()
    shot(page, "11-case-rated")
