"""``review_document`` end to end: a rendered document read and compared with the form."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.reading import LAYOUTS, DocumentReview, review_document
from engine.reading.review import compare
from forms.catalog import Catalog, MaterialReading, load_catalog
from tests.reading.corpus import degrade, documents


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def licence_review(catalog: Catalog) -> tuple[dict[str, str], DocumentReview, DocumentReview]:
    """A clean licence reviewed against the right form and against one naming another company."""
    reads = catalog.materials["business_licence"].reads
    assert reads is not None
    upload = degrade(documents("business-licence", 1, seed=7)[0], "clean")
    truth = upload.truth
    form = {
        "company_name": truth["name"],
        "uscc": truth["uscc"],
        "legal_rep_name": truth["legal_representative"],
        "address": truth["address"],
        "registered_capital": int(truth["registered_capital"]),
    }
    right = review_document(upload.content, upload.media_type, reads, form)
    other = review_document(
        upload.content, upload.media_type, reads, {**form, "company_name": "上海另一家科技有限公司"}
    )
    return truth, right, other


def test_the_layouts_name_the_fields_each_one_reads() -> None:
    assert LAYOUTS["business-licence"][:4] == ("name", "uscc", "legal_representative", "address")
    assert set(LAYOUTS) == {"business-licence", "resident-id-card", "birth-certificate"}


def test_a_clean_licence_matches_the_form_that_names_its_company(
    licence_review: tuple[dict[str, str], DocumentReview, DocumentReview],
) -> None:
    truth, right, _other = licence_review
    assert right.status == "done" and right.pages == 1
    assert right.fields["name"] == truth["name"] and right.fields["uscc"] == truth["uscc"]
    assert right.fields["established"] == truth["established"]
    assert 0.9 <= right.confidence <= 1
    verdicts = {finding.field: finding.verdict for finding in right.findings}
    assert verdicts == dict.fromkeys(
        ("company_name", "uscc", "legal_rep_name", "address", "registered_capital"), "match"
    )
    shown = right.as_json()
    assert shown["status"] == "done" and isinstance(shown["findings"], list)
    assert shown["findings"][0] == {
        "field": "company_name",
        "form_value": truth["name"],
        "document_value": truth["name"],
        "verdict": "match",
    }


def test_a_form_naming_another_company_is_a_mismatch_of_that_field_only(
    licence_review: tuple[dict[str, str], DocumentReview, DocumentReview],
) -> None:
    _truth, _right, other = licence_review
    verdicts = {finding.field: finding.verdict for finding in other.findings}
    assert verdicts.pop("company_name") == "mismatch"
    assert set(verdicts.values()) == {"match"}


def test_a_field_the_form_leaves_empty_gives_no_finding(
    licence_review: tuple[dict[str, str], DocumentReview, DocumentReview],
) -> None:
    _truth, right, _other = licence_review
    reads = MaterialReading("business-licence", {"name": "company_name", "uscc": "uscc"})
    findings = compare(reads, right.fields, {"company_name": right.fields["name"], "uscc": ""})
    assert [(f.field, f.verdict) for f in findings] == [("company_name", "match")]


def test_bytes_that_are_no_document_are_unreadable_with_every_field_unreadable(catalog: Catalog) -> None:
    reads = catalog.materials["business_licence"].reads
    assert reads is not None
    review = review_document(b"%PDF-1.7 not really", "application/pdf", reads, {"company_name": "某公司"})
    assert review.status == "unreadable" and review.pages == 0 and review.fields == {}
    assert [(f.field, f.verdict, f.document_value) for f in review.findings] == [
        ("company_name", "unreadable", None)
    ]


def test_two_threads_read_at_once_and_nothing_read_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    upload = degrade(documents("resident-id-card", 1, seed=3)[0], "clean")
    reads = MaterialReading("resident-id-card", {"name": "applicant_name", "id_number": "applicant_id"})
    form = {"applicant_name": upload.truth["name"], "applicant_id": upload.truth["id_number"]}
    with caplog.at_level(logging.DEBUG), ThreadPoolExecutor(max_workers=2) as pool:
        reviews = list(
            pool.map(lambda _: review_document(upload.content, upload.media_type, reads, form), range(2))
        )
    first, second = reviews
    assert first.fields == second.fields and first.fields["id_number"] == upload.truth["id_number"]
    assert [f.verdict for f in first.findings] == ["match", "match"]
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    for value in upload.truth.values():
        assert value not in logged
