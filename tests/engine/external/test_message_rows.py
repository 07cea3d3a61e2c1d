"""The case store keeps a "message" row for a receive task bound to a system's item while it waits
(``engine.cases.message_items``), and the correlation finishes it as an approval."""

from __future__ import annotations

from pathlib import Path

from engine.people.actors import Actor, Role
from tests.support.engines import ANALYST, APPLICANT, make_engine

BUNDLE = Path(__file__).resolve().parents[1] / "bpmn_integration" / "bundles" / "birth-messages"
HEALTH_SYSTEM = Actor("system.health", Role.SYSTEM, frozenset({"health"}))
DATA = {"child_name": "李小明", "newborn_birth_date": "2025-01-02", "birth_hospital": "上海市第一妇婴保健院"}


def test_a_waiting_receive_task_has_a_message_row_until_its_message_finishes_it(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url, tmp_path)
    engine.deployments.deploy_dir(BUNDLE)
    case = engine.start_case(APPLICANT, "birth-messages", DATA, {})
    assert case.code is not None
    assert engine.get_case(ANALYST, case.id).tasks == ()  # waiting at the catch event: no row
    engine.correlate_message(HEALTH_SYSTEM, "certificate-issued", business_key=case.code)
    (row,) = engine.get_case(ANALYST, case.id).tasks
    assert (row.item, row.kind, row.department, row.state) == (
        "birth-certificate",
        "message",
        "health",
        "ready",
    )
    assert row.due_at is not None
    engine.correlate_message(
        HEALTH_SYSTEM,
        "hospital-confirmation",
        business_key=case.code,
        process_variables={"birth_certificate_no": "A123456789"},
    )
    rows = {t.item: t for t in engine.get_case(ANALYST, case.id).tasks}
    assert (rows["birth-certificate"].state, rows["birth-certificate"].outcome) == ("completed", "approve")
    assert rows["household-registration"].state == "ready"
    assert len(rows) == 2  # the message row was neither cancelled nor queued twice
