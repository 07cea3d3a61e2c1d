"""Walking cases over HTTP: apply with a bundle's example, and work queues as the department clerks."""

from __future__ import annotations

from typing import Any

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


def work_case(
    server: LiveServer,
    case_id: int,
    bundle: str,
    departments: list[str],
    decisions: dict[str, Any],
    max_rounds: int = 20,
) -> list[str]:
    """Every department's demo clerk approves its own tasks of the case until none is open; items done."""
    clients = {d: server.as_user(f"clerk.{d}") for d in departments}
    done: list[str] = []
    try:
        for _ in range(max_rounds):
            progressed = False
            for department, client in clients.items():
                for task in open_tasks_of(client, case_id, bundle):
                    assert task["department"] == department
                    approve(client, task, decisions)
                    done.append(task["item"])
                    progressed = True
            if not progressed:
                return done
        raise AssertionError(f"case {case_id} still had open tasks after {max_rounds} rounds")
    finally:
        for client in clients.values():
            client.close()
