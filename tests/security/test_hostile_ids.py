"""Every id parameter, API and pages, against every hostile value: never a 500, never a leak.

The routes are found at test time (``corpus.api_routes`` from ``/openapi.json``,
``corpus.page_routes`` from the app), the values read from ``hostile_ids.txt`` and
``hostile_cursors.json``. Each probe fills one parameter with a hostile value and the
others with the victim's resources, and is sent by callers who would reach the handler (so
the value is parsed, not just refused at the door). A number no column holds is answered as
an unknown id: 404 on a page, 404 or 422 from the API; a crafted cursor is a 422.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from engine.errors import InvalidInput
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.settings import Settings
from tests.api.support import LiveServer
from tests.api.test_authorization import Victim
from tests.security.conftest import PageCaller
from tests.security.corpus import (
    Route,
    api_routes,
    encode_cursor,
    fill,
    hostile_cursors,
    hostile_ids,
    page_routes,
    resource_values,
    route_table,
    shows_insides,
)

PAGE_CALLERS = ("applicant", "clerk", "analyst")
SIGNED_IN = ("admin", "analyst", "clerk", "supervisor", "applicant", "system")
API_REFUSALS = frozenset({400, 403, 404, 405, 409, 413, 422})
PAGE_REFUSALS = frozenset({303, 403, 404, 405, 409, 413, 422})
INT_TYPES = frozenset({"case_id", "task_id", "complaint_id", "entry_id", "rectification_id", "version"})


def _probe(
    client: httpx.Client, method: str, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """GET, or the method with an empty JSON body (API) or an empty form with the CSRF token (pages)."""
    if method == "GET":
        return client.get(url, headers=headers)
    return client.request(method, url, json={} if headers is None else None, headers=headers)


def _judge(label: str, answer: httpx.Response, allowed: frozenset[int], victim: Victim) -> list[str]:
    wrong: list[str] = []
    if answer.status_code not in allowed:
        wrong.append(f"{label}: {answer.status_code} {answer.text[:160]!r}")
    inside = shows_insides(answer.text)
    if inside:
        wrong.append(f"{label}: the answer shows {inside!r}")
    if any(secret in answer.text for secret in victim.secrets):
        wrong.append(f"{label}: the answer shows applicant2's data")
    return wrong


def api_caller(route: Route) -> str:
    """The first signed-in role route_roles.yaml lets use the route (its handler parses the value)."""
    expect = route_table()["routes"].get(route.key, {}).get("expect", {})
    return next((role for role in SIGNED_IN if expect.get(role, 200) != 403), "admin")


def page_caller(route: Route) -> str:
    """The role whose pages these are (``pages`` of route_roles.yaml; applicants by default)."""
    owners: dict[str, str] = route_table()["pages"]
    return next((role for prefix, role in owners.items() if route.path.startswith(prefix)), "applicant")


def _targets(route: Route, values: dict[str, str], hostile: str) -> list[tuple[str, str]]:
    """(parameter, URL) for each id parameter of the route filled with the hostile value."""
    found = [(name, fill(route.path, values, **{name: hostile})) for name in route.path_params]
    base = fill(route.path, values)
    found += [(name, f"{base}?{name}={hostile}") for name in route.id_queries]
    return found


def test_every_api_id_parameter_refuses_hostile_values(
    security_server: LiveServer, victim: Victim, api_callers: dict[str, httpx.Client]
) -> None:
    values = resource_values(victim)
    routes = [r for r in api_routes(api_callers["anonymous"]) if r.path_params or r.id_queries]
    skipped = {key for key, row in route_table()["routes"].items() if "only" in row}
    assert len(routes) >= 15
    wrong: list[str] = []
    for route in routes:
        if route.key in skipped:
            continue
        for label, hostile in hostile_ids():
            for name, url in _targets(route, values, hostile):
                for role in (api_caller(route),):
                    answer = _probe(api_callers[role], route.method, url)
                    where = f"{role} {route.key} {name}={label}"
                    # A query filter naming nothing may answer an empty list; a path is never 2xx.
                    in_path = name in route.path_params
                    wrong += _judge(where, answer, API_REFUSALS if in_path else API_REFUSALS | {200}, victim)
                    if in_path and name in INT_TYPES and answer.status_code not in (403, 404, 422):
                        wrong.append(f"{where}: {answer.status_code} for an id no column holds")
    assert not wrong, "\n".join(wrong[:60])


def test_every_page_id_parameter_refuses_hostile_values(
    victim: Victim, page_callers: dict[str, PageCaller]
) -> None:
    values = resource_values(victim)
    routes = [r for r in page_routes() if r.path_params or r.id_queries]
    assert len(routes) >= 15
    wrong: list[str] = []
    for route in routes:
        for label, hostile in hostile_ids():
            for name, url in _targets(route, values, hostile):
                for role in (page_caller(route),):
                    caller = page_callers[role]
                    headers = None if route.method == "GET" else {"x-csrf-token": caller.csrf}
                    answer = _probe(caller.client, route.method, url, headers or {})
                    where = f"{role} {route.key} {name}={label}"
                    allowed = PAGE_REFUSALS if name in route.path_params else PAGE_REFUSALS | {200}
                    wrong += _judge(where, answer, allowed, victim)
                    refused_alike = answer.status_code in (403, 404)  # 403: the role, for every id
                    if name in INT_TYPES and name in route.path_params and not refused_alike:
                        wrong.append(f"{where}: {answer.status_code}, not the 404 of an unknown id")
    assert not wrong, "\n".join(wrong[:60])


def test_crafted_cursors_are_refused_with_422(
    victim: Victim, api_callers: dict[str, httpx.Client], page_callers: dict[str, PageCaller]
) -> None:
    routes = [r for r in api_routes(api_callers["anonymous"]) if "cursor" in r.id_queries]
    pages = [r for r in page_routes() if "cursor" in r.id_queries]
    assert routes and pages
    wrong: list[str] = []
    for route in routes:
        for role in ("applicant", "clerk", "analyst", "admin"):
            client = api_callers[role]
            if client.get(route.path).status_code != 200:
                continue  # the role may not list here at all: nothing to page through
            for label, cursor in hostile_cursors():
                answer = client.get(route.path, params={"cursor": cursor})
                where = f"{role} {route.key} cursor {label}"
                wrong += _judge(where, answer, frozenset({422}), victim)
                if answer.status_code == 422 and not isinstance(answer.json().get("detail"), list):
                    wrong.append(f"{where}: no problem list in {answer.text[:160]!r}")
    for route in pages:
        for role in PAGE_CALLERS:
            client = page_callers[role].client
            if client.get(route.path).status_code != 200:
                continue
            for label, cursor in hostile_cursors():
                answer = client.get(route.path, params={"cursor": cursor})
                where = f"{role} page {route.path} cursor {label}"
                wrong += _judge(where, answer, frozenset({422}), victim)
                if "text/html" not in answer.headers.get("content-type", ""):
                    wrong.append(f"{where}: not an error page")
    assert not wrong, "\n".join(wrong[:60])


def test_a_cursor_the_engine_made_still_pages(api_callers: dict[str, httpx.Client]) -> None:
    """The refusals above must not refuse real cursors: follow the analyst's pages to the end."""
    client = api_callers["analyst"]
    for path in ("/api/cases", "/api/tasks"):
        seen: list[int] = []
        cursor: str | None = None
        for _ in range(100):
            answer = client.get(path, params={"limit": 1, **({"cursor": cursor} if cursor else {})})
            assert answer.status_code == 200, answer.text
            seen += [item["id"] for item in answer.json()["items"]]
            cursor = answer.json()["next"]
            if cursor is None:
                break
        assert len(seen) >= 2 and len(seen) == len(set(seen)), (path, seen)


def test_the_widest_cursors_the_engine_accepts_page_on_every_store(db_url: str, tmp_path: Path) -> None:
    """What passes the cursor check (ids up to BIGINT, any aware time) is safe in every query."""
    engine = Engine(Settings(database_url=db_url, data_dir=tmp_path / "var"))
    try:
        engine.upgrade()
        clerk = Actor("clerk.x", Role.CLERK, frozenset({"market-regulation"}))
        analyst = Actor("analyst", Role.ANALYST)
        for due in (
            "0001-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59.999999+00:00",
            "2026-01-01T08:00:00+08:00",
        ):
            for last_id in (1, 2**63 - 1):
                cursor = encode_cursor([due, last_id])
                assert engine.list_tasks(clerk, cursor=cursor).items == ()
                assert engine.list_tasks(analyst, cursor=cursor).items == ()
        for last_id in (1, 2**63 - 1):
            assert engine.list_cases(analyst, cursor=encode_cursor([last_id])).items == ()
        for _label, cursor in hostile_cursors():
            with pytest.raises(InvalidInput):
                engine.list_cases(analyst, cursor=cursor)
            with pytest.raises(InvalidInput):
                engine.list_tasks(analyst, cursor=cursor)
    finally:
        engine.close()
