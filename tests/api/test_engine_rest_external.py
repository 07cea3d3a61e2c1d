"""/engine-rest/external-task: Camunda 7.20's shapes, status codes and error bodies, endpoint by endpoint.

Through a TestClient against a real SQLite file (``engine_rest_support``). Every answer is
checked field by field against Camunda's DTOs (ExternalTaskDto, LockedExternalTaskDto,
ExceptionDto), and every refusal by its status, exception type and text.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.camunda_values import parse_date
from tests.api.engine_rest_support import (
    BANK,
    BANK_TOPIC,
    CAMUNDA_DATE,
    COMPANY,
    EXTERNAL_TASK_FIELDS,
    LOCKED_FIELDS,
    TAX_DATA,
    Rest,
    rest_app,
)
from tests.api.walking import apply, approve, bundle_example, open_tasks_of
from tests.support.pg import PgCluster

ET = "/engine-rest/external-task"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def rest(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rest]:
    """The app with the test bundles on a fresh database, once on SQLite and once on PostgreSQL."""
    url = None
    if request.param == "postgres":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database()
    with rest_app(tmp_path_factory.mktemp("engine-rest"), url) as running:
        yield running


def camunda_error(response: Any, status: int, kind: str, message: str | None = None) -> dict[str, Any]:
    """Check an answer is Camunda's ExceptionDto with this status and type (and text, when given)."""
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert set(body) == {"type", "message", "code"}, body
    assert body["type"] == kind, body
    if message is not None:
        assert body["message"] == message, body
    return body


def test_fetch_lock_complete_in_camunda_shapes(rest: Rest) -> None:
    case_id = rest.apply()
    code = rest.case(case_id)["code"]
    before = datetime.now(UTC)
    task = rest.lock_task_of(case_id, topic={"includeExtensionProperties": True}, worker="worker-1")

    assert set(task) == LOCKED_FIELDS
    assert task["activityId"] == "Task_open_account"
    assert task["activityInstanceId"].startswith("Task_open_account:")
    assert task["topicName"] == BANK_TOPIC
    assert task["workerId"] == "worker-1"
    assert task["processDefinitionKey"] == BANK
    assert task["processDefinitionId"].startswith(f"{BANK}:1:")
    assert task["processInstanceId"] == str(case_id)
    assert task["businessKey"] == code
    assert (task["retries"], task["errorMessage"], task["errorDetails"]) == (None, None, None)
    assert (task["suspended"], task["tenantId"], task["processDefinitionVersionTag"]) == (False, None, None)
    assert isinstance(task["priority"], int)
    assert task["id"].isdigit() and isinstance(task["executionId"], str)
    for stamp in ("lockExpirationTime", "createTime"):
        assert CAMUNDA_DATE.fullmatch(task[stamp]), task[stamp]
    lock_ends = parse_date(task["lockExpirationTime"])
    assert 55 <= (lock_ends - before).total_seconds() <= 65
    assert task["variables"]["company_name"] == {
        "type": "String",
        "value": COMPANY["company_name"],
        "valueInfo": {},
    }
    assert task["extensionProperties"] == {
        "department": "bank",
        "item": "bank-account-opening",
        "itemName": "银行基本存款账户开立",
        "itemNameEn": "Basic bank account",
        "caseCode": code,
    }
    assert task["materials"] == []

    # Locked: nobody fetches it again while the lock holds.
    again = rest.fetch("system.bank", worker="worker-2")
    assert str(case_id) not in {t["processInstanceId"] for t in again}
    for other in again:
        rest.call("system.bank", "POST", f"{ET}/{other['id']}/unlock")

    # Another worker may not complete it: Camunda's 400 naming the lock holder.
    answer = {
        "workerId": "worker-2",
        "variables": {"bank_account_no": {"value": "1001263409000123456", "type": "String"}},
    }
    refused = rest.call("system.bank", "POST", f"{ET}/{task['id']}/complete", json=answer)
    body = camunda_error(refused, 400, "RestException")
    assert "worker-1" in body["message"]

    answer["workerId"] = "worker-1"
    done = rest.call("system.bank", "POST", f"{ET}/{task['id']}/complete", json=answer)
    assert done.status_code == 204, done.text
    assert done.content == b""
    # Completed: the task is gone from Camunda's view, and the case moved on.
    gone = rest.call("system.bank", "GET", f"{ET}/{task['id']}")
    camunda_error(gone, 404, "RestException", f"External task with id {task['id']} does not exist")
    items = {t["item"]: t for t in rest.case(case_id)["tasks"]}
    opened = items["bank-account-opening"]
    assert (opened["state"], opened["outcome"]) == ("completed", "approve")


def test_fetch_returns_only_the_variables_asked_for(rest: Rest) -> None:
    case_id = rest.apply()
    task = rest.lock_task_of(case_id, topic={"variables": ["bank_name", "not_there"]})
    assert set(task["variables"]) == {"bank_name"}
    assert task["extensionProperties"] is None
    rest.call("system.bank", "POST", f"{ET}/{task['id']}/unlock")


def test_a_topic_business_key_fetches_that_cases_task_alone(rest: Rest) -> None:
    """Camunda's topic ``businessKey``: a system working one case locks no other case's task."""
    first, second = rest.apply(), rest.apply()
    code = rest.case(second)["code"]
    topic = {"topicName": BANK_TOPIC, "lockDuration": 60000, "businessKey": code}
    keyed = {"workerId": "w-key", "maxTasks": 10, "topics": [topic]}
    locked = rest.call("system.bank", "POST", f"{ET}/fetchAndLock", json=keyed)
    assert locked.status_code == 200, locked.text
    assert [t["processInstanceId"] for t in locked.json()] == [str(second)]
    assert locked.json()[0]["businessKey"] == code
    unknown = {**keyed, "topics": [{**topic, "businessKey": "NO-SUCH-CASE"}]}
    assert rest.call("system.bank", "POST", f"{ET}/fetchAndLock", json=unknown).json() == []
    others = rest.fetch("system.bank", worker="w-other")
    assert str(first) in {t["processInstanceId"] for t in others}  # the first case's task stayed free
    for task in [*locked.json(), *others]:
        rest.call("system.bank", "POST", f"{ET}/{task['id']}/unlock")


def test_unknown_and_foreign_ids_are_camunda_404s(rest: Rest) -> None:
    for task_id in ("abc", "987654321", "99999999999999999999"):
        missing = f"External task with id {task_id} does not exist"
        camunda_error(rest.call("system.bank", "GET", f"{ET}/{task_id}"), 404, "RestException", missing)
        complete = rest.call("system.bank", "POST", f"{ET}/{task_id}/complete", json={"workerId": "w"})
        camunda_error(complete, 404, "RestException", missing)
        for action, body in (
            ("failure", {"workerId": "w", "retries": 0}),
            ("bpmnError", {"workerId": "w", "errorCode": "X"}),
            ("extendLock", {"workerId": "w", "newDuration": 1000}),
            ("unlock", None),
        ):
            answer = rest.call("system.bank", "POST", f"{ET}/{task_id}/{action}", json=body)
            camunda_error(answer, 404, "RestException", missing)
        retries = rest.call("system.bank", "PUT", f"{ET}/{task_id}/retries", json={"retries": 1})
        camunda_error(retries, 404, "RestException", missing)
        details = rest.call("system.bank", "GET", f"{ET}/{task_id}/errorDetails")
        camunda_error(details, 404, "RestException", missing)

    # The bank's task is not the tax system's: the same 404 as for a task that does not exist.
    case_id = rest.apply()
    task = rest.lock_task_of(case_id)
    foreign = f"External task with id {task['id']} does not exist"
    camunda_error(rest.call("system.tax", "GET", f"{ET}/{task['id']}"), 404, "RestException", foreign)
    answer = rest.call("system.tax", "POST", f"{ET}/{task['id']}/complete", json={"workerId": "worker-1"})
    camunda_error(answer, 404, "RestException", foreign)
    assert rest.call("system.tax", "GET", ET, params={"processInstanceId": str(case_id)}).json() == []
    rest.call("system.bank", "POST", f"{ET}/{task['id']}/unlock")


def test_a_system_fetching_another_departments_topic_gets_nothing(rest: Rest) -> None:
    case_id = rest.apply("external-tax", TAX_DATA)
    # The market-regulation clerk registers the business first; then the tax system's task waits.
    clerk = "clerk.market-regulation"
    queue = rest.call(clerk, "GET", "/api/tasks", params={"bundle": "external-tax"}).json()["items"]
    (human,) = [t for t in queue if t["case_id"] == case_id]
    assert rest.call(clerk, "POST", f"/api/tasks/{human['id']}/claim").status_code == 200
    decision = {"outcome": "approve", "data": {"uscc": "91350100M000100Y43"}, "comment": ""}
    assert rest.call(clerk, "POST", f"/api/tasks/{human['id']}/complete", json=decision).status_code == 200

    assert str(case_id) not in {t["processInstanceId"] for t in rest.fetch("system.bank", topic_name="tax")}
    task = rest.lock_task_of(case_id, username="system.tax", topic_name="tax", worker="tax-1", lock=30_000)
    assert task["topicName"] == "tax"
    assert task["priority"] == 5  # camunda:taskPriority
    rest.call("system.tax", "POST", f"{ET}/{task['id']}/unlock")


def test_who_may_call_engine_rest(rest: Rest) -> None:
    fetch = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": BANK_TOPIC, "lockDuration": 1000}]}
    nobody = rest.call(None, "POST", f"{ET}/fetchAndLock", json=fetch)
    camunda_error(nobody, 401, "AuthenticationException")
    assert nobody.headers["WWW-Authenticate"] == "Bearer"
    for person in ("applicant1", "clerk.bank", "supervisor.bank", "analyst", "admin"):
        refused = rest.call(person, "POST", f"{ET}/fetchAndLock", json=fetch)
        camunda_error(refused, 403, "AuthorizationException")
    for person in ("applicant1", "clerk.bank", "analyst"):
        camunda_error(rest.call(person, "GET", ET), 403, "AuthorizationException")
        camunda_error(
            rest.call(person, "POST", "/engine-rest/message", json={}), 403, "AuthorizationException"
        )
    # An admin looks and repairs; the system works.
    assert rest.call("admin", "GET", ET).status_code == 200
    assert rest.call("system.bank", "GET", ET).status_code == 200
    # A system account reads nothing meant for people.
    assert rest.call("system.bank", "GET", "/api/tasks").status_code == 403
    assert rest.call("system.bank", "GET", "/api/accounts").status_code == 403
    assert rest.call("system.bank", "GET", "/api/cases").json()["items"] == []


def test_failures_count_down_to_an_incident_set_retries_and_hand_over(rest: Rest) -> None:
    case_id = rest.apply()
    task = rest.lock_task_of(case_id)
    url = f"{ET}/{task['id']}"
    failure = {
        "workerId": "worker-1",
        "errorMessage": "核心系统超时 (core timeout)",
        "errorDetails": "Traceback: ConnectTimeout after 30 s",
        "retries": 1,
        "retryTimeout": 0,
    }
    failed = rest.call("system.bank", "POST", f"{url}/failure", json=failure)
    assert failed.status_code == 204, failed.text
    seen = rest.call("system.bank", "GET", url).json()
    assert set(seen) == EXTERNAL_TASK_FIELDS
    assert (seen["retries"], seen["errorMessage"]) == (1, "核心系统超时 (core timeout)")
    details = rest.call("system.bank", "GET", f"{url}/errorDetails")
    assert details.status_code == 200
    assert details.headers["content-type"].startswith("text/plain")
    assert details.text == "Traceback: ConnectTimeout after 30 s"

    # Retry timeout 0: fetchable again at once; failing with retries 0 raises an incident.
    again = rest.lock_task_of(case_id)
    assert again["id"] == task["id"] and again["retries"] == 1
    assert again["errorDetails"] == "Traceback: ConnectTimeout after 30 s"
    failure["retries"] = 0
    assert rest.call("system.bank", "POST", f"{url}/failure", json=failure).status_code == 204
    assert rest.call("system.bank", "GET", url).json()["retries"] == 0
    assert str(case_id) not in {t["processInstanceId"] for t in rest.fetch("system.bank")}
    listed = rest.call("system.bank", "GET", ET, params={"noRetriesLeft": "true"}).json()
    assert task["id"] in {t["id"] for t in listed}
    left = rest.call("system.bank", "GET", ET, params={"withRetriesLeft": "true"}).json()
    assert task["id"] not in {t["id"] for t in left}

    incidents = rest.call("supervisor.bank", "GET", "/api/incidents")
    assert incidents.status_code == 200, incidents.text
    (incident,) = [i for i in incidents.json() if i["case_id"] == case_id]
    assert (incident["id"], incident["retries"], incident["department"]) == (int(task["id"]), 0, "bank")
    assert incident["error_message"] == "核心系统超时 (core timeout)"
    assert case_id in {i["case_id"] for i in rest.call("admin", "GET", "/api/incidents").json()}
    assert rest.call("applicant1", "GET", "/api/incidents").status_code == 403
    assert rest.call("system.bank", "GET", "/api/incidents").status_code == 403

    # A failure without a message: Camunda's null, not an empty text.
    silent = rest.call("system.bank", "POST", f"{url}/failure", json={"workerId": "worker-1", "retries": 0})
    assert silent.status_code == 204, silent.text
    assert rest.call("system.bank", "GET", url).json()["errorMessage"] is None

    # Setting retries resolves the incident: fetchable again.
    null = rest.call("admin", "PUT", f"{url}/retries", json={"retries": None})
    camunda_error(null, 400, "InvalidRequestException", "The number of retries cannot be null.")
    negative = rest.call("admin", "PUT", f"{url}/retries", json={"retries": -1})
    camunda_error(negative, 400, "InvalidRequestException")
    assert rest.call("admin", "PUT", f"{url}/retries", json={"retries": 2}).status_code == 204
    assert case_id not in {i["case_id"] for i in rest.call("admin", "GET", "/api/incidents").json()}
    third = rest.lock_task_of(case_id)
    assert third["retries"] == 2
    assert rest.call("system.bank", "POST", f"{url}/failure", json=failure).status_code == 204

    # Handed to a clerk: an ordinary task in the bank's queue, gone from the system's view.
    assert rest.call(
        "clerk.bank", "POST", f"/api/tasks/{task['id']}/handover", json={"reason": "x"}
    ).status_code in (
        403,
        404,
    )
    empty = rest.call("supervisor.bank", "POST", f"/api/tasks/{task['id']}/handover", json={"reason": ""})
    assert empty.status_code == 422 and "detail" in empty.json()
    handed = rest.call(
        "supervisor.bank",
        "POST",
        f"/api/tasks/{task['id']}/handover",
        json={"reason": "银行核心系统故障，转人工"},
    )
    assert handed.status_code == 200, handed.text
    assert (handed.json()["department"], handed.json()["state"]) == ("bank", "ready")
    camunda_error(rest.call("system.bank", "GET", url), 404, "RestException")
    queue = rest.call("clerk.bank", "GET", "/api/tasks", params={"bundle": BANK}).json()["items"]
    assert case_id in {t["case_id"] for t in queue}


def test_bpmn_error_takes_the_boundary_route(rest: Rest) -> None:
    case_id = rest.apply()
    task = rest.lock_task_of(case_id)
    wrong = rest.call(
        "system.bank", "POST", f"{ET}/{task['id']}/bpmnError", json={"workerId": "worker-9", "errorCode": "X"}
    )
    camunda_error(wrong, 400, "RestException")
    body = {
        "workerId": "worker-1",
        "errorCode": "ACCOUNT_REFUSED",
        "errorMessage": "开户资料不全",
        "variables": {"refusal_reason": {"value": "缺少法人授权书", "type": "String"}},
    }
    thrown = rest.call("system.bank", "POST", f"{ET}/{task['id']}/bpmnError", json=body)
    assert thrown.status_code == 204, thrown.text
    items = {t["item"] for t in rest.case(case_id)["tasks"] if t["state"] == "ready"}
    assert items == {"refusal-review"}


def test_extend_lock_and_unlock(rest: Rest) -> None:
    case_id = rest.apply()
    task = rest.lock_task_of(case_id, lock=2_000)
    url = f"{ET}/{task['id']}"
    other = rest.call(
        "system.bank", "POST", f"{url}/extendLock", json={"workerId": "worker-2", "newDuration": 1}
    )
    camunda_error(other, 400, "RestException")
    zero = rest.call(
        "system.bank", "POST", f"{url}/extendLock", json={"workerId": "worker-1", "newDuration": 0}
    )
    camunda_error(zero, 400, "InvalidRequestException")
    extended = rest.call(
        "system.bank", "POST", f"{url}/extendLock", json={"workerId": "worker-1", "newDuration": 600_000}
    )
    assert extended.status_code == 204, extended.text
    now = rest.call("system.bank", "GET", url).json()
    assert parse_date(now["lockExpirationTime"]) > parse_date(task["lockExpirationTime"])
    assert now["workerId"] == "worker-1"

    assert rest.call("admin", "POST", f"{url}/unlock").status_code == 204
    unlocked = rest.call("system.bank", "GET", url).json()
    assert (unlocked["workerId"], unlocked["lockExpirationTime"]) == (None, None)
    expired = rest.call(
        "system.bank", "POST", f"{url}/extendLock", json={"workerId": "worker-1", "newDuration": 1}
    )
    camunda_error(expired, 400, "RestException")
    taken = rest.lock_task_of(case_id, worker="worker-2")
    assert taken["workerId"] == "worker-2"
    rest.call("system.bank", "POST", f"{url}/unlock")


def test_list_count_filter_sort_and_page(rest: Rest) -> None:
    cases = [rest.apply() for _ in range(3)]
    listed = rest.call("system.bank", "GET", ET, params={"topicName": BANK_TOPIC, "notLocked": "true"})
    assert listed.status_code == 200, listed.text
    mine = [t for t in listed.json() if int(t["processInstanceId"]) in cases]
    assert len(mine) == 3 and all(set(t) == EXTERNAL_TASK_FIELDS for t in mine)
    count = rest.call(
        "system.bank", "GET", f"{ET}/count", params={"topicName": BANK_TOPIC, "notLocked": "true"}
    )
    assert count.json() == {"count": len(listed.json())}
    one = rest.call("system.bank", "GET", ET, params={"processInstanceId": str(cases[1])}).json()
    assert [t["processInstanceId"] for t in one] == [str(cases[1])]
    by_id = rest.call("system.bank", "GET", ET, params={"externalTaskId": one[0]["id"]}).json()
    assert [t["id"] for t in by_id] == [one[0]["id"]]
    assert rest.call("system.bank", "GET", ET, params={"externalTaskId": "nope"}).json() == []
    assert rest.call("system.bank", "GET", ET, params={"processInstanceId": "nope"}).json() == []

    down = rest.call("system.bank", "GET", ET, params={"sortBy": "id", "sortOrder": "desc"}).json()
    assert [int(t["id"]) for t in down] == sorted((int(t["id"]) for t in down), reverse=True)
    page = rest.call(
        "system.bank",
        "GET",
        ET,
        params={"sortBy": "id", "sortOrder": "desc", "firstResult": 1, "maxResults": 2},
    ).json()
    assert page == down[1:3]
    camunda_error(
        rest.call("system.bank", "GET", ET, params={"sortBy": "id"}),
        400,
        "InvalidRequestException",
        "Only a single sorting parameter specified. sortBy and sortOrder required",
    )
    camunda_error(
        rest.call("system.bank", "GET", ET, params={"sortBy": "colour", "sortOrder": "asc"}),
        400,
        "InvalidRequestException",
    )


def test_bad_requests_answer_camunda_bodies_and_api_keeps_its_own(rest: Rest) -> None:
    camunda_error(
        rest.call("system.bank", "POST", f"{ET}/fetchAndLock", json={}), 400, "InvalidRequestException"
    )
    too_long = {"workerId": "w", "maxTasks": 1, "asyncResponseTimeout": 1_800_001, "topics": []}
    camunda_error(
        rest.call("system.bank", "POST", f"{ET}/fetchAndLock", json=too_long),
        400,
        "InvalidRequestException",
        "The asynchronous response timeout cannot be set to a value greater than 1800000 milliseconds",
    )
    filtered = {
        "workerId": "w",
        "maxTasks": 1,
        "topics": [{"topicName": BANK_TOPIC, "lockDuration": 1000, "processDefinitionKey": BANK}],
    }
    camunda_error(
        rest.call("system.bank", "POST", f"{ET}/fetchAndLock", json=filtered), 400, "InvalidRequestException"
    )
    tenants = {
        "workerId": "w",
        "maxTasks": 5,
        "topics": [{"topicName": BANK_TOPIC, "lockDuration": 1000, "tenantIdIn": ["t1"]}],
    }
    assert rest.call("system.bank", "POST", f"{ET}/fetchAndLock", json=tenants).json() == []
    assert (
        rest.call("system.bank", "POST", f"{ET}/fetchAndLock", json={**tenants, "maxTasks": 0}).json() == []
    )

    case_id = rest.apply()
    task = rest.lock_task_of(case_id)
    url = f"{ET}/{task['id']}/complete"
    for typed, kind in (
        ({"type": "Bytes", "value": "AAEC"}, "RestException"),
        ({"type": "Integer", "value": "twelve"}, "InvalidRequestException"),
        (
            {"type": "Object", "value": "x", "valueInfo": {"serializationDataFormat": "java"}},
            "ProcessEngineException",
        ),
    ):
        refused = rest.call(
            "system.bank", "POST", url, json={"workerId": "worker-1", "variables": {"v": typed}}
        )
        camunda_error(refused, 400, kind)
    nul = {"workerId": "worker-1", "variables": {"v": {"type": "String", "value": "a\x00b"}}}
    camunda_error(rest.call("system.bank", "POST", url, json=nul), 400, "InvalidRequestException")
    no_worker = rest.call("system.bank", "POST", url, json={})
    camunda_error(no_worker, 400, "RestException", "workerId is null")
    no_code = rest.call("system.bank", "POST", f"{ET}/{task['id']}/bpmnError", json={"workerId": "worker-1"})
    camunda_error(no_code, 400, "RestException", "errorCode is null")
    unknown = rest.call("system.bank", "POST", f"{ET}/987654321/complete", json={})
    camunda_error(unknown, 404, "RestException", "External task with id 987654321 does not exist")
    malformed = rest.call(
        "system.bank", "POST", url, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and set(malformed.json()) == {"type", "message", "code"}
    unknown_path = rest.call("system.bank", "GET", "/engine-rest/process-instance")
    assert unknown_path.status_code == 404 and set(unknown_path.json()) == {"type", "message", "code"}
    # Still locked by worker-1 and not completed by the refused calls.
    assert rest.call("system.bank", "GET", f"{ET}/{task['id']}").json()["workerId"] == "worker-1"
    rest.call("system.bank", "POST", f"{ET}/{task['id']}/unlock")

    # The rest of the app keeps {"detail": ...}.
    api = rest.call("clerk.bank", "GET", "/api/tasks/abc")
    assert api.status_code == 422 and "detail" in api.json()
    assert "detail" in rest.call(None, "GET", "/api/tasks").json()


def test_long_polling_answers_as_soon_as_a_task_appears(rest: Rest) -> None:
    topic = "bank-accounts"
    # Drain what is fetchable now, so the poll below can only be answered by the new case.
    held = rest.fetch("system.bank", worker="drainer", lock=600_000)
    results: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        body = {
            "workerId": "poller",
            "maxTasks": 1,
            "asyncResponseTimeout": 20_000,
            "topics": [{"topicName": topic, "lockDuration": 60_000}],
        }
        results["answer"] = rest.call("system.bank", "POST", f"{ET}/fetchAndLock", json=body)
        results["seconds"] = time.monotonic() - started

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(1.0)
    assert "answer" not in results  # still waiting
    case_id = rest.apply()
    waiting.join(30)
    answer = results["answer"]
    assert answer.status_code == 200, answer.text
    assert [t["processInstanceId"] for t in answer.json()] == [str(case_id)]
    assert results["seconds"] < 5  # answered when the task appeared, not at the timeout
    for task in [*held, *answer.json()]:
        rest.call("system.bank", "POST", f"{ET}/{task['id']}/unlock")

    # Nothing appears: the poll is answered empty when its timeout ends.
    started = time.monotonic()
    empty = {
        "workerId": "poller",
        "maxTasks": 1,
        "asyncResponseTimeout": 600,
        "topics": [{"topicName": "no-such-topic", "lockDuration": 1000}],
    }
    assert rest.call("system.bank", "POST", f"{ET}/fetchAndLock", json=empty).json() == []
    assert 0.5 <= time.monotonic() - started < 5


def test_a_system_downloads_the_materials_of_its_task_and_no_others(rest: Rest) -> None:
    server = rest.server
    with server.as_user("applicant1") as applicant:
        example = bundle_example(applicant, "enterprise-startup", 0)
        started = apply(applicant, "enterprise-startup", example, "engine-rest-materials")
        assert started.status_code == 201, started.text
        case_id = int(started.json()["id"])
        departments = applicant.get("/api/bundles/enterprise-startup").json()["departments"]
    # The clerks work until the tax system's step (it needs the business licence) waits.
    task = None
    for _ in range(10):
        fetched = rest.fetch("system.tax", topic_name="tax", worker="tax-1")
        task = next((t for t in fetched if t["processInstanceId"] == str(case_id)), None)
        for other in fetched:
            if other is not task:
                rest.call("system.tax", "POST", f"{ET}/{other['id']}/unlock")
        if task is not None:
            break
        for department in departments:
            if department == "tax":
                continue
            with server.as_user(f"clerk.{department}") as clerk:
                for open_task in open_tasks_of(clerk, case_id, "enterprise-startup"):
                    approve(clerk, open_task, example["decisions"])
    assert task is not None, "the tax system's step never became fetchable"
    (licence,) = [m for m in task["materials"] if m["kind"] == "business_licence"]
    assert licence["href"] == f"/api/tasks/{task['id']}/materials/business_licence"
    assert set(licence) == {"kind", "name", "id", "sha256", "size", "mime", "href"}
    got = rest.call("system.tax", "GET", licence["href"])
    assert got.status_code == 200, got.text
    assert hashlib.sha256(got.content).hexdigest() == licence["sha256"]
    # Another department's system, and a material the task's view does not hold: 404.
    assert rest.call("system.bank", "GET", licence["href"]).status_code == 404
    assert (
        rest.call("system.tax", "GET", f"/api/tasks/{task['id']}/materials/lease_contract").status_code == 404
    )
    rest.call("system.tax", "POST", f"{ET}/{task['id']}/unlock")


def test_a_poll_whose_worker_hung_up_locks_nothing(rest: Rest) -> None:
    held = rest.fetch("system.bank", worker="drainer", lock=600_000)
    body = {
        "workerId": "gone",
        "maxTasks": 1,
        "asyncResponseTimeout": 30_000,
        "topics": [{"topicName": BANK_TOPIC, "lockDuration": 600_000}],
    }
    hasty = httpx.Client(base_url=rest.server.base_url, headers=rest.auth("system.bank"), timeout=1.0)
    with hasty, pytest.raises(httpx.ReadTimeout):
        hasty.post(f"{ET}/fetchAndLock", json=body)  # the worker gives up after a second
    case_id = rest.apply()
    time.sleep(1.0)  # the abandoned poll would have taken it by now
    task = rest.lock_task_of(case_id, worker="worker-3")
    assert task["workerId"] == "worker-3"
    for other in [*held, task]:
        rest.call("system.bank", "POST", f"{ET}/{other['id']}/unlock")
