"""Certificates and receipts over HTTP: the public check, revocation by role, PDFs for who sees the case."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from api.pages.security import LANG_COOKIE
from engine.people.actors import Actor, Role
from tests.api.support import LiveServer, sqlite_server
from tests.documents.support import pdf_text, qr_codes
from tests.support.engines import ANALYST, upload, work_all

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with sqlite_server(tmp_path_factory.mktemp("documents-api")) as running:
        yield running


def finished_case(server: LiveServer) -> tuple[int, str]:
    """applicant1's enterprise startup, decided by every department: (case id, licence number)."""
    engine = server.engine
    example: dict[str, Any] = engine.bundle_detail(BUNDLE).examples[0]
    materials = {kind: upload(engine, APPLICANT, kind) for kind in example["materials"]}
    case_id = engine.start_case(APPLICANT, BUNDLE, example["data"], materials).id
    work_all(engine, case_id, example["decisions"])
    [licence] = engine.documents.certificates(ANALYST, case_id)
    return case_id, licence.number


def test_anyone_verifies_a_number_and_learns_only_what_the_licence_prints(server: LiveServer) -> None:
    _case_id, number = finished_case(server)
    with server.client() as anonymous:
        answer = anonymous.get(f"/api/certificates/{number}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "valid" and body["number"] == number
        assert body["name"] == {"zh": "营业执照", "en": "Business licence"}
        assert body["issuer"]["zh"].endswith("市场监督管理局") and body["issued_on"]
        assert {f["label"]["zh"] for f in body["fields"]} == {
            "企业名称",
            "统一社会信用代码",
            "法定代表人姓名",
            "住所(经营场所)",
            "注册资本",
        }
        assert "applicant1" not in answer.text and "case" not in body  # neither the account nor the case

        unknown = anonymous.get("/api/certificates/DZZZ2025030300000099ABCD")
        assert unknown.status_code == 404 and "查无此证" in unknown.json()["detail"]
        assert anonymous.get("/api/certificates/bad%20number").status_code == 422

        page = anonymous.get(f"/verify/{number}")
        assert page.status_code == 200 and "有效" in page.text and "上海澄川信息科技有限公司" in page.text
        missing = anonymous.get("/verify/DZZZ2025030300000099ABCD")
        assert missing.status_code == 404 and "查无此证" in missing.text

        # A number typed from a paper copy: its page; a mistyped one: the form with the server's message.
        form = anonymous.get("/verify")
        assert form.status_code == 200 and 'id="f-number"' in form.text
        typed = anonymous.get("/verify", params={"number": f" {number.lower()} "})
        assert typed.status_code == 303 and typed.headers["location"] == f"/verify/{number}"
        wrong = anonymous.get("/verify", params={"number": "证照 123"})
        assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text
        assert "请输入证照上印的编号" in wrong.text
    with server.client(cookies={LANG_COOKIE: "en"}) as english:
        page = english.get(f"/verify/{number}")
        assert "Valid" in page.text and "Certificate check" in page.text and "有效" not in page.text


def test_revoking_is_refused_to_applicants_clerks_and_anonymous_and_shows_at_once(server: LiveServer) -> None:
    case_id, number = finished_case(server)
    reason = {"reason": "以欺骗手段取得登记，依法撤销"}
    with server.client() as anonymous:
        assert anonymous.post(f"/api/certificates/{number}/revoke", json=reason).status_code == 401
    for username in ("applicant1", "clerk.market-regulation", "analyst", "supervisor.tax"):
        with server.as_user(username) as client:
            refused = client.post(f"/api/certificates/{number}/revoke", json=reason)
            assert refused.status_code == 403, (username, refused.text)
    with server.as_user("admin") as admin:
        assert admin.post(f"/api/certificates/{number}/revoke", json={"reason": ""}).status_code == 422
        done = admin.post(f"/api/certificates/{number}/revoke", json=reason)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "revoked" and done.json()["revoked_reason"] == reason["reason"]
        assert admin.post(f"/api/certificates/{number}/revoke", json=reason).status_code == 409
        assert admin.post("/api/certificates/DZZZ2025030300000099ABCD/revoke", json=reason).status_code == 404
    with server.client() as anonymous:
        body = anonymous.get(f"/api/certificates/{number}").json()
        assert (
            body["status"] == "revoked" and body["revoked_on"] and body["revoked_reason"] == reason["reason"]
        )
        page = anonymous.get(f"/verify/{number}")
        assert page.status_code == 200 and "已吊销(注销)" in page.text and reason["reason"] in page.text
    with server.as_user("applicant1") as owner:
        case = owner.get(f"/api/cases/{case_id}").json()
        assert "certificate_revoked" in [e["kind"] for e in case["timeline"]]


def test_the_licence_and_the_receipt_download_as_pdf_for_those_who_see_the_case(server: LiveServer) -> None:
    case_id, number = finished_case(server)
    with server.as_user("applicant1") as owner:
        licence = owner.get(f"/api/cases/{case_id}/outputs/business_licence")
        assert licence.status_code == 200 and licence.headers["content-type"] == "application/pdf"
        assert quote(f"营业执照-{number}.pdf") in licence.headers["content-disposition"]
        assert number in pdf_text(licence.content)
        assert qr_codes(licence.content) == [f"{server.settings.public_url}/verify/{number}"]
        receipt = owner.get(f"/api/cases/{case_id}/receipt")
        assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"
        assert qr_codes(receipt.content) == [f"{server.settings.public_url}/cases/{case_id}"]
        assert owner.get(f"/api/cases/{case_id}/outputs/food_business_licence").status_code == 404
    with server.as_user("applicant2") as stranger:
        assert stranger.get(f"/api/cases/{case_id}/receipt").status_code == 404
        assert stranger.get(f"/api/cases/{case_id}/outputs/business_licence").status_code == 404
    with server.client() as anonymous:
        assert anonymous.get(f"/api/cases/{case_id}/receipt").status_code == 401
