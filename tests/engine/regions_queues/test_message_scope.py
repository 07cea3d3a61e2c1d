"""A department system's message reaches only cases in its division's subtree.

The birth-messages test bundle waits for the hospital system's messages. A case decided in
上城区 (330102, where health has an office) is reached by ``system.health@330000`` (浙江省)
and not by ``system.health`` (the default division, 上海市); a default-division case the other
way round. Another subtree's case is as if nothing waited for the message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import MessageNotCorrelated
from engine.people.actors import Actor, Role
from tests.support.engines import ANALYST, APPLICANT, make_engine

PROCESSES = Path(__file__).resolve().parents[3] / "processes"
BUNDLE = Path(__file__).resolve().parents[1] / "bpmn_integration" / "bundles" / "birth-messages"
DATA = {"child_name": "李小明", "newborn_birth_date": "2025-01-02", "birth_hospital": "上海市第一妇婴保健院"}
SHANGCHENG = "330102"


def health_system(division: str | None) -> Actor:
    return Actor(f"system.health@{division}", Role.SYSTEM, frozenset({"health"}), division=division)


def test_a_systems_message_reaches_only_the_cases_of_its_subtree(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url, tmp_path)
    try:
        engine.regions.load_shipped(PROCESSES / "divisions")
        engine.regions.add_office(None, "health", SHANGCHENG)
        engine.deployments.deploy_dir(BUNDLE)
        zhejiang = engine.start_case(APPLICANT, "birth-messages", DATA, {}, division=SHANGCHENG)
        shanghai = engine.start_case(APPLICANT, "birth-messages", DATA, {})
        assert zhejiang.code is not None and shanghai.code is not None
        with pytest.raises(MessageNotCorrelated):
            engine.correlate_message(health_system(None), "certificate-issued", business_key=zhejiang.code)
        with pytest.raises(MessageNotCorrelated):
            engine.correlate_message(
                health_system("330000"), "certificate-issued", business_key=shanghai.code
            )
        assert engine.get_case(ANALYST, zhejiang.id).tasks == ()  # nothing was delivered
        engine.correlate_message(health_system("330000"), "certificate-issued", business_key=zhejiang.code)
        engine.correlate_message(health_system(None), "certificate-issued", business_key=shanghai.code)
        (row,) = engine.get_case(ANALYST, zhejiang.id).tasks
        assert (row.kind, row.department, row.division) == ("message", "health", SHANGCHENG)
        (row,) = engine.get_case(ANALYST, shanghai.id).tasks
        assert (row.kind, row.division) == ("message", "310000")
    finally:
        engine.close()
