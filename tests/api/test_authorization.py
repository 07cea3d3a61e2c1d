"""The authorisation matrix: every API route, called as every role against another's resources.

The resources belong to ``applicant2`` (a school-enrollment case, its open public-security task,
an uploaded material, and on a second, finished case: a complaint, its supervisor-queue entry and
the rectification a bad rating of public security opened); the callers are another applicant, a
clerk (not a supervisor) of a department the cases never touch, an analyst, an admin, the system
account of that department and nobody. Under ``/engine-rest`` the refusals are Camunda's error
bodies (``{"type", "message", "code"}``), everywhere else ``{"detail": ...}``.
``MATRIX`` says, per route and role, the one status the design allows: 401 for nobody, 403 only
where the role may never do this (the same for every id), 404 for a resource the caller may not
see (the same answer as for an id that does not exist), and no answer of a caller without the
right carries the other applicant's data. A route of the app
that is missing from ``MATRIX`` fails the test, so no endpoint is added without being placed here.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app
from api.pages.base import PageRoute
from tests.api.support import LiveServer, pdf, sqlite_server, upload
from tests.api.walking import apply, bundle_example, open_tasks_of, work_case

ROLES = ("anonymous", "applicant", "clerk", "analyst", "admin", "system")
ACCOUNTS = {
    "applicant": "applicant1",
    "clerk": "clerk.market-regulation",  # school enrolment never reaches market regulation
    "analyst": "analyst",
    "admin": "admin",
    "system": "system.market-regulation",  # the department's own system: only /engine-rest
}
MISSING_ID = 987654321


@dataclass
class Victim:
    """What belongs to ``applicant2`` (and to the public-security department), and its secrets."""

    case_id: int
    task_id: int
    material_id: str
    secrets: tuple[str, ...]
    target_account: str
    complaint_id: int
    entry_id: int
    rectification_id: int
    message_id: int  # one of the notifications the victim's cases sent applicant2


@dataclass(frozen=True)
class Call:
    """One request: method, concrete path and what to send."""

    method: str
    path: str
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, io.BytesIO, str]] | None = None


Caller = Callable[[Victim, str], Call]  # (victim, role) -> the request


@dataclass(frozen=True)
class Row:
    """One route: how to call it against the victim's resources, and the status per role."""

    call: Caller
    expect: dict[str, int]
    missing: Caller | None = None  # the same call with an id that does not exist
    leaked: Callable[[Victim, Any], bool] | None = None  # whether a 2xx body shows the victim's things


def everyone(status: int) -> dict[str, int]:
    """Every signed-in role gets ``status``; nobody gets 401."""
    return {"anonymous": 401, **{role: status for role in ACCOUNTS}}


def roles(**statuses: int) -> dict[str, int]:
    """Statuses of the signed-in roles; nobody gets 401."""
    assert set(statuses) == set(ACCOUNTS)
    return {"anonymous": 401, **statuses}


def zip_file() -> dict[str, tuple[str, io.BytesIO, str]]:
    """A file that is not a bundle zip (a deploy that must be refused, changing nothing)."""
    return {"file": ("bundle.zip", io.BytesIO(b"not a zip at all"), "application/zip")}


def case_listed(victim: Victim, body: Any) -> bool:
    """Whether a case page shows the victim's case."""
    return any(item["id"] == victim.case_id for item in body["items"])


def task_listed(victim: Victim, body: Any) -> bool:
    """Whether a queue page shows the victim's task."""
    return any(item["id"] == victim.task_id for item in body["items"])


def complaint_listed(victim: Victim, body: Any) -> bool:
    """Whether a list of complaints shows the victim's complaint."""
    return any(item["id"] == victim.complaint_id for item in body)


def rectification_listed(victim: Victim, body: Any) -> bool:
    """Whether a list of rectifications shows the one the victim's bad rating opened."""
    return any(item["id"] == victim.rectification_id for item in body)


def message_listed(victim: Victim, body: Any) -> bool:
    """Whether a message list shows one of the victim's notifications."""
    return any(item["id"] == victim.message_id for item in body["items"])


def draft_listed(_victim: Victim, body: Any) -> bool:
    """Whether a draft list shows the victim's school-enrollment draft (the caller saved none)."""
    return any(item["bundle"] == "school-enrollment" for item in body)


def get(path: str) -> Caller:
    """A GET of a path template filled from the victim."""
    return lambda v, _role: Call("GET", path.format(v=v, missing=MISSING_ID))


def post(path: str, body: Any = None) -> Caller:
    """A JSON POST of a path template filled from the victim."""
    return lambda v, _role: Call("POST", path.format(v=v, missing=MISSING_ID), json=body)


def put(path: str, body: Any = None) -> Caller:
    """A JSON PUT of a path template filled from the victim."""
    return lambda v, _role: Call("PUT", path.format(v=v, missing=MISSING_ID), json=body)


def delete(path: str) -> Caller:
    """A DELETE of a path template filled from the victim."""
    return lambda v, _role: Call("DELETE", path.format(v=v, missing=MISSING_ID))


COMPLETE = {"outcome": "approve", "data": {"household_verified": True}, "comment": "x"}
RATING = {"score": 1, "comment": "x"}
SEND_BACK = {"target": "no-such-step", "reason": "x"}
SUPPLEMENT = {"data": {"guardian_phone": "13900000000"}, "materials": {}}
COMPLAINT_TEXT = (
    "户籍核验拖了一周没人理"  # applicant2's complaint: only they, supervisors and analysts read it
)
REPLY = {"reply": "已督促办理"}
RESOLVE = {"note": "已约谈经办人"}
# A well-formed certificate number that names none: the victim's cases issued no certificate.
NO_CERTIFICATE = "DZZZ2025030300000099ABCD"
# Review steps on the shipped, published version: no step applies to it (409) for an analyst.
VERSION = "/api/bundles/school-enrollment/versions/1"
ANALYSTS = {"applicant": 403, "clerk": 403, "analyst": 409, "admin": 409, "system": 403}
APPLICANTS_OWN = {"applicant": 404, "clerk": 403, "analyst": 403, "admin": 403, "system": 403}
# Version migration: a plan or run id naming none is 404 to analysts and admins, 403 to every other role.
MIGRATION = "/api/bundles/school-enrollment/migrations/{missing}"
MIGRATION_RUN = "/api/bundles/school-enrollment/migration-runs/{missing}"
MIGRATORS = {"applicant": 403, "clerk": 403, "analyst": 404, "admin": 404, "system": 403}
MIGRATORS_SEE = {"applicant": 403, "clerk": 403, "analyst": 200, "admin": 200, "system": 403}
ET = "/engine-rest/external-task"
# A fetch of the victim's department's topic: a system of another department gets nothing.
FETCH = {
    "workerId": "matrix",
    "maxTasks": 10,
    "topics": [{"topicName": "public-security", "lockDuration": 60000}],
}
WORKER = {"workerId": "matrix"}
# /engine-rest: the worker's calls are the system account's alone; an admin may look and repair.
# The victim's task is a clerk's, not an external task: it does not exist for /engine-rest.
SYSTEM_WORKS = {"applicant": 403, "clerk": 403, "analyst": 403, "admin": 403, "system": 404}
SYSTEM_OR_ADMIN = {"applicant": 403, "clerk": 403, "analyst": 403, "admin": 404, "system": 404}

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/healthz"): Row(get("/healthz"), {"anonymous": 200, **{r: 200 for r in ACCOUNTS}}),
    ("POST", "/api/auth/token"): Row(
        # Signing in as the victim with a wrong password: refused alike for every caller (the
        # system tries the victim department's system account: five tries of one account are
        # all the sign-in throttle lets through before it answers 429).
        lambda v, r: Call(
            "POST",
            "/api/auth/token",
            data={
                "username": "system.public-security" if r == "system" else "applicant2",
                "password": "wrong-one",
            },
        ),
        {"anonymous": 401, **{r: 401 for r in ACCOUNTS}},
    ),
    ("GET", "/api/auth/me"): Row(get("/api/auth/me"), everyone(200)),
    ("GET", "/api/bundles"): Row(get("/api/bundles"), everyone(200)),
    ("GET", "/api/bundles/{key}"): Row(get("/api/bundles/school-enrollment"), everyone(200)),
    ("GET", "/api/bundles/{key}/diagram"): Row(get("/api/bundles/school-enrollment/diagram"), everyone(200)),
    ("POST", "/api/bundles"): Row(
        lambda v, _r: Call("POST", "/api/bundles", files=zip_file()),
        roles(applicant=403, clerk=403, analyst=422, admin=422, system=403),
    ),
    ("POST", "/api/materials"): Row(
        lambda v, r: Call(
            "POST",
            "/api/materials",
            data={"kind": "birth_certificate"},
            files={"file": ("b.pdf", io.BytesIO(pdf(f"matrix:{r}")), "application/pdf")},
        ),
        # A window clerk uploads what an applicant brings (异地代收); it stays the clerk's until
        # an application received for the applicant names it.
        roles(applicant=201, clerk=201, analyst=403, admin=403, system=403),
    ),
    ("GET", "/api/materials/{material_id}"): Row(
        get("/api/materials/{v.material_id}"),
        roles(applicant=404, clerk=403, analyst=403, admin=403, system=403),
        missing=get("/api/materials/mat_missing"),
    ),
    ("GET", "/api/materials/{material_id}/content"): Row(
        get("/api/materials/{v.material_id}/content"),
        roles(applicant=404, clerk=403, analyst=403, admin=403, system=403),
        missing=get("/api/materials/mat_missing/content"),
    ),
    ("POST", "/api/cases"): Row(
        # An application that names the victim's material: it is not the caller's to attach.
        lambda v, _r: Call(
            "POST",
            "/api/cases",
            json={
                "bundle": "school-enrollment",
                "data": {},
                "materials": {"birth_certificate": v.material_id},
            },
        ),
        # A clerk may receive an application for an applicant (异地代收): the victim's material is
        # still not one it may attach (422, as for an applicant), nothing is made.
        roles(applicant=422, clerk=422, analyst=403, admin=403, system=403),
    ),
    ("GET", "/api/cases"): Row(get("/api/cases?limit=200"), everyone(200), leaked=case_listed),
    ("GET", "/api/cases/{case_id}"): Row(
        get("/api/cases/{v.case_id}"),
        roles(applicant=404, clerk=404, analyst=200, admin=200, system=404),
        missing=get("/api/cases/{missing}"),
    ),
    ("POST", "/api/cases/{case_id}/supplement"): Row(
        post("/api/cases/{v.case_id}/supplement", SUPPLEMENT),
        roles(applicant=404, clerk=403, analyst=403, admin=403, system=403),
        missing=post("/api/cases/{missing}/supplement", SUPPLEMENT),
    ),
    ("POST", "/api/cases/{case_id}/withdraw"): Row(
        post("/api/cases/{v.case_id}/withdraw"),
        roles(applicant=404, clerk=403, analyst=403, admin=403, system=403),
        missing=post("/api/cases/{missing}/withdraw"),
    ),
    # 挂起/恢复: supervisors and admins only; the admin (who sees every case) is sent a blank
    # reason (422) and asks to resume a running case (409), so the victim's case stays running.
    ("POST", "/api/cases/{case_id}/suspend"): Row(
        post("/api/cases/{v.case_id}/suspend", {"reason": " ", "legal_basis": " "}),
        roles(applicant=403, clerk=404, analyst=403, admin=422, system=403),
        missing=post("/api/cases/{missing}/suspend", {"reason": " ", "legal_basis": " "}),
    ),
    ("POST", "/api/cases/{case_id}/resume"): Row(
        post("/api/cases/{v.case_id}/resume", {}),
        roles(applicant=403, clerk=404, analyst=403, admin=409, system=403),
        missing=post("/api/cases/{missing}/resume", {}),
    ),
    ("POST", "/api/cases/{case_id}/rating"): Row(
        post("/api/cases/{v.case_id}/rating", RATING),
        roles(applicant=404, clerk=403, analyst=403, admin=403, system=403),
        missing=post("/api/cases/{missing}/rating", RATING),
    ),
    ("POST", "/api/complaints"): Row(
        # A complaint on the victim's case: not the caller's case to complain about.
        lambda v, _r: Call("POST", "/api/complaints", json={"case_id": v.case_id, "text": "x"}),
        roles(applicant=404, clerk=403, analyst=403, admin=403, system=403),
        missing=post("/api/complaints", {"case_id": MISSING_ID, "text": "x"}),
    ),
    ("GET", "/api/complaints"): Row(
        get("/api/complaints"),
        roles(applicant=200, clerk=403, analyst=403, admin=403, system=403),
        leaked=complaint_listed,
    ),
    ("POST", "/api/complaints/{complaint_id}/answer"): Row(
        # Only supervisors of its department answer it; an admin may answer any.
        post("/api/complaints/{v.complaint_id}/answer", REPLY),
        roles(applicant=403, clerk=403, analyst=403, admin=200, system=403),
        missing=post("/api/complaints/{missing}/answer", REPLY),
    ),
    ("GET", "/api/rectifications"): Row(
        get("/api/rectifications"),
        roles(applicant=403, clerk=200, analyst=200, admin=200, system=403),
        leaked=rectification_listed,
    ),
    ("POST", "/api/rectifications/{rectification_id}/reply"): Row(
        post("/api/rectifications/{v.rectification_id}/reply", REPLY),
        roles(applicant=403, clerk=404, analyst=403, admin=200, system=403),
        missing=post("/api/rectifications/{missing}/reply", REPLY),
    ),
    ("GET", "/api/supervision"): Row(
        get("/api/supervision"), roles(applicant=403, clerk=403, analyst=200, admin=200, system=403)
    ),
    ("POST", "/api/supervision/{entry_id}/resolve"): Row(
        # The entry is the complaint's: an admin may see it, but a complaint closes by its answer.
        post("/api/supervision/{v.entry_id}/resolve", RESOLVE),
        roles(applicant=403, clerk=403, analyst=403, admin=409, system=403),
        missing=post("/api/supervision/{missing}/resolve", RESOLVE),
    ),
    ("GET", "/api/tasks"): Row(
        get("/api/tasks?limit=200"),
        roles(applicant=403, clerk=200, analyst=200, admin=200, system=403),
        leaked=task_listed,
    ),
    ("GET", "/api/tasks/{task_id}"): Row(
        get("/api/tasks/{v.task_id}"),
        roles(applicant=403, clerk=404, analyst=200, admin=200, system=403),
        missing=get("/api/tasks/{missing}"),
    ),
    ("GET", "/api/tasks/{task_id}/materials/{kind}"): Row(
        get("/api/tasks/{v.task_id}/materials/birth_certificate"),
        roles(applicant=403, clerk=404, analyst=200, admin=200, system=404),
        missing=get("/api/tasks/{missing}/materials/birth_certificate"),
    ),
    ("POST", "/api/tasks/{task_id}/claim"): Row(
        post("/api/tasks/{v.task_id}/claim"),
        roles(applicant=403, clerk=404, analyst=403, admin=403, system=403),
        missing=post("/api/tasks/{missing}/claim"),
    ),
    ("POST", "/api/tasks/{task_id}/unclaim"): Row(
        post("/api/tasks/{v.task_id}/unclaim"),
        roles(applicant=403, clerk=404, analyst=403, admin=403, system=403),
        missing=post("/api/tasks/{missing}/unclaim"),
    ),
    ("POST", "/api/tasks/{task_id}/complete"): Row(
        post("/api/tasks/{v.task_id}/complete", COMPLETE),
        roles(applicant=403, clerk=404, analyst=403, admin=403, system=403),
        missing=post("/api/tasks/{missing}/complete", COMPLETE),
    ),
    # Send-back: the task's office's clerks and supervisors; the victim's task is not the callers'.
    ("GET", "/api/tasks/{task_id}/send-back-targets"): Row(
        get("/api/tasks/{v.task_id}/send-back-targets"),
        roles(applicant=403, clerk=404, analyst=403, admin=403, system=403),
        missing=get("/api/tasks/{missing}/send-back-targets"),
    ),
    ("POST", "/api/tasks/{task_id}/send-back"): Row(
        post("/api/tasks/{v.task_id}/send-back", SEND_BACK),
        roles(applicant=403, clerk=404, analyst=403, admin=403, system=403),
        missing=post("/api/tasks/{missing}/send-back", SEND_BACK),
    ),
    # Moves: supervisors and admins (a plain clerk never: 403); no step of the case is named
    # "no-such-step", so the admin, who may, is refused with 422 and the case stays put.
    ("GET", "/api/cases/{case_id}/move-targets"): Row(
        get("/api/cases/{v.case_id}/move-targets"),
        roles(applicant=403, clerk=403, analyst=403, admin=200, system=403),
        missing=get("/api/cases/{missing}/move-targets"),
    ),
    ("POST", "/api/cases/{case_id}/move"): Row(
        post("/api/cases/{v.case_id}/move", SEND_BACK),
        roles(applicant=403, clerk=403, analyst=403, admin=422, system=403),
        missing=post("/api/cases/{missing}/move", SEND_BACK),
    ),
    # Hand-overs (转办, 委托, release) and bulk actions: clerks of the task's office (and their
    # supervisors, admins in scope); the victim's task is ready, so an admin's reassign is a 409.
    ("GET", "/api/tasks/{task_id}/clerks"): Row(
        get("/api/tasks/{v.task_id}/clerks"),
        roles(applicant=403, clerk=404, analyst=403, admin=200, system=403),
        missing=get("/api/tasks/{missing}/clerks"),
    ),
    ("POST", "/api/tasks/{task_id}/reassign"): Row(
        post(
            "/api/tasks/{v.task_id}/reassign",
            {"to": "clerk.public-security", "reason": "x", "expected": "clerk.public-security"},
        ),
        roles(applicant=403, clerk=404, analyst=403, admin=409, system=403),
        missing=post(
            "/api/tasks/{missing}/reassign",
            {"to": "clerk.public-security", "reason": "x", "expected": "clerk.public-security"},
        ),
    ),
    ("POST", "/api/tasks/{task_id}/delegate"): Row(
        post("/api/tasks/{v.task_id}/delegate", {"to": "clerk.public-security", "note": "x"}),
        roles(applicant=403, clerk=404, analyst=403, admin=403, system=403),
        missing=post("/api/tasks/{missing}/delegate", {"to": "clerk.public-security", "note": "x"}),
    ),
    ("POST", "/api/clerks/{username}/release"): Row(
        # The victim's account is an education clerk holding nothing: an admin releases none.
        post("/api/clerks/{v.target_account}/release"),
        roles(applicant=403, clerk=404, analyst=403, admin=200, system=403),
        missing=post("/api/clerks/no.such.account/release"),
    ),
    ("POST", "/api/tasks/bulk"): Row(
        # A clerk's bulk claim of the victim's task: answered per task (refused, as for no task).
        lambda v, _r: Call("POST", "/api/tasks/bulk", json={"action": "claim", "tasks": [v.task_id]}),
        roles(applicant=403, clerk=200, analyst=403, admin=403, system=403),
        leaked=lambda v, body: any(r["status"] == "ok" for r in body["results"]),
    ),
    ("GET", "/api/analytics/bottlenecks"): Row(
        get("/api/analytics/bottlenecks"), roles(applicant=403, clerk=403, analyst=200, admin=200, system=403)
    ),
    ("GET", "/api/analytics/departments"): Row(
        get("/api/analytics/departments"), roles(applicant=403, clerk=403, analyst=200, admin=200, system=403)
    ),
    ("GET", "/api/analytics/reductions"): Row(
        get("/api/analytics/reductions"), roles(applicant=403, clerk=403, analyst=200, admin=200, system=403)
    ),
    ("GET", "/api/analytics/offices"): Row(
        get("/api/analytics/offices"), roles(applicant=403, clerk=403, analyst=200, admin=200, system=403)
    ),
    ("GET", "/api/analytics/pre-review"): Row(
        get("/api/analytics/pre-review"), roles(applicant=403, clerk=403, analyst=200, admin=200, system=403)
    ),
    # Divisions: read by every signed-in account, edited by admins (in their scope): an existing
    # code (409), a division's own name again (200), an office opened, an office id of none (404).
    ("GET", "/api/divisions"): Row(get("/api/divisions"), everyone(200)),
    ("GET", "/api/divisions/{code}"): Row(
        get("/api/divisions/310101"), everyone(200), missing=get("/api/divisions/310199")
    ),
    ("POST", "/api/divisions"): Row(
        post(
            "/api/divisions",
            {"code": "310101", "name": {"zh": "黄浦区"}, "level": "county", "parent": "310000"},
        ),
        roles(applicant=403, clerk=403, analyst=403, admin=409, system=403),
    ),
    ("PATCH", "/api/divisions/{code}"): Row(
        lambda v, _r: Call("PATCH", "/api/divisions/310151", json={"name": {"zh": "崇明区"}}),
        roles(applicant=403, clerk=403, analyst=403, admin=200, system=403),
    ),
    ("GET", "/api/offices"): Row(
        get("/api/offices"), roles(applicant=403, clerk=200, analyst=200, admin=200, system=403)
    ),
    ("POST", "/api/offices"): Row(
        # An office at 崇明区, where none of the victim's cases goes.
        post("/api/offices", {"department": "market-regulation", "division": "310151"}),
        roles(applicant=403, clerk=403, analyst=403, admin=201, system=403),
    ),
    ("PATCH", "/api/offices/{office_id}"): Row(
        lambda v, _r: Call("PATCH", "/api/offices/987654320", json={"phone": "021-00000000"}),
        roles(applicant=403, clerk=403, analyst=403, admin=404, system=403),
    ),
    ("GET", "/api/accounts"): Row(
        get("/api/accounts"), roles(applicant=403, clerk=403, analyst=403, admin=200, system=403)
    ),
    ("POST", "/api/accounts"): Row(
        lambda v, r: Call(
            "POST",
            "/api/accounts",
            json={
                "username": f"made.by.{r}.{uuid.uuid4().hex[:6]}",
                "password": "a-long-passphrase",
                "role": "applicant",
            },
        ),
        roles(applicant=403, clerk=403, analyst=403, admin=201, system=403),
    ),
    ("GET", "/api/accounts/{username}"): Row(
        get("/api/accounts/{v.target_account}"),
        roles(applicant=403, clerk=403, analyst=403, admin=200, system=403),
    ),
    ("PATCH", "/api/accounts/{username}"): Row(
        lambda v, _r: Call("PATCH", f"/api/accounts/{v.target_account}", json={"display_name": "改名"}),
        roles(applicant=403, clerk=403, analyst=403, admin=200, system=403),
    ),
    # Webhooks: admins only. No webhook of the victim's: the admin's calls find nothing (404).
    ("GET", "/api/webhooks"): Row(
        get("/api/webhooks"), roles(applicant=403, clerk=403, analyst=403, admin=200, system=403)
    ),
    ("POST", "/api/webhooks"): Row(
        post("/api/webhooks", {"url": "https://example.org/matrix", "active": False}),
        roles(applicant=403, clerk=403, analyst=403, admin=201, system=403),
    ),
    ("GET", "/api/webhooks/{webhook_id}"): Row(
        get("/api/webhooks/{missing}"), roles(applicant=403, clerk=403, analyst=403, admin=404, system=403)
    ),
    ("PATCH", "/api/webhooks/{webhook_id}"): Row(
        lambda _v, _r: Call("PATCH", f"/api/webhooks/{MISSING_ID}", json={"active": False}),
        roles(applicant=403, clerk=403, analyst=403, admin=404, system=403),
    ),
    ("DELETE", "/api/webhooks/{webhook_id}"): Row(
        lambda _v, _r: Call("DELETE", f"/api/webhooks/{MISSING_ID}"),
        roles(applicant=403, clerk=403, analyst=403, admin=404, system=403),
    ),
    ("POST", "/api/webhooks/{webhook_id}/secret"): Row(
        post("/api/webhooks/{missing}/secret", {}),
        roles(applicant=403, clerk=403, analyst=403, admin=404, system=403),
    ),
    ("GET", "/api/webhooks/{webhook_id}/deliveries"): Row(
        get("/api/webhooks/{missing}/deliveries"),
        roles(applicant=403, clerk=403, analyst=403, admin=404, system=403),
    ),
    ("POST", "/api/webhooks/{webhook_id}/deliveries/replay-dead"): Row(
        post("/api/webhooks/{missing}/deliveries/replay-dead"),
        roles(applicant=403, clerk=403, analyst=403, admin=404, system=403),
    ),
    ("POST", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/replay"): Row(
        post("/api/webhooks/{missing}/deliveries/{missing}/replay"),
        roles(applicant=403, clerk=403, analyst=403, admin=404, system=403),
    ),
    ("GET", "/api/incidents"): Row(
        get("/api/incidents"), roles(applicant=403, clerk=403, analyst=403, admin=200, system=403)
    ),
    ("POST", "/api/tasks/{task_id}/handover"): Row(
        # Only an external task is handed to a clerk: the victim's clerk task is none.
        post("/api/tasks/{v.task_id}/handover", {"reason": "x"}),
        roles(applicant=403, clerk=404, analyst=403, admin=404, system=403),
        missing=post("/api/tasks/{missing}/handover", {"reason": "x"}),
    ),
    ("POST", "/engine-rest/external-task/fetchAndLock"): Row(
        post(f"{ET}/fetchAndLock", FETCH),
        roles(applicant=403, clerk=403, analyst=403, admin=403, system=200),
        leaked=lambda v, body: bool(body),
    ),
    ("GET", "/engine-rest/external-task"): Row(
        get(ET),
        roles(applicant=403, clerk=403, analyst=403, admin=200, system=200),
        leaked=lambda v, body: any(t["id"] == str(v.task_id) for t in body),
    ),
    ("GET", "/engine-rest/external-task/count"): Row(
        get(f"{ET}/count"), roles(applicant=403, clerk=403, analyst=403, admin=200, system=200)
    ),
    ("GET", "/engine-rest/external-task/{task_id}"): Row(
        get(ET + "/{v.task_id}"), roles(**SYSTEM_OR_ADMIN), missing=get(ET + "/{missing}")
    ),
    ("GET", "/engine-rest/external-task/{task_id}/errorDetails"): Row(
        get(ET + "/{v.task_id}/errorDetails"),
        roles(**SYSTEM_OR_ADMIN),
        missing=get(ET + "/{missing}/errorDetails"),
    ),
    ("POST", "/engine-rest/external-task/{task_id}/complete"): Row(
        post(ET + "/{v.task_id}/complete", WORKER),
        roles(**SYSTEM_WORKS),
        missing=post(ET + "/{missing}/complete", WORKER),
    ),
    ("POST", "/engine-rest/external-task/{task_id}/failure"): Row(
        post(ET + "/{v.task_id}/failure", WORKER),
        roles(**SYSTEM_WORKS),
        missing=post(ET + "/{missing}/failure", WORKER),
    ),
    ("POST", "/engine-rest/external-task/{task_id}/bpmnError"): Row(
        post(ET + "/{v.task_id}/bpmnError", {**WORKER, "errorCode": "X"}),
        roles(**SYSTEM_WORKS),
        missing=post(ET + "/{missing}/bpmnError", {**WORKER, "errorCode": "X"}),
    ),
    ("POST", "/engine-rest/external-task/{task_id}/extendLock"): Row(
        post(ET + "/{v.task_id}/extendLock", {**WORKER, "newDuration": 1000}),
        roles(**SYSTEM_WORKS),
        missing=post(ET + "/{missing}/extendLock", {**WORKER, "newDuration": 1000}),
    ),
    ("POST", "/engine-rest/external-task/{task_id}/unlock"): Row(
        post(ET + "/{v.task_id}/unlock"), roles(**SYSTEM_OR_ADMIN), missing=post(ET + "/{missing}/unlock")
    ),
    ("PUT", "/engine-rest/external-task/{task_id}/retries"): Row(
        put(ET + "/{v.task_id}/retries", {"retries": 3}),
        roles(**SYSTEM_OR_ADMIN),
        missing=put(ET + "/{missing}/retries", {"retries": 3}),
    ),
    ("GET", "/api/bundles/{key}/guide"): Row(
        get("/api/bundles/school-enrollment/guide"), everyone(200), missing=get("/api/bundles/no-such/guide")
    ),
    # Four-eyes review of bundle versions: analysts and admins only.
    ("GET", "/api/bundles/{key}/versions"): Row(
        get("/api/bundles/school-enrollment/versions"),
        roles(applicant=403, clerk=403, analyst=200, admin=200, system=403),
    ),
    ("POST", "/api/bundles/{key}/versions/{version}/submit"): Row(
        post(f"{VERSION}/submit"), roles(**ANALYSTS)
    ),
    ("POST", "/api/bundles/{key}/versions/{version}/publish"): Row(
        post(f"{VERSION}/publish"), roles(**ANALYSTS)
    ),
    ("POST", "/api/bundles/{key}/versions/{version}/return"): Row(
        post(f"{VERSION}/return", {"note": "请补充说明"}), roles(**ANALYSTS)
    ),
    ("POST", "/api/bundles/{key}/versions/{version}/withdraw"): Row(
        post(f"{VERSION}/withdraw"), roles(**ANALYSTS)
    ),
    # Version migration: analysts and admins only; no plan or run is the victim's (numbers naming none).
    ("GET", "/api/bundles/{key}/version-cases"): Row(
        get("/api/bundles/school-enrollment/version-cases"), roles(**MIGRATORS_SEE)
    ),
    ("POST", "/api/bundles/{key}/migrations"): Row(
        post("/api/bundles/school-enrollment/migrations", {"from_version": 1, "to_version": 99999}),
        roles(**MIGRATORS),
    ),
    ("GET", "/api/bundles/{key}/migrations/{plan_id}"): Row(get(f"{MIGRATION}"), roles(**MIGRATORS)),
    ("POST", "/api/bundles/{key}/migrations/{plan_id}/validate"): Row(
        post(f"{MIGRATION}/validate"), roles(**MIGRATORS)
    ),
    ("POST", "/api/bundles/{key}/migrations/{plan_id}/dry-run"): Row(
        post(f"{MIGRATION}/dry-run", {}), roles(**MIGRATORS)
    ),
    ("POST", "/api/bundles/{key}/migrations/{plan_id}/runs"): Row(
        post(f"{MIGRATION}/runs", {}), roles(**MIGRATORS)
    ),
    ("GET", "/api/bundles/{key}/migration-runs/{run_id}"): Row(get(f"{MIGRATION_RUN}"), roles(**MIGRATORS)),
    ("POST", "/api/bundles/{key}/migration-runs/{run_id}/resume"): Row(
        post(f"{MIGRATION_RUN}/resume"), roles(**MIGRATORS)
    ),
    # Drafts are their applicant's own: applicant2's draft is applicant1's "no draft" (404).
    ("GET", "/api/drafts"): Row(
        get("/api/drafts"),
        roles(applicant=200, clerk=403, analyst=403, admin=403, system=403),
        leaked=draft_listed,
    ),
    ("GET", "/api/drafts/{key}"): Row(
        get("/api/drafts/school-enrollment"), roles(**APPLICANTS_OWN), missing=get("/api/drafts/no-such")
    ),
    ("DELETE", "/api/drafts/{key}"): Row(
        delete("/api/drafts/school-enrollment"),
        roles(**APPLICANTS_OWN),
        missing=delete("/api/drafts/no-such"),
    ),
    ("PUT", "/api/drafts/{key}"): Row(
        # The caller's own draft of another bundle: saved, applicant2's draft untouched.
        put("/api/drafts/newborn-birth", {"data": {}, "materials": {}}),
        roles(applicant=200, clerk=403, analyst=403, admin=403, system=403),
    ),
    # Documents: the receipt and certificates of a case are for whoever may read the case.
    ("GET", "/api/cases/{case_id}/receipt"): Row(
        get("/api/cases/{v.case_id}/receipt"),
        roles(applicant=404, clerk=404, analyst=200, admin=200, system=404),
        missing=get("/api/cases/{missing}/receipt"),
    ),
    ("GET", "/api/cases/{case_id}/outputs/{kind}"): Row(
        # The running case issued nothing yet: 404 even to those who may read it.
        get("/api/cases/{v.case_id}/outputs/business_license"),
        roles(applicant=404, clerk=404, analyst=404, admin=404, system=404),
        missing=get("/api/cases/{missing}/outputs/business_license"),
    ),
    ("GET", "/api/certificates/{number}"): Row(
        # Public verification: anyone, signed in or not; an unknown number is a 404.
        get(f"/api/certificates/{NO_CERTIFICATE}"),
        {"anonymous": 404, **{r: 404 for r in ACCOUNTS}},
    ),
    ("POST", "/api/certificates/{number}/revoke"): Row(
        # Admins and the issuing department's supervisors (a plain clerk is none: 403).
        post(f"/api/certificates/{NO_CERTIFICATE}/revoke", {"reason": "依法吊销"}),
        roles(applicant=403, clerk=403, analyst=403, admin=404, system=403),
    ),
    # Messages are their recipient's own: every caller lists and reads only theirs.
    ("GET", "/api/messages"): Row(get("/api/messages"), everyone(200), leaked=message_listed),
    ("GET", "/api/messages/unread-count"): Row(get("/api/messages/unread-count"), everyone(200)),
    ("POST", "/api/messages/read-all"): Row(post("/api/messages/read-all"), everyone(200)),
    ("POST", "/api/messages/{message_id}/read"): Row(
        post("/api/messages/{v.message_id}/read"), everyone(404), missing=post("/api/messages/{missing}/read")
    ),
    ("POST", "/engine-rest/message"): Row(
        # A message nothing waits for: Camunda's 400, the same for every id.
        post("/engine-rest/message", {"messageName": "matrix-nothing-waits"}),
        roles(applicant=403, clerk=403, analyst=403, admin=400, system=400),
    ),
}


def api_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the app but the pages, the OpenAPI document and the docs."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(create_app().routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # the OpenAPI document, the docs and the static files are plain Starlette routes
        if isinstance(route, PageRoute) and not (context.path or "").startswith("/api"):
            continue  # the HTML pages (their own tests walk them in a browser)
        found.update(
            (method, context.path or route.path) for method in (route.methods or set()) - {"HEAD", "OPTIONS"}
        )
    return found


@pytest.fixture(scope="module")
def matrix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own: the matrix creates and changes accounts."""
    with sqlite_server(tmp_path_factory.mktemp("matrix")) as running:
        yield running


def finished_case_feedback(server: LiveServer, example: dict[str, Any]) -> tuple[int, int, int]:
    """A second case of applicant2, worked to its end, rated 2 for public security and complained
    about: the complaint's id, its supervisor-queue entry's id and the rectification's id."""
    with server.as_user("applicant2") as owner:
        started = apply(owner, "school-enrollment", example, "matrix-victim-finished")
        assert started.status_code == 201, started.text
        case_id = started.json()["id"]
        departments = owner.get("/api/bundles/school-enrollment").json()["departments"]
        work_case(server, case_id, "school-enrollment", departments, example["decisions"])
        rated = owner.post(f"/api/cases/{case_id}/rating", json={"score": 2, "department": "public-security"})
        assert rated.status_code == 201, rated.text
        complained = owner.post(
            "/api/complaints",
            json={"case_id": case_id, "text": COMPLAINT_TEXT, "department": "public-security"},
        )
        assert complained.status_code == 201, complained.text
    complaint_id = complained.json()["id"]
    with server.as_user("supervisor.public-security") as supervisor:
        queue = supervisor.get("/api/supervision").json()
    (entry,) = [e for e in queue if e["subject"] == "complaint" and e["subject_id"] == complaint_id]
    return complaint_id, entry["id"], rated.json()["rectification"]["id"]


@pytest.fixture(scope="module")
def victim(matrix_server: LiveServer) -> Victim:
    """applicant2's running school-enrollment case, its open public-security task, a material, and
    the complaint, supervisor entry and rectification of a second, finished case."""
    return plant_victim(matrix_server)


def plant_victim(matrix_server: LiveServer) -> Victim:
    """What ``victim`` holds, made on any server (tests/security plants the same resources)."""
    with matrix_server.as_user("applicant2") as owner:
        shipped = bundle_example(owner, "school-enrollment", 0)
        # Data of this applicant alone (the shipped example itself is public in the bundle detail).
        private = {"child_name": "欧阳知秋", "guardian_name": "欧阳澈", "guardian_phone": "13700451296"}
        example = {**shipped, "data": {**shipped["data"], **private}}
        started = apply(owner, "school-enrollment", example, "matrix-victim")
        assert started.status_code == 201, started.text
        case = started.json()
        material = upload(owner, "birth_certificate", pdf("matrix-victim:spare"))
        # A draft of a second application, with the same private answers.
        drafted = owner.put("/api/drafts/school-enrollment", json={"data": private, "materials": {}})
        assert drafted.status_code == 200, drafted.text
    complaint_id, entry_id, rectification_id = finished_case_feedback(matrix_server, example)
    with matrix_server.as_user("applicant2") as owner:
        messages = owner.get("/api/messages").json()["items"]
    assert messages, "the victim's cases sent applicant2 no message"
    with matrix_server.as_user("clerk.public-security") as police:
        (task,) = open_tasks_of(police, case["id"], "school-enrollment")
    with matrix_server.as_user("admin") as admin:
        target = admin.post(
            "/api/accounts",
            json={
                "username": "matrix.target",
                "password": "a-long-passphrase",
                "role": "clerk",
                "departments": ["education"],
            },
        )
        assert target.status_code == 201, target.text
    secrets = (*private.values(), material["sha256"], COMPLAINT_TEXT)
    return Victim(
        case["id"],
        task["id"],
        material["id"],
        secrets,
        "matrix.target",
        complaint_id,
        entry_id,
        rectification_id,
        messages[0]["id"],
    )


def send(client: httpx.Client, call: Call) -> httpx.Response:
    """Send one call."""
    return client.request(call.method, call.path, json=call.json, data=call.data, files=call.files)


def test_every_route_of_the_app_is_in_the_matrix() -> None:
    routes = api_routes()
    assert len(routes) >= 20
    unplaced = sorted(routes - set(MATRIX))
    assert not unplaced, f"routes missing from the authorisation matrix: {unplaced}"
    stale = sorted(set(MATRIX) - routes)
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"
    for row in MATRIX.values():
        assert set(row.expect) == set(ROLES)


def test_no_role_sees_or_changes_what_is_not_its_own(matrix_server: LiveServer, victim: Victim) -> None:
    clients = {"anonymous": matrix_server.client()}
    clients.update({role: matrix_server.as_user(name) for role, name in ACCOUNTS.items()})
    entitled = {"analyst", "admin"}  # may read every case; they see the data by design
    wrong: list[str] = []
    try:
        for (method, path), row in MATRIX.items():
            for role in ROLES:
                call = row.call(victim, role)
                answer = send(clients[role], call)
                label = f"{role:<9} {method} {path}"
                if answer.status_code != row.expect[role]:
                    wrong.append(
                        f"{label}: {answer.status_code} (expected {row.expect[role]}) {answer.text[:200]}"
                    )
                    continue
                if "Traceback" in answer.text or not answer.headers.get("X-Request-ID"):
                    wrong.append(f"{label}: a traceback or no request id")
                if role not in entitled and any(secret in answer.text for secret in victim.secrets):
                    wrong.append(f"{label}: the answer shows applicant2's data")
                listed = answer.status_code < 300 and row.leaked is not None and role not in entitled
                if listed and row.leaked is not None and row.leaked(victim, answer.json()):
                    wrong.append(f"{label}: lists applicant2's resource")
                if answer.status_code >= 400 and path.startswith("/engine-rest"):
                    assert set(answer.json()) == {"type", "message", "code"}, label  # Camunda's
                elif answer.status_code >= 400:
                    detail = answer.json()["detail"]
                    assert isinstance(detail, str | list), label
                if answer.status_code in (403, 404) and row.missing is not None:
                    # The resource of another and a resource that does not exist answer alike.
                    absent = send(clients[role], row.missing(victim, role))
                    if absent.status_code != answer.status_code:
                        wrong.append(
                            f"{label}: {answer.status_code} for another's id, {absent.status_code} for none"
                        )
        assert not wrong, "\n".join(wrong)
    finally:
        for client in clients.values():
            client.close()

    # Nothing that was refused changed anything: the case still runs, its task is still ready.
    with matrix_server.as_user("applicant2") as owner:
        case = owner.get(f"/api/cases/{victim.case_id}").json()
    assert case["status"] == "running"
    (task,) = [t for t in case["tasks"] if t["id"] == victim.task_id]
    assert task["state"] == "ready" and task["assignee"] is None
    assert {e["actor"] for e in case["timeline"]} <= {"applicant2", "system"}


def test_an_involved_clerk_sees_progress_but_not_the_application(
    matrix_server: LiveServer, victim: Victim
) -> None:
    with matrix_server.as_user("clerk.public-security") as police:
        case = police.get(f"/api/cases/{victim.case_id}")
        assert case.status_code == 200
        assert case.json()["data"] is None and case.json()["materials"] is None
        detail = police.get(f"/api/tasks/{victim.task_id}").json()
        assert "guardian_phone" not in detail["data"]  # not a field of the household check
        assert police.get(f"/api/tasks/{victim.task_id}/materials/lease_registration").status_code == 404
        assert police.get(f"/api/materials/{victim.material_id}").status_code == 403


def test_a_disabled_account_loses_its_token_at_once(matrix_server: LiveServer) -> None:
    with matrix_server.as_user("admin") as admin:
        made = admin.post(
            "/api/accounts",
            json={"username": "matrix.leaver", "password": "a-long-passphrase", "role": "applicant"},
        )
        assert made.status_code == 201, made.text
        token = matrix_server.token("matrix.leaver", "a-long-passphrase")
        with matrix_server.client(token) as leaver:
            assert leaver.get("/api/cases").status_code == 200
            assert admin.patch("/api/accounts/matrix.leaver", json={"active": False}).status_code == 200
            assert leaver.get("/api/cases").status_code == 401
        assert admin.patch("/api/accounts/admin", json={"active": False}).status_code == 403
    with matrix_server.client("not-a-token") as forged:
        refused = forged.get("/api/cases")
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
