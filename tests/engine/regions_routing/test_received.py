"""异地代收: a window in one division receives an application that another division decides.

The 徐汇区 (310104) market-regulation window receives an application of ``applicant1`` for
黄浦区 (310101): the receiving office is recorded and follows the case, 黄浦区's office
decides it, and what the window uploaded becomes the applicant's. Applicants still apply only
for themselves. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import CaseNotFound, InvalidInput, MaterialNotFound, NotAllowed, WorkItemNotFound
from engine.people.accounts import AccountService
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.models import Case, Material
from tests.engine.regions_routing.test_routing import (
    BUNDLES,
    MARKET,
    OFFICES,
    PROCESSES,
    approve,
    office_clerk,
    open_row,
)
from tests.support.engines import ANALYST, APPLICANT, OTHER_APPLICANT, make_engine, upload

MIGRATION = {
    "company_name": "上海一件事科技有限公司",
    "uscc": "91350100M000100Y43",
    "address": "上海市黄浦区中山东一路1号",
    "address_division": "310101",
    "new_address_division": "310101",
}
WINDOW = office_clerk("310104")  # 徐汇区市场监管局's window


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(db_url, tmp_path)
    eng.regions.load_shipped(PROCESSES / "divisions")
    for code in OFFICES:
        eng.regions.add_office(None, MARKET, code)
    accounts = AccountService(eng.db)
    for name in (APPLICANT.username, OTHER_APPLICANT.username):
        accounts.create(name, "a-long-passphrase", Role.APPLICANT)
    eng.deployments.deploy_dir(BUNDLES / "enterprise-migration")
    yield eng
    eng.close()


def proof(engine: Engine, actor: Actor) -> dict[str, str]:
    """The migration's one material, uploaded by ``actor``."""
    return {"premises_proof": upload(engine, actor, "premises_proof")}


def test_a_case_received_elsewhere_is_followed_by_the_window_and_decided_by_its_division(
    engine: Engine,
) -> None:
    case = engine.start_case(
        WINDOW,
        "enterprise-migration",
        MIGRATION,
        proof(engine, WINDOW),
        applicant=APPLICANT.username,
        division="310101",
    )
    assert case.applicant == APPLICANT.username
    assert case.division == "310101"
    assert case.received_division == "310104"
    assert case.received_department == MARKET
    assert case.received is not None and "徐汇区" in case.received.zh
    with engine.db.read() as s:
        stored = s.get(Case, case.id)
        assert stored is not None and stored.received_by == WINDOW.username
    line = next(e for e in engine.get_case(ANALYST, case.id).timeline if e.kind == "received_at_window")
    assert line.actor == WINDOW.username
    assert line.detail == {
        "applicant": APPLICANT.username,
        "department": MARKET,
        "division": "310104",
        "decided_in": "310101",
    }

    task = open_row(engine, case.id, "migrate-out")
    assert task.division == "310101"
    # The window follows the case's progress, not its tasks.
    followed = engine.get_case(WINDOW, case.id)
    assert [t.item for t in followed.tasks] == ["migrate-out"] and followed.data is None
    assert engine.list_tasks(WINDOW).items == ()
    with pytest.raises(WorkItemNotFound):
        engine.get_task(WINDOW, task.id)
    with pytest.raises(WorkItemNotFound):
        engine.claim(WINDOW, task.id)
    # Another district's office that neither received nor decides it sees nothing.
    with pytest.raises(CaseNotFound):
        engine.get_case(office_clerk("330102"), case.id)

    deciding = office_clerk("310101")
    approve(engine, deciding, task.id)
    approve(engine, deciding, open_row(engine, case.id, "migrate-in").id)
    assert engine.get_case(WINDOW, case.id).status == "completed"
    assert engine.get_case(APPLICANT, case.id).status == "completed"


def test_what_the_window_uploaded_becomes_the_applicants(engine: Engine) -> None:
    scanned = upload(engine, WINDOW, "premises_proof")
    before = engine.materials.get(scanned, owner=WINDOW.username)
    case = engine.start_case(
        WINDOW,
        "enterprise-migration",
        MIGRATION,
        {"premises_proof": scanned},
        applicant=APPLICANT.username,
        division="310101",
    )
    full = engine.get_case(APPLICANT, case.id)
    assert full.materials is not None
    handed = full.materials["premises_proof"]
    assert handed != scanned
    mine = engine.materials.get(handed, owner=APPLICANT.username)
    assert (mine.sha256, mine.kind) == (before.sha256, "premises_proof")
    with pytest.raises(MaterialNotFound):
        engine.materials.get(scanned, owner=WINDOW.username)  # the window keeps no copy
    # The deciding office reads it through the task whose item needs it.
    approve(engine, office_clerk("310101"), open_row(engine, case.id, "migrate-out").id)
    detail = engine.get_task(office_clerk("310101"), open_row(engine, case.id, "migrate-in").id)
    assert detail.materials == {"premises_proof": handed}
    with engine.db.read() as s:
        owners = set(s.scalars(select(Material.owner).where(Material.sha256 == before.sha256)))
    assert owners == {APPLICANT.username}


def test_applicants_apply_only_for_themselves(engine: Engine) -> None:
    mine = proof(engine, APPLICANT)
    with pytest.raises(NotAllowed):
        engine.start_case(
            APPLICANT, "enterprise-migration", MIGRATION, {}, applicant=OTHER_APPLICANT.username
        )
    with pytest.raises(NotAllowed):
        engine.start_case(APPLICANT, "enterprise-migration", MIGRATION, {}, received_department=MARKET)
    own = engine.start_case(APPLICANT, "enterprise-migration", MIGRATION, mine, applicant=APPLICANT.username)
    assert own.applicant == APPLICANT.username and own.received is None
    with pytest.raises(NotAllowed):
        engine.start_case(ANALYST, "enterprise-migration", MIGRATION, {}, applicant=APPLICANT.username)


def test_a_window_names_a_known_applicant_and_its_receiving_department(engine: Engine) -> None:
    two_desks = Actor("clerk.two@310104", Role.CLERK, frozenset({MARKET, "tax"}), division="310104")
    with pytest.raises(InvalidInput) as refused:
        engine.start_case(two_desks, "enterprise-migration", {**MIGRATION, "company_name": ""}, {})
    assert {p.where for p in refused.value.problems} >= {"applicant", "received_department", "company_name"}
    with pytest.raises(InvalidInput) as refused:
        engine.start_case(
            WINDOW, "enterprise-migration", MIGRATION, proof(engine, WINDOW), applicant="nobody"
        )
    assert [p.where for p in refused.value.problems] == ["applicant"]
    with pytest.raises(InvalidInput) as refused:
        engine.start_case(
            WINDOW,
            "enterprise-migration",
            MIGRATION,
            proof(engine, WINDOW),
            applicant=APPLICANT.username,
            received_department="tax",
        )
    assert [p.where for p in refused.value.problems] == ["received_department"]

    case = engine.start_case(
        two_desks,
        "enterprise-migration",
        MIGRATION,
        proof(engine, two_desks),
        applicant=APPLICANT.username,
        received_department="tax",
    )
    assert (case.received_department, case.received_division) == ("tax", "310104")
    # A window clerk of the default division (no division of their own) receives at 上海市.
    default_window = Actor("clerk.market-regulation", Role.CLERK, frozenset({MARKET}))
    case = engine.start_case(
        default_window,
        "enterprise-migration",
        MIGRATION,
        proof(engine, default_window),
        applicant=APPLICANT.username,
        division="310104",
    )
    assert (case.received_division, case.division) == ("310000", "310104")
    # 迁出 names its own division field (the old address, 黄浦区): the item's source wins.
    assert open_row(engine, case.id, "migrate-out").division == "310101"
