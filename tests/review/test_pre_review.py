"""Material pre-review (智能预审) in the engine: queued on upload, read by the worker, stored, audited.

Real parts throughout: a licence rendered with the Noto CJK font, the real OCR reader, the
worker's own tick, SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import dataclasses
import io
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

import pytest
from argon2 import PasswordHasher
from sqlalchemy import delete, select

from engine.cases.states import Outcome
from engine.errors import InvalidInput
from engine.people.accounts import AccountService
from engine.people.actors import Role
from engine.review.figures import prediction_figures
from engine.review.pipeline import MAX_ATTEMPTS
from engine.review.views import ReviewView
from engine.service import Engine
from engine.storage.models import CaseEvent, Material
from engine.storage.review_tables import MaterialReview
from engine.time.clock import ManualClock
from engine.worker import Worker
from tests.review.support import BUNDLE, OTHER_COMPANY, RIGHT, licence_engine, upload_licence
from tests.support.engines import APPLICANT, MONDAY, PDF, clerk


def review_row(engine: Engine, material_id: str) -> MaterialReview | None:
    with engine.db.read() as session:
        return session.get(MaterialReview, material_id)


def verdicts(review: ReviewView) -> dict[str, str]:
    return {str(f["field"]): str(f["verdict"]) for f in review.findings}


def test_an_upload_only_queues_its_review_and_a_kind_that_reads_nothing_is_not_applicable(
    db_url: str, tmp_path: Path
) -> None:
    engine = licence_engine(db_url, tmp_path)
    licence_id = upload_licence(engine, APPLICANT.username)
    other = engine.materials.upload(
        APPLICANT.username, "articles_of_association", "a.pdf", io.BytesIO(PDF)
    ).id
    pending = review_row(engine, licence_id)
    assert pending is not None and pending.status == "pending" and pending.fields == {}
    assert pending.attempts == 0 and pending.claimed_at is None  # nothing was read in the upload
    assert engine.reviews.of_material(other).status == "not_applicable"
    assert engine.reviews.of_material(licence_id).as_json() == {
        "status": "pending",
        "fields": {},
        "confidence": None,
        "findings": [],
    }


def test_the_worker_reads_against_the_draft_and_an_edit_recomputes_without_reading_again(
    db_url: str, tmp_path: Path
) -> None:
    engine = licence_engine(db_url, tmp_path)
    licence_id = upload_licence(engine, APPLICANT.username, OTHER_COMPANY)
    engine.drafts.save(APPLICANT, BUNDLE, RIGHT, {"business_licence": licence_id})
    tick = Worker(engine).run_once()
    assert tick.reviewed == 1 and not tick.errors
    review = engine.reviews.of_material(licence_id)
    assert review.status == "done" and review.confidence is not None and review.confidence > 0.8
    assert review.fields["name"] == OTHER_COMPANY
    assert verdicts(review) == {
        "company_name": "mismatch",
        "uscc": "match",
        "legal_rep_name": "match",
        "address": "match",
    }
    stored = review_row(engine, licence_id)
    assert stored is not None and stored.mismatches == 1 and stored.attempts == 1
    # The applicant corrects the form to the licence's name: the findings follow, nothing is read again.
    engine.drafts.save(
        APPLICANT, BUNDLE, {**RIGHT, "company_name": OTHER_COMPANY}, {"business_licence": licence_id}
    )
    assert set(verdicts(engine.reviews.of_material(licence_id)).values()) == {"match"}
    again = review_row(engine, licence_id)
    assert again is not None and again.attempts == 1 and again.reviewed_at == stored.reviewed_at
    assert Worker(engine).run_once().reviewed == 0


def test_a_review_abandoned_by_a_killed_worker_is_taken_again_when_its_lease_runs_out(
    db_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(MONDAY)
    engine = licence_engine(db_url, tmp_path, clock)
    licence_id = upload_licence(engine, APPLICANT.username)
    abandoned = engine.pre_review.claim()  # a worker claimed it, then died mid-read
    assert abandoned is not None and abandoned.material_id == licence_id
    assert engine.run_review_jobs() == 0  # its lease still holds
    clock.advance(engine.pre_review.lease + timedelta(seconds=1))
    assert engine.run_review_jobs() == 1
    row = review_row(engine, licence_id)
    assert row is not None and row.status == "done" and row.attempts == 2 and row.claimed_by is None
    # The dead worker's late answer (had it come back) is refused: its claim was taken over.
    assert engine.pre_review.read(abandoned) is False


def test_a_document_that_kills_every_reader_ends_unreadable(db_url: str, tmp_path: Path) -> None:
    clock = ManualClock(MONDAY)
    engine = licence_engine(db_url, tmp_path, clock)
    licence_id = upload_licence(engine, APPLICANT.username)
    for _ in range(MAX_ATTEMPTS):
        assert engine.pre_review.claim() is not None
        clock.advance(engine.pre_review.lease + timedelta(seconds=1))
    assert engine.pre_review.claim() is None
    row = review_row(engine, licence_id)
    assert row is not None and row.status == "unreadable" and row.claimed_at is None


def test_submission_audits_the_review_with_counts_never_values(db_url: str, tmp_path: Path) -> None:
    engine = licence_engine(db_url, tmp_path)
    licence_id = upload_licence(engine, APPLICANT.username, OTHER_COMPANY)
    engine.drafts.save(APPLICANT, BUNDLE, RIGHT, {"business_licence": licence_id})
    engine.run_review_jobs()
    case = engine.start_case(APPLICANT, BUNDLE, RIGHT, {"business_licence": licence_id})
    with engine.db.read() as session:
        lines = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "material_reviewed")
        ).all()
    assert len(lines) == 1
    detail = lines[0].detail
    assert set(detail) == {"kind", "material", "status", "fields_read", "mismatches"}
    assert (detail["kind"], detail["material"], detail["status"], detail["mismatches"]) == (
        "business_licence",
        licence_id,
        "done",
        1,
    )
    assert detail["fields_read"] >= 4
    text = repr([line.detail for line in lines])
    assert OTHER_COMPANY not in text and RIGHT["uscc"] not in text and RIGHT["legal_rep_name"] not in text


def test_a_review_read_after_submission_is_audited_on_the_case(db_url: str, tmp_path: Path) -> None:
    engine = licence_engine(db_url, tmp_path)
    licence_id = upload_licence(engine, APPLICANT.username)
    case = engine.start_case(APPLICANT, BUNDLE, RIGHT, {"business_licence": licence_id})
    assert engine.run_review_jobs() == 1
    reviews = engine.reviews.for_case(engine.get_case(APPLICANT, case.id))
    assert reviews is not None and set(verdicts(reviews["business_licence"]).values()) == {"match"}
    kinds = [e.kind for e in engine.get_case(APPLICANT, case.id).timeline]
    assert "material_reviewed" in kinds


def test_a_clerk_sees_only_the_findings_of_the_fields_their_item_may_see(db_url: str, tmp_path: Path) -> None:
    engine = licence_engine(db_url, tmp_path)
    licence_id = upload_licence(engine, APPLICANT.username, OTHER_COMPANY)
    case = engine.start_case(APPLICANT, BUNDLE, RIGHT, {"business_licence": licence_id})
    engine.run_review_jobs()
    market = clerk("market-regulation")
    review_task = next(t for t in engine.get_case(APPLICANT, case.id).tasks if t.item == "review")
    full = engine.reviews.for_task(engine.get_task(market, review_task.id))["business_licence"]
    assert verdicts(full) == {
        "company_name": "mismatch",
        "uscc": "match",
        "legal_rep_name": "match",
        "address": "match",
    }
    assert set(full.fields) == {"name", "uscc", "legal_representative", "address"}  # mapped and visible only
    engine.claim(market, review_task.id)
    engine.complete(market, review_task.id, Outcome.APPROVE, {}, "同意")
    tax = clerk("tax")
    tax_task = next(t for t in engine.get_case(APPLICANT, case.id).tasks if t.item == "tax-check")
    limited = engine.reviews.for_task(engine.get_task(tax, tax_task.id))["business_licence"]
    assert verdicts(limited) == {"company_name": "mismatch"}
    assert limited.fields == {"name": OTHER_COMPANY}
    assert RIGHT["uscc"] not in repr(limited)


def test_a_deleted_material_takes_its_review_and_fields_with_it(db_url: str, tmp_path: Path) -> None:
    engine = licence_engine(db_url, tmp_path)
    accounts = AccountService(
        engine.db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1), regions=engine.regions
    )
    accounts.create(APPLICANT.username, "Pa55word-for-tests", Role.APPLICANT)
    window = clerk("market-regulation", "clerk.window")
    received = upload_licence(engine, window.username)
    engine.run_review_jobs()
    assert review_row(engine, received) is not None
    # A window clerk's upload becomes the applicant's: the clerk's copy goes, with its review.
    case = engine.start_case(
        window, BUNDLE, RIGHT, {"business_licence": received}, applicant=APPLICANT.username
    )
    assert review_row(engine, received) is None
    handed = engine.get_case(APPLICANT, case.id).materials
    assert handed is not None
    carried = review_row(engine, handed["business_licence"])
    assert carried is not None and carried.status == "done" and carried.fields  # not read twice
    with engine.db.write() as session:
        session.execute(delete(Material).where(Material.id == handed["business_licence"]))
    assert review_row(engine, handed["business_licence"]) is None
    with engine.db.read() as session:
        assert session.scalars(select(MaterialReview)).all() == []


def test_a_blocking_field_that_differs_refuses_submission_with_the_plain_sentence(
    db_url: str, tmp_path: Path
) -> None:
    engine = licence_engine(db_url, tmp_path)
    spec = engine.catalog.materials["business_licence"]
    assert spec.reads is not None
    blocking = dataclasses.replace(spec.reads, blocking=frozenset({"name"}))
    # A bundle's catalog may mark the licence's name as blocking (the shipped one marks nothing).
    # A copy: the loaded catalog is shared by every engine of the process.
    catalog = copy.copy(engine.catalog)
    catalog.materials = MappingProxyType(
        {**catalog.materials, "business_licence": spec.model_copy(update={"reads": blocking})}
    )
    engine.catalog = engine.reviews.catalog = catalog
    licence_id = upload_licence(engine, APPLICANT.username, OTHER_COMPANY)
    engine.run_review_jobs()
    with pytest.raises(InvalidInput) as refused:
        engine.start_case(APPLICANT, BUNDLE, RIGHT, {"business_licence": licence_id})
    assert [(p.where, p.message, p.rule) for p in refused.value.problems] == [
        ("business_licence", "证照上的企业名称与填报不一致", "document-mismatch")
    ]
    # With the name the licence carries, the same application goes through.
    assert engine.start_case(
        APPLICANT, BUNDLE, {**RIGHT, "company_name": OTHER_COMPANY}, {"business_licence": licence_id}
    )


def test_analytics_count_the_returns_pre_review_predicted(db_url: str, tmp_path: Path) -> None:
    engine = licence_engine(db_url, tmp_path)
    wrong = upload_licence(engine, APPLICANT.username, OTHER_COMPANY)
    engine.run_review_jobs()
    case = engine.start_case(APPLICANT, BUNDLE, RIGHT, {"business_licence": wrong})
    market = clerk("market-regulation")
    task = next(t for t in engine.get_case(APPLICANT, case.id).tasks if t.item == "review")
    engine.claim(market, task.id)
    engine.complete(
        market, task.id, Outcome.RETURN, {}, "", [{"material": "business_licence", "message": "执照名称不符"}]
    )
    figures = prediction_figures(engine.db)
    assert (figures.reviewed, figures.with_mismatch, figures.predicted_returns, figures.missed_returns) == (
        1,
        1,
        1,
        0,
    )
    assert figures.precision == 1.0 and figures.recall == 1.0
    assert prediction_figures(engine.db, bundle="other-bundle").reviewed == 0
