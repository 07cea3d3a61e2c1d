"""Drafts (草稿): an applicant's unsent application is kept, resumed, theirs alone, and gone on submit.

Every test runs on SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.errors import BundleNotFound, InvalidInput, NotAllowed, NotFound, TooLarge
from engine.portal.drafts import MAX_DRAFT_BYTES, DraftNotFound
from engine.service import Engine
from engine.time.clock import ManualClock
from tests.support.engines import (
    ANALYST,
    APPLICANT,
    MINI_STARTUP,
    MONDAY,
    OTHER_APPLICANT,
    bundle_engine,
    clerk,
    upload,
)

BUNDLE = "mini-startup"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def engine(db_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Engine]:
    eng = bundle_engine(db_url, tmp_path, BUNDLE, clock)
    yield eng
    eng.close()


def test_a_saved_draft_comes_back_with_its_answers_materials_and_times(
    engine: Engine, clock: ManualClock
) -> None:
    articles = upload(engine, APPLICANT, "articles_of_association")
    first = engine.drafts.save(APPLICANT, BUNDLE, {"company_name": "上海一件"}, {})
    clock.advance(timedelta(minutes=3))
    engine.drafts.save(
        APPLICANT,
        BUNDLE,
        {"company_name": "上海一件事科技有限公司", "registered_capital": "1OO"},
        {"articles_of_association": articles},
    )
    draft = engine.drafts.load(APPLICANT, BUNDLE)
    # Unfinished answers are kept as typed (a draft is not validated), and one draft per bundle.
    assert draft.data == {"company_name": "上海一件事科技有限公司", "registered_capital": "1OO"}
    assert draft.materials == {"articles_of_association": articles}
    assert draft.created_at == first.created_at == MONDAY
    assert draft.updated_at == MONDAY + timedelta(minutes=3)
    assert [d.bundle for d in engine.drafts.list(APPLICANT)] == [BUNDLE]


def test_drafts_are_their_owners_alone(engine: Engine) -> None:
    engine.drafts.save(APPLICANT, BUNDLE, {"company_name": "甲公司"})
    with pytest.raises(DraftNotFound):
        engine.drafts.load(OTHER_APPLICANT, BUNDLE)
    assert engine.drafts.list(OTHER_APPLICANT) == []
    with pytest.raises(DraftNotFound):
        engine.drafts.delete(OTHER_APPLICANT, BUNDLE)
    # The other applicant's own draft of the same bundle is a separate one.
    engine.drafts.save(OTHER_APPLICANT, BUNDLE, {"company_name": "乙公司"})
    assert engine.drafts.load(APPLICANT, BUNDLE).data == {"company_name": "甲公司"}
    for staff in (clerk("market-regulation"), ANALYST):
        with pytest.raises(NotAllowed):
            engine.drafts.list(staff)
        with pytest.raises(NotAllowed):
            engine.drafts.save(staff, BUNDLE, {})


def test_a_draft_keeps_only_what_the_form_accepts(engine: Engine) -> None:
    theirs = upload(engine, OTHER_APPLICANT, "articles_of_association")
    with pytest.raises(InvalidInput) as refused:
        engine.drafts.save(
            APPLICANT,
            BUNDLE,
            {"company_name": "甲公司", "password": "x", "uscc": "91350100M000100Y43", "nested": {}},
            {"articles_of_association": theirs, "passport": "abc"},
        )
    # Every problem at once: fields not on the applicant's form (a clerk's decision field
    # included), another applicant's upload, a material the form does not ask.
    assert {(p.where, p.rule) for p in refused.value.problems} == {
        ("password", "unknown-field"),
        ("uscc", "unknown-field"),
        ("nested", "unknown-field"),
        ("articles_of_association", "material-unknown"),
        ("passport", "unknown-material"),
    }
    with pytest.raises(DraftNotFound):
        engine.drafts.load(APPLICANT, BUNDLE)
    with pytest.raises(InvalidInput) as nested:
        engine.drafts.save(APPLICANT, BUNDLE, {"company_name": {"zh": "甲"}})
    assert [p.rule for p in nested.value.problems] == ["type"]
    with pytest.raises(BundleNotFound):
        engine.drafts.save(APPLICANT, "no-such-bundle", {})


def test_a_draft_has_a_size_limit(engine: Engine) -> None:
    fields = [
        "company_name",
        "legal_rep_name",
        "address",
        "legal_rep_id",
        "registered_capital",
        "has_employees",
        "employee_count",
    ]
    big = {name: "字" * 9_000 for name in fields}
    assert len(str(big).encode()) > MAX_DRAFT_BYTES
    with pytest.raises(TooLarge):
        engine.drafts.save(APPLICANT, BUNDLE, big)
    with pytest.raises(InvalidInput):
        engine.drafts.save(APPLICANT, BUNDLE, {"company_name": "字" * 10_001})


def test_submitting_the_application_discards_its_draft_and_only_that_one(engine: Engine) -> None:
    articles = upload(engine, APPLICANT, "articles_of_association")
    engine.drafts.save(
        APPLICANT, BUNDLE, {"company_name": "上海一件事"}, {"articles_of_association": articles}
    )
    engine.drafts.save(OTHER_APPLICANT, BUNDLE, {"company_name": "乙公司"})
    engine.start_case(APPLICANT, BUNDLE, MINI_STARTUP, {"articles_of_association": articles})
    with pytest.raises(DraftNotFound):
        engine.drafts.load(APPLICANT, BUNDLE)
    assert engine.drafts.load(OTHER_APPLICANT, BUNDLE).data == {"company_name": "乙公司"}


def test_a_refused_submission_keeps_the_draft(engine: Engine) -> None:
    engine.drafts.save(APPLICANT, BUNDLE, {"company_name": "上海一件事"})
    with pytest.raises(InvalidInput):
        engine.start_case(APPLICANT, BUNDLE, {"company_name": "上海一件事"}, {})
    assert engine.drafts.load(APPLICANT, BUNDLE).data == {"company_name": "上海一件事"}


def test_discarding_a_draft(engine: Engine) -> None:
    engine.drafts.save(APPLICANT, BUNDLE, {"company_name": "上海一件事"})
    engine.drafts.delete(APPLICANT, BUNDLE)
    with pytest.raises(NotFound):
        engine.drafts.load(APPLICANT, BUNDLE)
    with pytest.raises(DraftNotFound):
        engine.drafts.delete(APPLICANT, BUNDLE)
    assert engine.drafts.list(APPLICANT) == []
