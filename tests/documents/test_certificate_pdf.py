"""The licence and the receipt as documents: Chinese text that copies out, and QR codes that scan."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from engine.cases.views import Label
from engine.documents import rendering
from engine.documents.views import CertificateField, CertificateView
from engine.errors import NotFound
from engine.people.actors import Actor, Role
from tests.documents.conftest import ANALYST, PUBLIC_URL, Finished
from tests.documents.support import pdf_pages, pdf_text, qr_codes
from tests.support.engines import upload

EXAMPLE = {
    "company_name": "上海澄川信息科技有限公司",
    "legal_rep_name": "陈晓明",
    "uscc": "91310115MA1K4B7C2U",
}


def test_the_licence_pdf_shows_its_holder_issuer_and_number_and_its_qr_opens_the_check(
    finished: Finished,
) -> None:
    documents = finished.engine.documents
    [licence] = documents.certificates(finished.applicant, finished.case_id)
    pdf = documents.certificate_pdf(finished.applicant, finished.case_id, "business_licence")

    assert pdf.content.startswith(b"%PDF-") and pdf.media_type == "application/pdf"
    assert pdf.filename == f"营业执照-{licence.number}.pdf"
    text = pdf_text(pdf.content)
    for value in (*EXAMPLE.values(), licence.number, "营业执照", licence.issuer.zh, "2025年3月3日"):
        assert value in text, value
    assert licence.issuer.zh.endswith("市场监督管理局") and "market-regulation" not in text
    assert "demo-enterprise-startup-1" not in text  # the account is nobody's business
    assert qr_codes(pdf.content) == [f"{PUBLIC_URL}/verify/{licence.number}"]
    assert f"{PUBLIC_URL}/verify/{licence.number}" in text.replace("\n", "")


def test_the_receipt_lists_code_items_promise_and_materials_and_its_qr_opens_the_case(
    finished: Finished,
) -> None:
    engine = finished.engine
    case = engine.get_case(finished.applicant, finished.case_id)
    receipt = engine.documents.receipt_pdf(finished.applicant, finished.case_id)

    assert receipt.filename == f"受理回执-{case.code}.pdf" and pdf_pages(receipt.content) == 1
    text = pdf_text(receipt.content)
    assert case.code and case.code in text and "企业开办一件事" in text
    for item in engine.bundle_detail("enterprise-startup").summary.items:
        assert item["name"]["zh"] in text
    assert case.due_at is not None
    due = engine.calendar.local_date(case.due_at)
    assert f"{due.year}年{due.month}月{due.day}日" in text
    assert "公司章程" in text and "articles_of_association" not in text  # names, never kinds
    assert "2025年3月3日 09:00" in text  # received, in Shanghai time
    assert qr_codes(receipt.content) == [f"{PUBLIC_URL}/cases/{finished.case_id}"]


def test_only_those_who_may_see_the_case_get_its_documents(finished: Finished) -> None:
    stranger = Actor("applicant2", Role.APPLICANT)
    documents = finished.engine.documents
    with pytest.raises(NotFound):
        documents.receipt_pdf(stranger, finished.case_id)
    with pytest.raises(NotFound):
        documents.certificate_pdf(stranger, finished.case_id, "business_licence")
    with pytest.raises(NotFound):
        documents.certificate_pdf(finished.applicant, finished.case_id, "food_business_licence")


def test_results_the_departments_recorded_are_the_applicants_labelled_by_the_catalog(
    finished: Finished,
) -> None:
    documents = finished.engine.documents
    results = {r.field.zh: r.value.zh for r in documents.results(finished.applicant, finished.case_id)}
    assert results["银行基本存款账号"] == "1001263409000123456"
    assert results["单位社会保险登记编号"] == "3101150098765"
    assert results["单位住房公积金账号"] == "SH310115002468"
    assert documents.results(ANALYST, finished.case_id)  # analysts read everything
    clerk = Actor("clerk.bank", Role.CLERK, frozenset({"bank"}))
    assert documents.results(clerk, finished.case_id) == ()  # another department's values are not the bank's


def _sample(kind: str, name: Label) -> CertificateView:
    return CertificateView(
        number="DZZZ20250303000000019ABC",
        kind=kind,
        name=name,
        issuer=Label("上海市民政局", "Civil affairs, Shanghai"),
        issued_at=datetime(2025, 3, 3, 1, 0),
        issued_day=date(2025, 3, 3),
        issued_on=Label("2025年3月3日", "3 March 2025"),
        fields=(
            CertificateField("mother_name", Label("母亲姓名", "Mother's name"), Label("王芳", "王芳")),
            CertificateField("father_name", Label("父亲姓名", "Father's name"), Label("李强", "李强")),
        ),
        case_id=1,
        material_id="mat_x",
        verify_url=f"{PUBLIC_URL}/verify/DZZZ20250303000000019ABC",
    )


@pytest.mark.parametrize(
    "kind",
    [
        "business_licence",
        "food_business_licence",
        "road_transport_permit",
        "birth_certificate",
        "vaccination_certificate",
        "disability_certificate",
        "social_security_card",
        "tax_clearance_certificate",
        "deregistration_notice",
        "retirement_approval",
        "compliance_credit_report",
    ],
)
def test_every_kind_the_shipped_bundles_issue_has_its_own_template(kind: str) -> None:
    assert rendering.certificate_template(kind) == f"{kind}.html"


def test_a_kind_without_a_template_of_its_own_prints_on_the_generic_one_with_every_field() -> None:
    assert rendering.certificate_template("marriage_certificate") == rendering.GENERIC_CERTIFICATE
    cert = _sample("marriage_certificate", Label("结婚证", "Marriage certificate"))
    content = rendering.render_pdf(
        rendering.GENERIC_CERTIFICATE, {"cert": cert, "qr": rendering.qr_data_uri(cert.verify_url)}
    )
    text = pdf_text(content)
    for value in ("结婚证", "王芳", "李强", "母亲姓名", "上海市民政局", cert.number):
        assert value in text
    assert qr_codes(content) == [cert.verify_url]
    # A revoked one says so across the page.
    revoked = replace(cert, revoked_at=cert.issued_at, revoked_on=Label("2025年4月1日", "1 April 2025"))
    marked = rendering.render_pdf(
        rendering.GENERIC_CERTIFICATE, {"cert": revoked, "qr": rendering.qr_data_uri(cert.verify_url)}
    )
    assert "已吊销" in pdf_text(marked) and "已吊销" not in text


def test_a_material_an_earlier_step_issued_is_its_pdf_and_an_upload_is_none(finished: Finished) -> None:
    engine = finished.engine
    case = engine.get_case(ANALYST, finished.case_id)
    issued = engine.documents.issued_pdf(case.outputs["business_licence"])
    assert issued is not None and issued.filename.startswith("营业执照-DZZZ")
    assert EXAMPLE["uscc"] in pdf_text(issued.content)
    assert case.materials is not None
    assert engine.documents.issued_pdf(case.materials["articles_of_association"]) is None
    assert engine.documents.issued_pdf("mat_nothing") is None


def test_the_receipt_at_submission_lists_the_items_the_answers_lead_to(finished: Finished) -> None:
    engine = finished.engine
    applicant = Actor("applicant8", Role.APPLICANT)
    example = engine.bundle_detail("enterprise-startup").examples[1]  # no staff, no invoices
    materials = {kind: upload(engine, applicant, kind) for kind in example["materials"]}
    case = engine.start_case(applicant, "enterprise-startup", example["data"], materials)
    text = pdf_text(engine.documents.receipt_pdf(applicant, case.id).content)
    names = {i["key"]: i["name"]["zh"] for i in engine.bundle_detail("enterprise-startup").summary.items}
    for key in example["route"]:
        assert names[key] in text, key
    for key in set(names) - set(example["route"]):
        assert names[key] not in text, key
    assert "公司章程" in text and "住所(经营场所)使用证明" in text
