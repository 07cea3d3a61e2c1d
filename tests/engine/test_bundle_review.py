"""Four-eyes review of bundle versions: a draft never starts cases until someone else publishes it.

An analyst's draft is stored and numbered like any version, but applicants, the catalogue and
new cases keep the newest *published* version; the author submits it; the author may not
publish or return it (another analyst or an admin does); a return carries a note; a published
base re-applies the divisions' variants. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.bpmn.definitions import read_bundle_dir
from engine.bpmn.review import ReviewAction, VersionStatus
from engine.errors import Conflict, InvalidInput, NotAllowed
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import Deployment
from tests.support.engines import APPLICANT, TEST_BUNDLES, bundle_engine, start_mini_startup

KEY = "mini-startup"
AUTHOR = Actor("analyst.author", Role.ANALYST)
REVIEWER = Actor("analyst.reviewer", Role.ANALYST)
ADMIN = Actor("admin", Role.ADMIN)


def _changed(n: int) -> dict[str, bytes]:
    """The test bundle with its name changed (a new version's content each ``n``)."""
    files = read_bundle_dir(TEST_BUNDLES / KEY)
    text = files["bundle.yaml"].decode("utf-8")
    start = text.index("name:")
    files["bundle.yaml"] = (
        text[:start] + f"description: {{zh: 第{n}版, en: Edition {n}}}\n" + text[start:]
    ).encode()
    return files


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Engine:
    """An engine with ``mini-startup`` v1 published (as a direct deployment does)."""
    return bundle_engine(db_url, tmp_path, KEY)


def _status(engine: Engine, version: int) -> str:
    with engine.db.read() as s:
        return str(
            s.scalar(select(Deployment.status).where(Deployment.key == KEY, Deployment.version == version))
        )


def test_a_draft_is_stored_but_new_cases_catalogue_and_lists_keep_the_published_version(
    engine: Engine,
) -> None:
    draft = engine.deploy_files(_changed(2), AUTHOR.username, draft=True)
    assert (draft.version, draft.created, draft.status) == (2, True, "draft")
    assert _status(engine, 2) == "draft"
    assert [b.version for b in engine.list_bundles() if b.key == KEY] == [1]
    assert engine.bundle_detail(KEY).summary.version == 1
    assert engine.bundle_detail(KEY, 2).summary.version == 2  # the studio still reads it
    case = engine.get_case(APPLICANT, start_mini_startup(engine))
    assert case.version == 1
    # Saving the same content again keeps the draft's version; a direct deployment of it publishes anew.
    assert engine.deploy_files(_changed(2), AUTHOR.username, draft=True).version == 2
    versions = {v.version: v for v in engine.versions(KEY)}
    assert versions[2].status == "draft" and versions[2].created_by == AUTHOR.username
    assert versions[1].status == "published"


def test_the_author_cannot_publish_another_analyst_can_and_new_cases_start_on_it(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.deploy_files(_changed(2), AUTHOR.username, draft=True)
    old_case = start_mini_startup(engine)
    with pytest.raises(Conflict):  # not yet submitted
        engine.review_version(REVIEWER, KEY, 2, ReviewAction.PUBLISH)
    submitted = engine.review_version(AUTHOR, KEY, 2, ReviewAction.SUBMIT)
    assert submitted.status is VersionStatus.IN_REVIEW and submitted.submitted_by == AUTHOR.username
    with pytest.raises(NotAllowed, match="四眼原则"):
        engine.review_version(AUTHOR, KEY, 2, ReviewAction.PUBLISH)
    with pytest.raises(NotAllowed):
        engine.review_version(AUTHOR, KEY, 2, ReviewAction.RETURN, "自己退回")
    with pytest.raises(NotAllowed):  # a clerk reviews nothing
        engine.review_version(Actor("clerk.x", Role.CLERK, frozenset({"x"})), KEY, 2, ReviewAction.PUBLISH)
    assert engine.bundle_detail(KEY).summary.version == 1
    with caplog.at_level(logging.INFO, logger="engine.bpmn.deployments"):
        published = engine.review_version(REVIEWER, KEY, 2, ReviewAction.PUBLISH, "  同意发布  ")
    assert published.status is VersionStatus.PUBLISHED
    assert (published.author, published.reviewed_by, published.review_note) == (
        AUTHOR.username,
        REVIEWER.username,
        "同意发布",
    )
    assert published.reviewed_at == engine.clock.now()
    assert any(
        "mini-startup v2: publish by analyst.reviewer (author analyst.author)" in r.getMessage()
        for r in caplog.records
    )
    with engine.db.read() as s:
        row = s.scalars(select(Deployment).where(Deployment.key == KEY, Deployment.version == 2)).one()
        assert (row.status, row.submitted_by, row.reviewed_by) == (
            "published",
            AUTHOR.username,
            REVIEWER.username,
        )
    assert engine.bundle_detail(KEY).summary.version == 2
    assert [b.version for b in engine.list_bundles() if b.key == KEY] == [2]
    assert engine.get_case(APPLICANT, start_mini_startup(engine)).version == 2
    assert engine.get_case(APPLICANT, old_case).version == 1  # running cases keep their version
    with pytest.raises(Conflict):  # published is final
        engine.review_version(ADMIN, KEY, 2, ReviewAction.WITHDRAW)


def test_a_reviewer_returns_a_version_with_a_note_and_the_author_resubmits_or_withdraws(
    engine: Engine,
) -> None:
    engine.deploy_files(_changed(2), AUTHOR.username, draft=True)
    engine.review_version(AUTHOR, KEY, 2, ReviewAction.SUBMIT)
    with pytest.raises(InvalidInput):  # a return says why
        engine.review_version(REVIEWER, KEY, 2, ReviewAction.RETURN, "   ")
    returned = engine.review_version(REVIEWER, KEY, 2, ReviewAction.RETURN, "时限写错了")
    assert returned.status is VersionStatus.DRAFT
    assert (returned.reviewed_by, returned.review_note) == (REVIEWER.username, "时限写错了")
    version = next(v for v in engine.versions(KEY) if v.version == 2)
    assert (version.status, version.review_note, version.reviewed_by) == (
        "draft",
        "时限写错了",
        REVIEWER.username,
    )
    assert engine.bundle_detail(KEY).summary.version == 1
    # Submitted again: the old review is cleared; then the admin may publish it.
    again = engine.review_version(AUTHOR, KEY, 2, ReviewAction.SUBMIT)
    assert again.review_note is None and again.reviewed_by is None
    engine.review_version(ADMIN, KEY, 2, ReviewAction.PUBLISH)
    assert engine.bundle_detail(KEY).summary.version == 2
    # A withdrawal is the author's or an admin's; a withdrawn version never goes live.
    engine.deploy_files(_changed(3), AUTHOR.username, draft=True)
    with pytest.raises(NotAllowed):
        engine.review_version(REVIEWER, KEY, 3, ReviewAction.WITHDRAW)
    assert engine.review_version(AUTHOR, KEY, 3, ReviewAction.WITHDRAW).status is VersionStatus.WITHDRAWN
    with pytest.raises(Conflict):
        engine.review_version(AUTHOR, KEY, 3, ReviewAction.SUBMIT)
    assert engine.bundle_detail(KEY).summary.version == 2
    # The same content saved again after a withdrawal is a new draft, not the withdrawn one.
    assert engine.deploy_files(_changed(3), AUTHOR.username, draft=True).version == 4


def test_a_direct_deployment_still_publishes_and_an_older_draft_cannot_go_live_behind_it(
    engine: Engine,
) -> None:
    engine.deploy_files(_changed(2), AUTHOR.username, draft=True)
    engine.review_version(AUTHOR, KEY, 2, ReviewAction.SUBMIT)
    direct = engine.deploy_files(_changed(3), REVIEWER.username)
    assert (direct.version, direct.status) == (3, "published")
    assert engine.bundle_detail(KEY).summary.version == 3
    with pytest.raises(Conflict, match="v3"):
        engine.review_version(REVIEWER, KEY, 2, ReviewAction.PUBLISH)
    assert _status(engine, 2) == "in_review"


def test_the_modelers_save_is_a_draft_built_on_the_version_it_was_opened_on(engine: Engine) -> None:
    first = engine.diagram(KEY).replace("</bpmn:definitions>", "<!-- edit 1 --></bpmn:definitions>")
    saved = engine.deploy_diagram(KEY, 1, first, AUTHOR.username, draft=True)
    assert (saved.version, saved.status) == (2, "draft")
    # The next save opens the draft just saved (v2), not the published v1.
    second = engine.diagram(KEY, 2).replace("</bpmn:definitions>", "<!-- edit 2 --></bpmn:definitions>")
    assert engine.deploy_diagram(KEY, 2, second, AUTHOR.username, draft=True).version == 3
    assert "<!-- edit 1 -->" in engine.diagram(KEY, 3) and "<!-- edit 2 -->" in engine.diagram(KEY, 3)
    assert "<!-- edit" not in engine.diagram(KEY)
    assert engine.bundle_detail(KEY).summary.version == 1


def test_catalogue_marker_moves_when_a_draft_is_published(engine: Engine) -> None:
    engine.deploy_files(_changed(2), AUTHOR.username, draft=True)
    engine.review_version(AUTHOR, KEY, 2, ReviewAction.SUBMIT)
    before = engine.deployments_marker()
    engine.review_version(REVIEWER, KEY, 2, ReviewAction.PUBLISH)
    assert engine.deployments_marker() != before
