"""Walking cases over HTTP: apply with a bundle's example, and work queues as the department clerks.

Steps a department's own system does (external tasks, items waiting for a system's message)
are done through ``/engine-rest`` as the department's system account (``systems_work``).
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import httpx

from tests.api.support import LiveServer, pdf, upload


def bundle_example(client: httpx.Client, bundle: str, index: int) -> dict[str, Any]:
    """One of the bundle's shipped examples (form data, material kinds, decisions, route)."""
    r = client.get(f"/api/bundles/{bundle}")
    assert r.status_code == 200, r.text
    examples: list[dict[str, Any]] = r.json()["examples"]
    return examples[index]


def apply(
    client: httpx.Client,
    bundle: str,
    example: dict[str, Any],
    label: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Upload the example's materials (bytes unique to ``label``) and submit the application."""
    materials = {kind: upload(client, kind, pdf(f"{label}:{kind}"))["id"] for kind in example["materials"]}
    body = {"bundle": bundle, "data": example["data"], "materials": materials}
    return client.post("/api/cases", json=body, headers=headers or {})


def open_tasks_of(client: httpx.Client, case_id: int, bundle: str) -> list[dict[str, Any]]:
    """The caller's queue entries of one case, following every page of ``GET /api/tasks``."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"bundle": bundle, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        r = client.get("/api/tasks", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        found.extend(t for t in page["items"] if t["case_id"] == case_id)
        cursor = page["next"]
        if not cursor:
            return found


def approve(client: httpx.Client, task: dict[str, Any], decisions: dict[str, Any]) -> dict[str, Any]:
    """Claim (when ready) and approve one task with the example's decision data; the completed task."""
    if task["state"] == "ready":
        r = client.post(f"/api/tasks/{task['id']}/claim")
        assert r.status_code == 200, r.text
    r = client.post(
        f"/api/tasks/{task['id']}/complete",
        json={"outcome": "approve", "data": decisions.get(task["item"], {}), "comment": "同意"},
    )
    assert r.status_code == 200, r.text
    done: dict[str, Any] = r.json()
    return done


def office_account(server: LiveServer, role: str, department: str, division: str) -> str:
    """An office's demo account: ``<role>.<department>`` at the default division, else ``…@<division>``."""
    if division == server.settings.default_division:
        return f"{role}.{department}"
    return f"{role}.{department}@{division}"


def system_account(server: LiveServer, department: str, division: str) -> str:
    """The demo system account whose reach holds the division: its province-level root's."""
    root = server.engine.regions.tree().ancestors(division)[-1:] or (server.settings.default_division,)
    return office_account(server, "system", department, root[0])


def work_case(
    server: LiveServer,
    case_id: int,
    bundle: str,
    departments: list[str],
    decisions: dict[str, Any],
    max_rounds: int = 20,
) -> list[str]:
    """Each office's clerk (or its system) does its tasks of the case until none is open; items done.

    A task goes to the office of its department in its division (``clerk.<department>`` at
    the default division, ``clerk.<department>@<division>`` at a demo office), found from the
    case's open tasks; the clerk takes it from their own queue.
    """
    done: list[str] = []
    for _ in range(max_rounds):
        by_systems = systems_work(server, case_id, bundle, decisions)
        done.extend(by_systems)
        progressed = bool(by_systems)
        with server.as_user("analyst") as analyst:
            tasks = analyst.get(f"/api/cases/{case_id}").json()["tasks"]
        offices = sorted(
            {
                (t["department"], t["division"])
                for t in tasks
                if t["state"] in ("ready", "claimed") and t["department"] in departments
            }
        )
        for department, division in offices:
            with server.as_user(office_account(server, "clerk", department, division)) as client:
                for task in open_tasks_of(client, case_id, bundle):
                    assert task["department"] == department
                    approve(client, task, decisions)
                    done.append(task["item"])
                    progressed = True
        if not progressed:
            return done
    raise AssertionError(f"case {case_id} still had open tasks after {max_rounds} rounds")


# -- the departments' own systems, through /engine-rest as their system accounts -----------
BPMN_NS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SYSTEM_WORKER = "walking-worker"


def typed(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Plain values as Camunda 7's typed variables (``{"name": {"value": ..., "type": ...}}``)."""
    names = {bool: "Boolean", int: "Long", float: "Double", str: "String"}
    return {k: {"value": v, "type": names.get(type(v), "Json")} for k, v in values.items()}


def system_steps(diagram: str) -> dict[str, str | None]:
    """BPMN id -> message name of a receive task, or None for a service (external) task."""
    root = ElementTree.fromstring(diagram)
    messages = {m.get("id"): m.get("name") for m in root.iter(f"{BPMN_NS}message")}
    steps: dict[str, str | None] = {str(t.get("id")): None for t in root.iter(f"{BPMN_NS}serviceTask")}
    for task in root.iter(f"{BPMN_NS}receiveTask"):
        steps[str(task.get("id"))] = messages.get(task.get("messageRef"))
    return steps


def systems_work(server: LiveServer, case_id: int, bundle: str, decisions: dict[str, Any]) -> list[str]:
    """The departments' systems do the case's open system steps over /engine-rest; the items done.

    An external task is fetched and locked on its topic by ``system.<department>`` and
    completed with the example's decision (tasks of other cases that the fetch locked are
    unlocked again); an item waiting for a system's message gets it, by the case's code.
    """
    with server.as_user("analyst") as analyst:
        case = analyst.get(f"/api/cases/{case_id}").json()
        steps = system_steps(analyst.get(f"/api/bundles/{bundle}/diagram").text)
    done: list[str] = []
    for task in case["tasks"]:
        if task["state"] != "ready" or task["task_name"] not in steps:
            continue
        variables = typed(decisions.get(task["item"], {}))
        with server.as_user(system_account(server, task["department"], task["division"])) as system:
            message = steps[task["task_name"]]
            if message is not None:
                body = {"messageName": message, "businessKey": case["code"], "processVariables": variables}
                r = system.post("/engine-rest/message", json=body)
                assert r.status_code in (200, 204), r.text
                done.append(task["item"])
                continue
            listed = system.get("/engine-rest/external-task", params={"processInstanceId": str(case_id)})
            assert listed.status_code == 200, listed.text
            topics = sorted({t["topicName"] for t in listed.json() if t["activityId"] == task["task_name"]})
            fetch = {
                "workerId": SYSTEM_WORKER,
                "maxTasks": 10,
                "topics": [{"topicName": topic, "lockDuration": 60_000} for topic in topics],
            }
            r = system.post("/engine-rest/external-task/fetchAndLock", json=fetch)
            assert r.status_code == 200, r.text
            for locked in r.json():
                if locked["processInstanceId"] != str(case_id) or locked["activityId"] != task["task_name"]:
                    assert system.post(f"/engine-rest/external-task/{locked['id']}/unlock").status_code == 204
                    continue
                answer = {"workerId": SYSTEM_WORKER, "variables": variables}
                r = system.post(f"/engine-rest/external-task/{locked['id']}/complete", json=answer)
                assert r.status_code == 204, r.text
                done.append(task["item"])
    return done
