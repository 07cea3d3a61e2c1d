"""A step decided again after a send-back supersedes the certificate it issued before.

In ``enterprise-startup`` market registration issues the business licence. Tax sends the
case back to registration: the licence stays valid while registration looks again. When
registration approves again, the same transaction issues a new licence (``...-2``), revokes
the earlier one with a reason naming the new number, and writes ``certificate_superseded``
on the case. The re-run steps, the applicant's case and later applications see only the new
licence; a failure anywhere in the re-decision leaves the earlier licence valid and no new one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.cases import task_actions
from engine.cases.states import Outcome
from engine.demo import DEMO_START
from engine.documents.views import CertificateStatus
from engine.errors import InvalidInput
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import Material
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.engine.test_send_back import (
    MARKET,
    STARTUP,
    TAX,
    at_invoice,
    decisions,
    events,
    open_row,
    rows,
)
from tests.support.engines import ANALYST, APPLICANT, clerk, make_engine, work_all

LICENCE = "business_licence"
MARKET_SUPERVISOR = Actor("supervisor.market", Role.CLERK, frozenset({"market-regulation"}), supervisor=True)


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path, ManualClock(DEMO_START))
    eng.deployments.deploy_dir(Settings().processes_dir / STARTUP)
    yield eng
    eng.close()


def licence_number(engine: Engine, material_id: str) -> str:
    with engine.db.read() as s:
        row = s.get(Material, material_id)
        assert row is not None and row.number is not None
        return row.number


def sent_back_to_registration(engine: Engine) -> tuple[int, str, int]:
    """A case whose licence was issued, sent back by tax to registration: (case, old licence id, new task)."""
    case_id, invoice = at_invoice(engine)
    old = engine.get_case(ANALYST, case_id).outputs[LICENCE]
    reopened = engine.send_back(TAX, invoice, "business-registration", "经营范围与发票票种不符")
    return case_id, old, reopened.id


def redecide(engine: Engine, task_id: int, decision: dict[str, Any]) -> None:
    engine.claim(MARKET, task_id)
    engine.complete(MARKET, task_id, Outcome.APPROVE, decision, "重新核定")


def test_the_re_decided_registration_supersedes_its_licence_in_one_step(engine: Engine) -> None:
    case_id, old_id, task_id = sent_back_to_registration(engine)
    old_number = licence_number(engine, old_id)

    # Sent back: the licence the company holds stays valid until registration decides again.
    assert engine.documents.verify(old_number).status is CertificateStatus.VALID
    assert engine.get_case(ANALYST, case_id).outputs[LICENCE] == old_id
    assert not [e for e in events(engine, case_id) if e.kind == "certificate_superseded"]

    redecide(engine, task_id, decisions(engine)["business-registration"])

    new_id = engine.get_case(ANALYST, case_id).outputs[LICENCE]
    new_number = licence_number(engine, new_id)
    assert new_id != old_id and new_number == f"{old_number}-2"
    old = engine.documents.verify(old_number)
    assert old.status is CertificateStatus.REVOKED and old.certificate is not None
    assert old.certificate.revoked_reason == (
        f"被重新办理的环节取代，新证照 {new_number} / superseded by a re-decided step: now {new_number}"
    )
    assert engine.documents.verify(new_number).status is CertificateStatus.VALID

    # Audited on the case, by the clerk who decided again, at the same moment as the new issue.
    trail = events(engine, case_id)
    line = next(e for e in trail if e.kind == "certificate_superseded")
    assert line.actor == MARKET.username and line.work_item_id == task_id
    assert line.detail == {
        "kind": LICENCE,
        "item": "business-registration",
        "number": old_number,
        "new_number": new_number,
        "reason": old.certificate.revoked_reason,
    }
    issued = [e for e in trail if e.kind == "certificate_issued"]
    assert [e.detail["material_id"] for e in issued] == [old_id, new_id]
    assert issued[-1].at == line.at
    with engine.db.read() as s:
        revoked = s.get(Material, old_id)
        assert revoked is not None and revoked.revoked_by == MARKET.username
        assert revoked.revoked_at == line.at

    # The steps that run again reuse the new licence, never the superseded one.
    seal = open_row(engine, case_id, "seal-engraving")
    assert engine.get_task(clerk("public-security"), seal.id).materials[LICENCE] == new_id
    # The applicant's case lists the licence in force only; a later application reuses it.
    assert [c.number for c in engine.documents.certificates(APPLICANT, case_id)] == [new_number]
    assert [c.id for c in engine.materials.certificates_of(APPLICANT.username)] == [new_id]

    work_all(engine, case_id, decisions(engine))
    assert engine.get_case(ANALYST, case_id).status == "completed"
    assert len([r for r in rows(engine, case_id, "business-registration") if r.outcome == "approve"]) == 2
    assert [e.kind for e in events(engine, case_id)].count("certificate_superseded") == 1


def test_a_failing_re_decision_leaves_the_earlier_licence_valid_and_issues_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id, old_id, task_id = sent_back_to_registration(engine)
    old_number = licence_number(engine, old_id)
    engine.claim(MARKET, task_id)

    # A decision that cannot issue the licence (its credit code missing) is refused whole.
    with pytest.raises(InvalidInput):
        engine.complete(MARKET, task_id, Outcome.APPROVE, {}, "")

    # The revocation failing after the new licence was written rolls the issue back with it.
    def broken(*_args: object) -> None:
        raise RuntimeError("the revocation's write failed")

    monkeypatch.setattr(task_actions, "supersede", broken)
    with pytest.raises(RuntimeError):
        engine.complete(MARKET, task_id, Outcome.APPROVE, decisions(engine)["business-registration"], "")

    assert engine.documents.verify(old_number).status is CertificateStatus.VALID
    assert engine.get_case(ANALYST, case_id).outputs[LICENCE] == old_id
    with engine.db.read() as s:
        licences = s.scalars(select(Material.id).where(Material.issued_by_case == case_id)).all()
    assert licences == [old_id]
    assert engine.get_task(MARKET, task_id).task.state == "claimed"
    assert not [
        e
        for e in events(engine, case_id)
        if e.kind == "certificate_superseded" or (e.kind == "approved" and e.work_item_id == task_id)
    ]

    monkeypatch.undo()
    engine.complete(MARKET, task_id, Outcome.APPROVE, decisions(engine)["business-registration"], "")
    assert engine.documents.verify(old_number).status is CertificateStatus.REVOKED


def test_a_licence_revoked_before_the_re_decision_is_not_superseded_again(engine: Engine) -> None:
    case_id, old_id, task_id = sent_back_to_registration(engine)
    old_number = licence_number(engine, old_id)
    engine.documents.revoke(MARKET_SUPERVISOR, old_number, "登记信息有误，先行注销")

    redecide(engine, task_id, decisions(engine)["business-registration"])

    old = engine.documents.verify(old_number)
    assert old.certificate is not None and old.certificate.revoked_reason == "登记信息有误，先行注销"
    new_id = engine.get_case(ANALYST, case_id).outputs[LICENCE]
    assert new_id != old_id
    assert engine.documents.verify(licence_number(engine, new_id)).status is CertificateStatus.VALID
    assert not [e for e in events(engine, case_id) if e.kind == "certificate_superseded"]
