"""Verifying a certificate by its number, and revoking it: who may, what the public then sees."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from engine.demo import run_example, work_case
from engine.documents.service import CertificateNotFound
from engine.documents.views import CertificateStatus
from engine.errors import Conflict, InvalidInput, NotAllowed
from engine.people.actors import Actor, Role
from engine.storage.models import Material
from tests.documents.conftest import ANALYST, Finished
from tests.support.engines import upload

ADMIN = Actor("admin", Role.ADMIN)
MARKET_SUPERVISOR = Actor(
    "supervisor.market-regulation", Role.CLERK, frozenset({"market-regulation"}), supervisor=True
)


def _new_licence(finished: Finished) -> str:
    """A further completed startup (the second shipped example) and its licence number."""
    run = run_example(finished.engine, "enterprise-startup", 1, finished.clock)
    assert run.status == "completed", run.error
    [licence] = finished.engine.documents.certificates(ANALYST, run.case_id)
    return licence.number


def test_a_valid_number_answers_what_the_certificate_prints_and_masks_nothing_it_does_not(
    finished: Finished,
) -> None:
    documents = finished.engine.documents
    [licence] = documents.certificates(ANALYST, finished.case_id)
    answer = documents.verify(licence.number)
    assert answer.status is CertificateStatus.VALID and answer.certificate is not None
    shown = {f.key: f.value.zh for f in answer.certificate.fields}
    assert shown == {f.key: f.value.zh for f in licence.fields}  # a licence prints no ID number
    assert set(shown) == {"company_name", "uscc", "legal_rep_name", "address", "registered_capital"}
    assert answer.certificate.issuer == licence.issuer and answer.certificate.issued_on.zh == "2025年3月3日"


def test_an_unknown_or_malformed_number_is_unknown(finished: Finished) -> None:
    documents = finished.engine.documents
    [licence] = documents.certificates(ANALYST, finished.case_id)
    wrong_kind = licence.number[:-4] + "0000"
    for number in ("DZZZ2025030300000099ABCD", wrong_kind, "not-a-number", ""):
        answer = documents.verify(number)
        assert answer.status is CertificateStatus.UNKNOWN and answer.certificate is None


def test_only_admins_and_the_issuing_departments_supervisors_revoke(finished: Finished) -> None:
    number = _new_licence(finished)
    documents = finished.engine.documents
    refused = [
        Actor("applicant1", Role.APPLICANT),
        Actor("clerk.market-regulation", Role.CLERK, frozenset({"market-regulation"})),
        Actor("supervisor.tax", Role.CLERK, frozenset({"tax"}), supervisor=True),
        ANALYST,
    ]
    for actor in refused:
        with pytest.raises(NotAllowed):
            documents.revoke(actor, number, "以欺骗手段取得登记")
    assert documents.verify(number).status is CertificateStatus.VALID
    with pytest.raises(InvalidInput) as no_reason:
        documents.revoke(MARKET_SUPERVISOR, number, "   ")
    assert [p.where for p in no_reason.value.problems] == ["reason"]
    with pytest.raises(CertificateNotFound):
        documents.revoke(ADMIN, "DZZZ2025030300000099ABCD", "无")

    answer = documents.revoke(MARKET_SUPERVISOR, number, "以欺骗手段取得登记，依法撤销")
    assert answer.status is CertificateStatus.REVOKED and answer.certificate is not None
    assert answer.certificate.revoked_reason == "以欺骗手段取得登记，依法撤销"
    assert answer.certificate.revoked_on is not None
    with pytest.raises(Conflict):
        documents.revoke(ADMIN, number, "再次吊销")
    assert documents.verify(number).status is CertificateStatus.REVOKED


def test_a_revocation_is_an_audit_line_of_the_case_that_issued_it(finished: Finished) -> None:
    number = _new_licence(finished)
    engine = finished.engine
    case_id = engine.documents.verify(number).certificate.case_id  # type: ignore[union-attr]
    engine.documents.revoke(ADMIN, number, "营业执照已注销")
    [line] = [e for e in engine.get_case(ANALYST, case_id).timeline if e.kind == "certificate_revoked"]
    assert line.actor == "admin"
    assert line.detail == {"kind": "business_licence", "number": number, "reason": "营业执照已注销"}


def test_a_certificate_issued_before_numbers_were_stored_verifies_and_revokes_by_its_number(
    finished: Finished,
) -> None:
    number = _new_licence(finished)
    engine = finished.engine
    with engine.db.write() as session:
        session.execute(update(Material).where(Material.number == number).values(number=None))
    assert engine.documents.verify(number).status is CertificateStatus.VALID
    engine.documents.revoke(ADMIN, number, "依申请注销")
    assert engine.documents.verify(number).status is CertificateStatus.REVOKED
    with engine.db.read() as session:
        assert session.query(Material).filter(Material.number == number).count() == 1  # stored now


def test_a_revoked_licence_is_no_longer_reused_in_a_new_application(finished: Finished) -> None:
    engine = finished.engine
    owner = Actor("applicant9", Role.APPLICANT)
    example = engine.bundle_detail("enterprise-startup").examples[1]
    materials = {kind: upload(engine, owner, kind) for kind in example["materials"]}
    case_id = engine.start_case(owner, "enterprise-startup", example["data"], materials).id
    status, _ = work_case(engine, owner, case_id, example["decisions"], finished.clock, [])
    assert status == "completed"
    [licence] = engine.documents.certificates(owner, case_id)
    data = {"company_name": example["data"]["company_name"], "uscc": licence.by_key["uscc"].value.zh}
    assert engine.materials.certificates_for(owner.username, data).get("business_licence")
    assert any(licence.number in s.label_zh for s in engine.materials.certificate_sources(owner.username))
    engine.documents.revoke(ADMIN, licence.number, "依法吊销")
    assert "business_licence" not in engine.materials.certificates_for(owner.username, data)
    assert not any(licence.number in s.label_zh for s in engine.materials.certificate_sources(owner.username))
