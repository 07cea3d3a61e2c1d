"""Drive a running onething over REST: apply as an applicant, decide as each department, read the case.

Start the app first (``make run``), then ``.venv/bin/python examples/rest_client.py
[BASE_URL]`` (default ``http://127.0.0.1:8000``). Everything here uses the demo accounts
(password ``demo``) and only the public REST contract of ``../shared/design.md``: what a
portal, a mobile app or a department's own system would call.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

import httpx

from engine.demo import demo_pdf

PASSWORD = "demo"


def sign_in(base: str, username: str) -> httpx.Client:
    """A client carrying the bearer token of one demo account."""
    answer = httpx.post(f"{base}/api/auth/token", data={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {answer.json()['access_token']}"})


def typed(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Plain values as Camunda 7's typed variables (``{"name": {"value": ..., "type": ...}}``)."""
    names = {bool: "Boolean", int: "Long", float: "Double", str: "String"}
    return {k: {"value": v, "type": names.get(type(v), "Json")} for k, v in values.items()}


def system_does(system: httpx.Client, case_id: int, task: dict[str, Any], decision: dict[str, Any]) -> bool:
    """The department's own system completes the task if it is its external task (Camunda 7 REST).

    ``examples/department_system.py`` is such a system's worker; here one task is done inline.
    """
    listed = system.get("/engine-rest/external-task", params={"processInstanceId": str(case_id)})
    topics = {
        t["topicName"] for t in listed.raise_for_status().json() if t["activityId"] == task["task_name"]
    }
    if not topics:
        return False
    fetch = {
        "workerId": "rest-client",
        "maxTasks": 1,
        "topics": [{"topicName": topic, "lockDuration": 60_000} for topic in sorted(topics)],
    }
    for locked in (
        system.post("/engine-rest/external-task/fetchAndLock", json=fetch).raise_for_status().json()
    ):
        answer = {"workerId": "rest-client", "variables": typed(decision)}
        system.post(f"/engine-rest/external-task/{locked['id']}/complete", json=answer).raise_for_status()
    return True


def main(base: str = "http://127.0.0.1:8000", bundle: str = "enterprise-startup") -> str:
    """Apply for ``bundle`` with its first example, approve every task, return the final status."""
    applicant = sign_in(base, "applicant1")
    detail = applicant.get(f"/api/bundles/{bundle}").raise_for_status().json()
    example: dict[str, Any] = detail["examples"][0]

    # One set of materials: each document uploaded once, referenced by kind.
    materials = {}
    for kind in example["materials"]:
        sent = applicant.post(
            "/api/materials",
            data={"kind": kind},
            files={"file": (f"{kind}.pdf", demo_pdf(kind), "application/pdf")},
        )
        materials[kind] = sent.raise_for_status().json()["id"]
    case = applicant.post(
        "/api/cases",
        json={"bundle": bundle, "data": example["data"], "materials": materials},
        # A fresh key per application: a retry of this request (after a timeout, say) reuses it.
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    case_id = case.raise_for_status().json()["id"]
    print(f"case {case_id} submitted")

    # Each department works its own queue; a clerk only ever sees its department's tasks. A
    # step the department's own system does (the tax registration) is done by that system.
    clerks: dict[str, httpx.Client] = {}
    systems: dict[str, httpx.Client] = {}
    for _round in range(20):
        status = applicant.get(f"/api/cases/{case_id}").raise_for_status().json()
        ready = [t for t in status["tasks"] if t["state"] == "ready"]
        if not ready:
            break
        for task in ready:
            department = task["department"]
            if department not in systems:
                systems[department] = sign_in(base, f"system.{department}")
            if system_does(systems[department], case_id, task, example["decisions"].get(task["item"], {})):
                print(f"  {department:<34} system.{department} done {task['item']}")
                continue
            if department not in clerks:
                clerks[department] = sign_in(base, f"clerk.{department}")
            clerk = clerks[department]
            clerk.post(f"/api/tasks/{task['id']}/claim").raise_for_status()
            decision = {
                "outcome": "approve",
                "data": example["decisions"].get(task["item"], {}),
                "comment": "同意",
            }
            clerk.post(f"/api/tasks/{task['id']}/complete", json=decision).raise_for_status()
            print(f"  {department:<34} approved {task['item']}")
    final = applicant.get(f"/api/cases/{case_id}").raise_for_status().json()
    print(f"case {case_id}: {final['status']}")
    for client in (applicant, *clerks.values(), *systems.values()):
        client.close()
    return str(final["status"])


if __name__ == "__main__":
    sys.exit(0 if main(*sys.argv[1:3]) == "completed" else 1)
