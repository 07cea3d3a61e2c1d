"""POST /engine-rest/message: Camunda 7.20's correlation answers (204, 200 with results, 400 texts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.engine_rest_support import LICENCE, Rest, rest_app
from tests.support.pg import PgCluster

ET = "/engine-rest/external-task"
MESSAGE = "/engine-rest/message"
MISMATCH = "org.camunda.bpm.engine.MismatchingMessageCorrelationException: "


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def rest(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rest]:
    """The app with the test bundles on a fresh database, once on SQLite and once on PostgreSQL."""
    url = None
    if request.param == "postgres":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database()
    with rest_app(tmp_path_factory.mktemp("engine-rest-messages"), url) as running:
        yield running


def waiting_case(rest: Rest) -> tuple[int, str]:
    """A bank case whose account is opened, now waiting for the licence message; its id and code."""
    case_id = rest.apply()
    task = rest.lock_task_of(case_id)
    answer = {
        "workerId": "worker-1",
        "variables": {"bank_account_no": {"value": "1001263409000123456", "type": "String"}},
    }
    done = rest.call("system.bank", "POST", f"{ET}/{task['id']}/complete", json=answer)
    assert done.status_code == 204, done.text
    return case_id, str(rest.case(case_id)["code"])


def refused(response: Any, message: str) -> None:
    """Camunda's 400 for a message it cannot correlate: a RestException quoting the engine's exception."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"type", "message", "code"}
    assert body["type"] == "RestException"
    assert body["message"].startswith(MISMATCH + message), body["message"]


def test_a_message_reaches_the_one_waiting_case_by_its_code(rest: Rest) -> None:
    case_id, code = waiting_case(rest)
    body = {
        "messageName": LICENCE,
        "businessKey": code,
        "processVariables": {"licence_no": {"value": "91310115MA1K4", "type": "String"}},
    }
    delivered = rest.call("system.bank", "POST", MESSAGE, json=body)
    assert delivered.status_code == 204, delivered.text
    assert delivered.content == b""
    assert rest.case(case_id)["status"] == "completed"
    # Delivered once: the case no longer waits for it.
    refused(
        rest.call("system.bank", "POST", MESSAGE, json=body),
        f"Cannot correlate message '{LICENCE}': No process definition or execution matches the parameters",
    )


def test_results_when_asked_for(rest: Rest) -> None:
    case_id, _code = waiting_case(rest)
    body = {
        "messageName": LICENCE,
        "processInstanceId": str(case_id),
        "resultEnabled": True,
        "variablesInResultEnabled": True,
        "processVariables": {"licence_no": {"value": "91310115MA1K5", "type": "String"}},
    }
    answer = rest.call("system.bank", "POST", MESSAGE, json=body)
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()
    assert set(result) == {"resultType", "execution", "processInstance", "variables"}
    assert result["resultType"] == "Execution"
    assert result["processInstance"] is None
    assert result["execution"] == {
        "id": str(case_id),
        "processInstanceId": str(case_id),
        "ended": False,
        "tenantId": None,
    }
    assert result["variables"]["licence_no"] == {"type": "String", "value": "91310115MA1K5", "valueInfo": {}}


def test_none_and_several_matching_get_camunda_answers(rest: Rest) -> None:
    first, _ = waiting_case(rest)
    second, _ = waiting_case(rest)
    refused(
        rest.call("system.bank", "POST", MESSAGE, json={"messageName": "no-such-message"}),
        "Cannot correlate message 'no-such-message': No process definition or execution matches "
        "the parameters",
    )
    refused(
        rest.call("system.bank", "POST", MESSAGE, json={"messageName": LICENCE}),
        f"ENGINE-13031 Cannot correlate a message with name '{LICENCE}' to a single execution.",
    )
    # all: every waiting case takes it.
    every = rest.call(
        "system.bank", "POST", MESSAGE, json={"messageName": LICENCE, "all": True, "resultEnabled": True}
    )
    assert every.status_code == 200, every.text
    reached = {r["execution"]["processInstanceId"] for r in every.json()}
    assert {str(first), str(second)} <= reached
    assert all(r["resultType"] == "Execution" for r in every.json())
    # all with nothing waiting: an empty answer, as in Camunda.
    nothing = rest.call(
        "system.bank", "POST", MESSAGE, json={"messageName": LICENCE, "all": True, "resultEnabled": True}
    )
    assert nothing.status_code == 200 and nothing.json() == []


def test_a_message_start_event_starts_a_case(rest: Rest) -> None:
    body = {
        "messageName": "birth-record",
        "processVariables": {
            "child_name": {"value": "李小明", "type": "String"},
            "newborn_birth_date": {"value": "2025-01-02", "type": "String"},
            "birth_hospital": {"value": "上海市第一妇婴保健院", "type": "String"},
        },
        "resultEnabled": True,
    }
    started = rest.call("system.public-security", "POST", MESSAGE, json=body)
    assert started.status_code == 200, started.text
    (result,) = started.json()
    assert result["resultType"] == "ProcessDefinition"
    assert result["execution"] is None
    instance = result["processInstance"]
    assert set(instance) == {
        "links",
        "id",
        "definitionId",
        "businessKey",
        "caseInstanceId",
        "ended",
        "suspended",
        "tenantId",
    }
    assert instance["definitionId"].startswith("birth-messages:")
    assert instance["businessKey"] == rest.case(int(instance["id"]))["code"]
    assert (instance["ended"], instance["suspended"], instance["links"]) == (False, False, [])
    # The bank's system takes no part in that bundle: for it, the start event is not there.
    refused(
        rest.call("system.bank", "POST", MESSAGE, json={"messageName": "birth-record"}),
        "Cannot correlate message 'birth-record'",
    )


def test_bad_message_requests(rest: Rest) -> None:
    missing = rest.call("system.bank", "POST", MESSAGE, json={"businessKey": "x"})
    assert missing.status_code == 400
    assert missing.json() == {
        "type": "InvalidRequestException",
        "message": "No message name supplied",
        "code": None,
    }
    both = rest.call(
        "system.bank",
        "POST",
        MESSAGE,
        json={"messageName": LICENCE, "tenantId": "t", "withoutTenantId": True},
    )
    assert both.status_code == 400
    assert (
        both.json()["message"]
        == "Parameter 'tenantId' cannot be used together with parameter 'withoutTenantId'."
    )
    tenant = rest.call("system.bank", "POST", MESSAGE, json={"messageName": LICENCE, "tenantId": "t"})
    refused(tenant, f"Cannot correlate message '{LICENCE}'")
    bad_value = rest.call(
        "system.bank",
        "POST",
        MESSAGE,
        json={"messageName": LICENCE, "correlationKeys": {"n": {"value": "x", "type": "Long"}}},
    )
    assert bad_value.status_code == 400
    assert bad_value.json()["type"] == "InvalidRequestException"
    assert (
        bad_value.json()["message"] == "Cannot convert value 'x' of type 'Long' to java type java.lang.Long"
    )
