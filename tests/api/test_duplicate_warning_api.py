"""Over HTTP: the duplicate-case warning (409, then confirmation) and plausibility problems (422)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from tests.api.support import LiveServer, pdf


def example(client: httpx.Client, bundle: str) -> dict[str, Any]:
    r = client.get(f"/api/bundles/{bundle}")
    assert r.status_code == 200, r.text
    return dict(r.json()["example"])


def materials(client: httpx.Client, kinds: list[str], label: str) -> dict[str, str]:
    ids = {}
    for kind in kinds:
        r = client.post(
            "/api/materials",
            files={"file": (f"{kind}.pdf", pdf(f"{label}-{kind}"), "application/pdf")},
            data={"kind": kind},
        )
        assert r.status_code == 201, r.text
        ids[kind] = r.json()["id"]
    return ids


def apply(
    client: httpx.Client, bundle: str, data: dict[str, Any], label: str, **extra: Any
) -> httpx.Response:
    ex = example(client, bundle)
    body = {"bundle": bundle, "data": data, "materials": materials(client, ex["materials"], label), **extra}
    return client.post("/api/cases", json=body)


def test_a_second_application_for_the_same_company_is_warned_then_confirmed(server: LiveServer) -> None:
    other, me = server.as_user("applicant2"), server.as_user("applicant1")
    data = example(me, "enterprise-startup")["data"] | {"company_name": "福州重复申请测试科技有限公司"}
    first = apply(other, "enterprise-startup", data, "other", confirm_duplicate=False)
    assert first.status_code == 201, first.text

    mine = data | {"legal_rep_name": "王五"}
    warned = apply(me, "enterprise-startup", mine, "mine", confirm_duplicate=False)
    assert warned.status_code == 409, warned.text
    (problem,) = warned.json()["detail"]
    assert problem["rule"] == "duplicate_case" and problem["where"] == "company_name"
    assert problem["fields"] == ["company_name"] and problem["state"] == "open"
    assert "已有一件企业名称相同的企业开办一件事申请正在办理" in problem["message"]
    assert problem["message_en"]
    for private in ("applicant2", data["legal_rep_name"], data["legal_rep_id"], str(first.json()["id"])):
        assert private not in warned.text

    confirmed = apply(me, "enterprise-startup", mine, "mine", confirm_duplicate=True)
    assert confirmed.status_code == 201, confirmed.text
    # A client that predates the warning (no confirm_duplicate) is not asked.
    legacy = apply(me, "enterprise-startup", mine, "legacy")
    assert legacy.status_code == 201, legacy.text


def test_implausible_answers_are_listed_with_the_field_problems(server: LiveServer) -> None:
    me = server.as_user("applicant1")
    data = example(me, "newborn-birth")["data"]
    tomorrow = (date.today() + timedelta(days=2)).isoformat()  # after today in China, whatever the hour
    bad = data | {"newborn_birth_date": tomorrow, "father_id": data["mother_id"], "guardian_phone": "1"}
    r = apply(me, "newborn-birth", bad, "newborn")
    assert r.status_code == 422, r.text
    found = {(p["where"], p["rule"]) for p in r.json()["detail"]}
    assert found == {
        ("newborn_birth_date", "plausibility.not_future"),
        ("father_id", "plausibility.id_sex"),
        ("father_id", "plausibility.distinct"),
        ("guardian_phone", "format"),
    }
    distinct = next(p for p in r.json()["detail"] if p["rule"] == "plausibility.distinct")
    assert distinct["fields"] == ["father_id", "mother_id"]
