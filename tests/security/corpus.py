"""The corpus's data files read into values, and the routes to probe found at test time.

The payloads live in data files beside this module (``hostile_ids.txt``,
``hostile_cursors.json``, ``route_roles.yaml``; the hostile files are built by
``hostile_files.py``). The routes are never listed by hand: API routes come from the
server's ``/openapi.json``, page routes from the app's own route table, so a route added
tomorrow is probed by every test here without a new line of code.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app
from api.pages.base import PageRoute
from tests.api.test_authorization import Victim

HERE = Path(__file__).resolve().parent
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# Query parameters that name a resource or a key (probed with hostile values like path parameters).
ID_QUERIES = frozenset({"version", "cursor", "bundle", "department", "assignee"})
# Signs of an answer that shows the server's insides.
INSIDES = ("Traceback", "sqlalchemy", "sqlite3.", "psycopg", 'File "/', "/work/", "site-packages")


@dataclass(frozen=True)
class Route:
    """One route to probe: its method, path template, and its path and id-query parameters."""

    method: str
    path: str
    path_params: tuple[str, ...]
    id_queries: tuple[str, ...]

    @property
    def key(self) -> str:
        """How route_roles.yaml names it: ``"GET /api/cases/{case_id}"``."""
        return f"{self.method} {self.path}"


@functools.cache
def hostile_ids() -> tuple[tuple[str, str], ...]:
    """(label, the value as sent in a URL) for every line of ``hostile_ids.txt``."""
    found: list[tuple[str, str]] = []
    for line in (HERE / "hostile_ids.txt").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("@raw "):
            found.append((line, line.removeprefix("@raw ")))
        elif line.startswith("@repeat "):
            _, times, text = line.split(" ", 2)
            found.append((f"{text[:8]}×{times}", quote(text * int(times), safe="")))
        else:
            found.append((line, quote(line, safe="")))
    return tuple(found)


def encode_cursor(value: Any) -> str:
    """A JSON value encoded the way the engine encodes its cursors."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@functools.cache
def hostile_cursors() -> tuple[tuple[str, str], ...]:
    """(label, cursor text) for every entry of ``hostile_cursors.json``."""
    raw = json.loads((HERE / "hostile_cursors.json").read_text(encoding="utf-8"))
    found = [(f"encoded {json.dumps(v)[:40]}", encode_cursor(v)) for v in raw["encoded"]]
    found += [(f"raw {text[:40]!r}", text) for text in raw["raw"]]
    found += [(f"{r['text']}×{r['times']}", r["text"] * r["times"]) for r in raw["repeated"]]
    return tuple(found)


@functools.cache
def route_table() -> dict[str, Any]:
    """``route_roles.yaml``: the foreign resources and, per route, who may do what."""
    loaded: dict[str, Any] = yaml.safe_load((HERE / "route_roles.yaml").read_text(encoding="utf-8"))
    return loaded


def api_routes(base: httpx.Client) -> list[Route]:
    """Every operation of the server's OpenAPI document."""
    document = base.get("/openapi.json")
    assert document.status_code == 200, document.text[:300]
    routes: list[Route] = []
    for path, operations in document.json()["paths"].items():
        for method, operation in operations.items():
            if method.upper() not in METHODS:
                continue
            params = operation.get("parameters", [])
            routes.append(
                Route(
                    method.upper(),
                    path,
                    tuple(p["name"] for p in params if p["in"] == "path"),
                    tuple(
                        p["name"]
                        for p in params
                        if p["in"] == "query" and (p["name"] in ID_QUERIES or p["name"].endswith("_id"))
                    ),
                )
            )
    return routes


def page_routes() -> list[Route]:
    """Every HTML page route of the app (they are not in the OpenAPI document)."""
    routes: list[Route] = []
    for context in iter_route_contexts(create_app().routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not isinstance(route, PageRoute):
            continue
        path = context.path or route.path
        queries = [p.name for p in route.dependant.query_params]
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append(
                Route(
                    method,
                    path,
                    tuple(p.name for p in route.dependant.path_params),
                    tuple(q for q in queries if q in ID_QUERIES or q.endswith("_id")),
                )
            )
    return routes


def resource_values(victim: Victim) -> dict[str, str]:
    """Path parameter -> the victim's resource it names (``resources`` of route_roles.yaml)."""
    values: dict[str, str] = {}
    for name, source in route_table()["resources"].items():
        text = str(source)
        if text.startswith("victim."):
            text = str(getattr(victim, text.removeprefix("victim.")))
        values[name] = text
    return values


def missing_values() -> dict[str, str]:
    """Path parameter -> a value of the right shape that names nothing (``missing`` of the table)."""
    return {name: str(value) for name, value in route_table()["missing"].items()}


def fill(path: str, values: dict[str, str], **override: str) -> str:
    """A path template with its parameters filled (``override`` first, already URL-ready)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in override:
            return override[name]
        return quote(values[name], safe="")

    return PLACEHOLDER.sub(one, path)


def shows_insides(text: str) -> str | None:
    """The first sign of the server's insides in an answer, if any."""
    return next((sign for sign in INSIDES if sign in text), None)
