"""The 办件 reporting format: 受理 and 办结 records for the provincial/national platform.

A subscription with ``format: banjian`` receives one record per event that the national
办件 data knows: 受理 (accepted: the case was submitted) and 办结 (finished: completed,
rejected, or withdrawn by the applicant). The record carries the data elements of the
national 办件 data (办件编码, 事项编码, 申请人证件类型/号码, 实施部门, 受理时间, 办结时间,
办结结果, 承诺时限, 办件状态); ``docs/banjian-reporting.md`` has the field table, the code
tables and examples. The record is built in the transaction of the event (from the case as
it is then) and stored with the delivery, so a retry or replay sends the same record.

May import: nothing of onething (plain values in, a JSON-ready dict out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

FORMAT = "banjian"

ACCEPTED = "submitted"
FINISHED_KINDS = ("completed", "rejected", "withdrawn", "finished")
KINDS = frozenset({ACCEPTED, *FINISHED_KINDS})

# 办件状态 (status code) and 办结结果 (result): onething's code tables, documented in
# docs/banjian-reporting.md; a province maps them to its own exchange codes.
STATUS_ACCEPTED = ("1", "已受理")
STATUS_FINISHED = ("2", "已办结")
RESULTS: dict[str, tuple[str, str]] = {
    "completed": ("1", "准予许可(办结出证)"),
    "rejected": ("2", "不予许可"),
    "withdrawn": ("3", "申请人撤回"),
    "finished": ("9", "其他办结"),
}

# 申请人证件类型: 111 居民身份证 is GA/T 2000.156's code (the code list GB/T 39046 refers to);
# 001 for the 统一社会信用代码 (GB 32100) is onething's (see the doc's code table).
ID_RESIDENT = ("111", "居民身份证")
ID_USCC = ("001", "统一社会信用代码")
APPLICANT_PERSON = ("1", "自然人")
APPLICANT_LEGAL = ("2", "法人")

# Where the applicant's identity is in the case data, first present wins (forms/catalog keys).
ENTERPRISE_ID_FIELDS: tuple[tuple[str, tuple[str, str]], ...] = (
    ("uscc", ID_USCC),
    ("legal_rep_id", ID_RESIDENT),
)
PERSON_ID_FIELDS: tuple[tuple[str, tuple[str, str]], ...] = (
    ("applicant_id", ID_RESIDENT),
    ("guardian_id", ID_RESIDENT),
    ("mother_id", ID_RESIDENT),
    ("father_id", ID_RESIDENT),
    ("card_holder_id", ID_RESIDENT),
)
ENTERPRISE_NAME_FIELDS = ("company_name",)
PERSON_NAME_FIELDS = (
    "applicant_name",
    "legal_rep_name",
    "guardian_name",
    "mother_name",
    "father_name",
    "card_holder_name",
)


@dataclass(frozen=True)
class BundleItem:
    """One 事项 of a bundle as the record names it."""

    key: str
    code: str
    name: str
    department: str
    time_limit_days: float


@dataclass(frozen=True)
class CaseFacts:
    """What a record says about its case, read in the event's transaction."""

    case_id: int
    code: str | None
    bundle: str
    bundle_name: str
    audience: str
    items: Sequence[BundleItem]
    data: Mapping[str, Any]
    created_at: datetime
    finished_at: datetime | None
    due_at: datetime | None


def _first(data: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _applicant(facts: CaseFacts) -> dict[str, Any]:
    enterprise = facts.audience == "enterprise"
    kind = APPLICANT_LEGAL if enterprise else APPLICANT_PERSON
    id_fields = ENTERPRISE_ID_FIELDS if enterprise else PERSON_ID_FIELDS
    id_type: tuple[str, str] | None = None
    id_number: str | None = None
    for key, found_type in id_fields:
        number = _first(facts.data, (key,))
        if number is not None:
            id_type, id_number = found_type, number
            break
    if id_type == ID_RESIDENT and enterprise:
        kind = APPLICANT_PERSON  # not registered yet: the legal representative applies
    name = _first(facts.data, ENTERPRISE_NAME_FIELDS if kind == APPLICANT_LEGAL else PERSON_NAME_FIELDS)
    return {
        "applicant_type": kind[0],
        "applicant_type_name": kind[1],
        "applicant_name": name,
        "applicant_id_type": id_type[0] if id_type else None,
        "applicant_id_type_name": id_type[1] if id_type else None,
        "applicant_id_number": id_number,
    }


def record(event_id: str, kind: str, at: datetime, facts: CaseFacts) -> dict[str, Any] | None:
    """The 受理 or 办结 record of an event, or None when the event is neither."""
    if kind not in KINDS:
        return None
    accepted = kind == ACCEPTED
    status = STATUS_ACCEPTED if accepted else STATUS_FINISHED
    finished_at = None if accepted else (facts.finished_at or at)
    result = None if accepted else RESULTS[kind]
    departments = sorted({item.department for item in facts.items})
    body: dict[str, Any] = {
        "format": FORMAT,
        "record_id": event_id,
        "record_type": "accept" if accepted else "finish",
        "record_type_name": "受理" if accepted else "办结",
        "case_code": facts.code,
        "case_id": facts.case_id,
        "bundle": facts.bundle,
        "bundle_name": facts.bundle_name,
        "items": [
            {
                "item_code": item.code,
                "item_name": item.name,
                "department": item.department,
                "time_limit_days": item.time_limit_days,
            }
            for item in facts.items
        ],
        "departments": departments,
        **_applicant(facts),
        "received_at": (at if accepted else facts.created_at).isoformat(),
        "time_limit_due_at": facts.due_at.isoformat() if facts.due_at else None,
        "finished_at": finished_at.isoformat() if finished_at else None,
        "result": result[0] if result else None,
        "result_name": result[1] if result else None,
        "status_code": status[0],
        "status_name": status[1],
        "overdue": bool(finished_at and facts.due_at and finished_at > facts.due_at),
    }
    return body
