"""Every route of the OpenAPI document × every caller × another's resource: nothing foreign
is read or changed.

The routes come from the server's ``/openapi.json`` at test time; ``route_roles.yaml`` says
per route what status each caller gets against the victim's resources (applicant2's case,
task, material, complaint, supervisor entry, rectification, and an account) and what a
foreign resource is. A route with no row is still probed with the defaults (401 without a
valid token; never a 5xx, a traceback or the victim's data with one), and
``test_every_openapi_route_has_a_row`` names it until it gets one. The callers are those of
``conftest.CALLERS`` and the owner (reads only: the control that the resource is real).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from engine.demo import demo_pdf
from engine.storage.models import CaseEvent
from tests.api.support import LiveServer
from tests.api.test_authorization import Victim
from tests.security.conftest import CALLERS, OWNER, PageCaller
from tests.security.corpus import (
    Route,
    api_routes,
    fill,
    missing_values,
    page_routes,
    resource_values,
    route_table,
    shows_insides,
)

NO_TOKEN = ("anonymous", "forged", "expired")
DEFAULT_SEES = ("analyst", "admin")


def _upload(kind: str, role: str) -> tuple[str, bytes, str]:
    """The honest file of an upload row (the hostile ones are test_hostile_uploads')."""
    if kind == "not_a_zip":
        return ("bundle.zip", b"not a zip at all", "application/zip")
    assert kind == "pdf_material", kind
    return ("b.pdf", demo_pdf(f"route matrix: {role}"), "application/pdf")


def _filled(template: Any, values: dict[str, str]) -> Any:
    """A body template with ``"{name}"`` filled from the resources (ids as numbers)."""
    if isinstance(template, dict):
        return {key: _filled(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_filled(value, values) for value in template]
    if isinstance(template, str) and "{" in template:
        values = {**values, "unique": uuid.uuid4().hex[:8]}
        whole = template[1:-1] if template.startswith("{") and template.endswith("}") else None
        if whole in values and values[whole].isdigit():
            return int(values[whole])
        return template.format(**values)
    return template


def _send(
    client: httpx.Client, route: Route, row: dict[str, Any], values: dict[str, str], role: str
) -> httpx.Response:
    """The route called against the resources in ``values`` as the row says (body, form, file)."""
    files = None
    if "files" in row:
        files = {"file": _upload(row["files"], role)}
    return client.request(
        route.method,
        fill(route.path, values),
        params=row.get("query"),
        json=_filled(row["body"], values) if "body" in row else None,
        data=row.get("form"),
        files=files,
    )


def _expected(row: dict[str, Any] | None, role: str) -> int | None:
    """The one status the table allows (None: any answer below 500 will do; absent: not probed)."""
    if row is None:
        return 401 if role in NO_TOKEN else None
    if "only" in row and role not in row["only"]:
        return -1
    if role in row["expect"]:
        return int(row["expect"][role])
    if role == "owner":
        return -1
    return 401 if role in NO_TOKEN else -1


def _listed(answer: httpx.Response, wanted: str) -> bool:
    body = answer.json()
    items = body["items"] if isinstance(body, dict) and "items" in body else body
    return isinstance(items, list) and any(str(item.get("id")) == wanted for item in items)


def test_every_openapi_route_has_a_row(api_callers: dict[str, httpx.Client]) -> None:
    rows = route_table()["routes"]
    routes = {route.key for route in api_routes(api_callers["anonymous"])}
    assert len(routes) >= 30
    assert not sorted(routes - set(rows)), "routes without a row in route_roles.yaml"
    assert not sorted(set(rows) - routes), "rows of route_roles.yaml for routes that no longer exist"
    callers = {*CALLERS, "owner"}
    for key, row in rows.items():
        assert set(row["expect"]) <= callers, key
        assert "only" in row or set(CALLERS) - set(NO_TOKEN) <= set(row["expect"]), (
            f"{key}: a role is missing"
        )


def test_no_caller_reads_or_changes_what_is_not_theirs(
    api_callers: dict[str, httpx.Client], victim: Victim, security_server: LiveServer
) -> None:
    rows: dict[str, Any] = route_table()["routes"]
    values, missing = resource_values(victim), missing_values()
    wrong: list[str] = []
    probed = 0
    for route in api_routes(api_callers["anonymous"]):
        row = rows.get(route.key)
        sees = set((row or {}).get("sees", DEFAULT_SEES)) | {"owner"}
        for role, client in api_callers.items():
            expected = _expected(row, role)
            if expected == -1:
                continue
            probed += 1
            answer = _send(client, route, row or {}, values, role)
            label = f"{role:<10} {route.key}"
            if answer.status_code >= 500 or (expected is not None and answer.status_code != expected):
                wrong.append(f"{label}: {answer.status_code} (expected {expected}) {answer.text[:160]!r}")
                continue
            inside = shows_insides(answer.text)
            if inside or not answer.headers.get("X-Request-ID"):
                wrong.append(f"{label}: shows {inside!r} or has no request id")
            if role not in sees and any(secret in answer.text for secret in victim.secrets):
                wrong.append(f"{label}: the answer shows applicant2's data")
            listing: dict[str, str] = (row or {}).get("listing") or {}
            shown = bool(listing) and answer.status_code < 300 and role not in sees
            if shown and _listed(answer, values[listing["id_of"]]):
                wrong.append(f"{label}: lists applicant2's {listing['id_of']}")
            if answer.status_code >= 400 and route.path.startswith("/engine-rest"):
                body = answer.json()  # Camunda's ExceptionDto
                if set(body) != {"type", "message", "code"} or not body["message"]:
                    wrong.append(f"{label}: {answer.status_code} without Camunda's error body")
            elif answer.status_code >= 400:
                detail = answer.json().get("detail")
                if not isinstance(detail, str | list) or not detail:
                    wrong.append(f"{label}: {answer.status_code} without a detail")
            if answer.status_code in (403, 404) and set(route.path_params) & set(missing):
                absent = _send(client, route, row or {}, {**values, **missing}, role)
                if absent.status_code != answer.status_code:
                    wrong.append(
                        f"{label}: {answer.status_code} for another's id, {absent.status_code} for none"
                    )
    assert probed >= 200
    assert not wrong, "\n".join(wrong)

    # Nothing refused changed anything: the case still runs and its task is still ready, unclaimed.
    with security_server.as_user(OWNER) as owner:
        case = owner.get(f"/api/cases/{victim.case_id}").json()
    assert case["status"] == "running"
    (task,) = [t for t in case["tasks"] if t["id"] == victim.task_id]
    assert task["state"] == "ready" and task["assignee"] is None
    with security_server.engine.db.read() as session:
        actors = set(session.scalars(select(CaseEvent.actor).where(CaseEvent.case_id == victim.case_id)))
    assert actors <= {OWNER, "system"}, actors


def _page_expected(row: dict[str, Any], role: str, method: str) -> int:
    """A page's status for a caller (-1: not probed). A forged or expired cookie is no session:
    a GET is answered as for anonymous, a post is refused for its token (403)."""
    if role in ("forged", "expired"):
        if "only" in row and "anonymous" not in row["only"]:
            return -1
        return 403 if method != "GET" else int(row["expect"].get("anonymous", -1))
    expected = _expected(row, role)
    return -1 if expected is None else expected


def _visit(caller: PageCaller, route: Route, values: dict[str, str]) -> httpx.Response:
    """A page route called as a browser would (a post carries the session's CSRF token)."""
    url = fill(route.path, values)
    if route.method == "GET":
        return caller.client.get(url)
    return caller.client.request(route.method, url, data={}, headers={"x-csrf-token": caller.csrf})


def test_no_page_shows_or_changes_what_is_not_theirs(
    page_callers: dict[str, PageCaller], victim: Victim, security_server: LiveServer
) -> None:
    """The pages (found in the app's routes) as every page caller, per ``page_routes`` of the table."""
    rows: dict[str, Any] = route_table()["page_routes"]
    values, missing = resource_values(victim), missing_values()
    routes = page_routes()
    assert not sorted({route.key for route in routes} - set(rows)), "pages without a row in route_roles.yaml"
    assert not sorted(set(rows) - {route.key for route in routes}), "rows for pages that no longer exist"
    wrong: list[str] = []
    for route in routes:
        row = rows[route.key]
        sees = set(row.get("sees", DEFAULT_SEES)) | {"owner"}
        for role, caller in page_callers.items():
            expected = _page_expected(row, role, route.method)
            if expected == -1:
                continue

            answer = _visit(caller, route, values)
            label = f"{role:<10} page {route.key}"
            if answer.status_code != expected:
                wrong.append(f"{label}: {answer.status_code} (expected {expected}) {answer.text[:120]!r}")
                continue
            inside = shows_insides(answer.text)
            if inside:
                wrong.append(f"{label}: shows {inside!r}")
            if role not in sees and any(secret in answer.text for secret in victim.secrets):
                wrong.append(f"{label}: the page shows applicant2's data")
            link = row.get("listing_link")
            if link and role not in sees and f'href="{fill(link, values)}"' in answer.text:
                wrong.append(f"{label}: links to applicant2's {link}")
            if answer.status_code in (403, 404) and set(route.path_params) & set(missing):
                absent = _visit(caller, route, {**values, **missing})
                if absent.status_code != answer.status_code:
                    wrong.append(
                        f"{label}: {answer.status_code} for another's id, {absent.status_code} for none"
                    )
    assert not wrong, "\n".join(wrong)
    with security_server.engine.db.read() as session:
        actors = set(session.scalars(select(CaseEvent.actor).where(CaseEvent.case_id == victim.case_id)))
    assert actors <= {OWNER, "system"}, actors
