"""The 办件 records (受理, 办结) built from a case's facts: status and result codes, the applicant's
identity (person or legal person), the times and the time limit (see docs/banjian-reporting.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.integration.banjian import BundleItem, CaseFacts, record

RECEIVED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
DUE = RECEIVED + timedelta(days=3)
ITEMS = (
    BundleItem("birth-certificate", "330000-BIRTH-01", "出生医学证明", "health", 1.0),
    BundleItem("household-registration", "household-registration", "户口登记", "public-security", 2.0),
)


def facts(audience: str, data: dict[str, Any], finished: datetime | None = None) -> CaseFacts:
    return CaseFacts(
        case_id=7,
        code="2026030200000007",
        bundle="newborn-birth",
        bundle_name="新生儿出生一件事",
        audience=audience,
        items=ITEMS,
        data=data,
        created_at=RECEIVED,
        finished_at=finished,
        due_at=DUE,
    )


def test_an_accepted_case_of_a_person_is_a_受理_record_with_the_persons_id() -> None:
    data = {"mother_name": "林晓", "mother_id": "350102199001011234", "guardian_id": ""}
    body = record("e-1", "submitted", RECEIVED, facts("individual", data))
    assert body is not None
    assert (body["record_type"], body["record_type_name"], body["status_code"], body["status_name"]) == (
        "accept",
        "受理",
        "1",
        "已受理",
    )
    assert (body["applicant_type"], body["applicant_name"]) == ("1", "林晓")
    assert (body["applicant_id_type"], body["applicant_id_type_name"], body["applicant_id_number"]) == (
        "111",
        "居民身份证",
        "350102199001011234",
    )
    assert body["received_at"] == RECEIVED.isoformat() and body["finished_at"] is None
    assert body["time_limit_due_at"] == DUE.isoformat() and body["result"] is None
    assert [i["item_code"] for i in body["items"]] == ["330000-BIRTH-01", "household-registration"]
    assert body["departments"] == ["health", "public-security"]
    assert body["record_id"] == "e-1" and body["case_code"] == "2026030200000007"


@pytest.mark.parametrize(
    ("kind", "result", "name"),
    [
        ("completed", "1", "准予许可(办结出证)"),
        ("rejected", "2", "不予许可"),
        ("withdrawn", "3", "申请人撤回"),
    ],
)
def test_a_finished_case_is_a_办结_record_with_its_result(kind: str, result: str, name: str) -> None:
    finished = RECEIVED + timedelta(days=1)
    data = {"company_name": "福州一件事科技有限公司", "uscc": "91350100M000100Y43", "legal_rep_id": "x"}
    body = record("e-2", kind, finished, facts("enterprise", data, finished))
    assert body is not None
    assert (body["record_type_name"], body["status_code"], body["result"], body["result_name"]) == (
        "办结",
        "2",
        result,
        name,
    )
    assert (body["applicant_type"], body["applicant_id_type"], body["applicant_name"]) == (
        "2",
        "001",
        "福州一件事科技有限公司",
    )
    assert body["received_at"] == RECEIVED.isoformat() and body["finished_at"] == finished.isoformat()
    assert body["overdue"] is False


def test_a_case_finished_after_its_time_limit_is_marked_overdue_and_other_kinds_make_no_record() -> None:
    late = DUE + timedelta(hours=1)
    body = record("e-3", "completed", late, facts("individual", {}, late))
    assert body is not None and body["overdue"] is True
    assert body["applicant_id_type"] is None and body["applicant_id_number"] is None  # nothing to report
    for kind in ("approved", "task_created", "claimed", "rated"):
        assert record("e-4", kind, late, facts("individual", {})) is None
