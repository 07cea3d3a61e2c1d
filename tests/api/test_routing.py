"""``PrefixedRouter`` answers as FastAPI's router does, and tries no route for a path outside its prefix.

A small app of two prefixed routers (real FastAPI, called through httpx's ASGI transport) shows the
answers unchanged: full matches, a matching path with another method (405), a path that only
starts like the prefix (``/api/thingsx``), the trailing-slash redirect, and an app served below
a ``root_path``. A route whose matching would raise shows it is never tried for a foreign path.
The shipped app is checked for what the shortcut rests on: every route of a prefixed router
lies under its prefix, and every router is included without a prefix of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match

from api import routes
from api.app import create_app
from api.routing import PrefixedRouter, route_path
from engine.storage.settings import Settings


def small_app() -> tuple[FastAPI, PrefixedRouter, PrefixedRouter]:
    things = PrefixedRouter(prefix="/api/things")
    others = PrefixedRouter(prefix="/api/others")

    @things.get("")
    def list_things() -> dict[str, Any]:
        return {"things": []}

    @things.get("/{thing_id}")
    def get_thing(thing_id: int) -> dict[str, Any]:
        return {"thing": thing_id}

    @things.post("/{thing_id}/claim")
    def claim_thing(thing_id: int) -> dict[str, Any]:
        return {"claimed": thing_id}

    @others.get("/{other_id}")
    def get_other(other_id: str) -> dict[str, Any]:
        return {"other": other_id}

    app = FastAPI()
    app.include_router(things)
    app.include_router(others)
    return app, things, others


def asking(app: FastAPI, check: Callable[[httpx.AsyncClient], Awaitable[None]], root_path: str = "") -> None:
    """Run ``check`` with a client that calls ``app`` in this process."""

    async def run() -> None:
        transport = httpx.ASGITransport(app=app, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await check(client)

    anyio.run(run)


def test_requests_are_answered_as_a_plain_router_answers_them() -> None:
    app, _, _ = small_app()

    async def check(client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/things")).json() == {"things": []}
        assert (await client.get("/api/things/7")).json() == {"thing": 7}
        assert (await client.post("/api/things/7/claim")).json() == {"claimed": 7}
        assert (await client.get("/api/others/x")).json() == {"other": "x"}
        assert (await client.delete("/api/things/7")).status_code == 405  # the path matched, not the method
        assert (await client.get("/api/things/7/claim")).status_code == 405
        assert (await client.get("/api/thingsx")).status_code == 404  # starts like the prefix, not under it
        assert (await client.get("/api/things/x")).status_code == 422
        moved = await client.get("/api/things/7/")
        assert moved.status_code == 307 and moved.headers["location"].endswith("/api/things/7")

    asking(app, check)


def test_an_app_below_a_root_path_is_matched_below_it() -> None:
    app, _, _ = small_app()  # the server says the root path (here the transport, as uvicorn would)

    async def check(client: httpx.AsyncClient) -> None:
        assert (await client.get("/base/api/things/3")).json() == {"thing": 3}
        assert (await client.get("/base/api/others/y")).json() == {"other": "y"}
        assert (await client.get("/base/api/nowhere")).status_code == 404

    asking(app, check, root_path="/base")


def test_route_path_is_the_path_below_the_root_path() -> None:
    assert route_path({"path": "/api/things"}) == "/api/things"
    assert route_path({"path": "/base/api/things", "root_path": "/base"}) == "/api/things"
    assert route_path({"path": "/base", "root_path": "/base"}) == ""
    assert route_path({"path": "/basement/x", "root_path": "/base"}) == "/basement/x"
    assert route_path({"path": "/other", "root_path": "/base"}) == "/other"


def test_no_route_is_tried_for_a_path_outside_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    app, things, _ = small_app()

    def refuse(self: APIRoute, scope: Any) -> Any:
        raise AssertionError(f"{self.path} was tried for {scope['path']}")

    for route in things.routes:
        monkeypatch.setattr(route, "matches", refuse.__get__(route))
    scope = {"type": "http", "path": "/api/others/x", "method": "GET", "root_path": ""}
    assert things.matches(scope) == (Match.NONE, {})

    async def check(client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/others/x")).json() == {"other": "x"}
        with pytest.raises(AssertionError, match="was tried for /api/things/1"):
            await client.get("/api/things/1")

    asking(app, check)


def test_every_route_of_a_prefixed_router_lies_under_its_prefix_and_none_is_included_with_another() -> None:
    prefixed = [
        module.router
        for module in vars(routes).values()
        if isinstance(getattr(module, "router", None), PrefixedRouter)
    ]
    assert len(prefixed) >= 8
    for router in prefixed:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            assert route.path == router.prefix or route.path.startswith(router.prefix + "/"), route.path
    served = set(create_app(Settings(database_url="sqlite://")).openapi()["paths"])  # as included
    for router in prefixed:
        assert {route.path for route in router.routes if route.include_in_schema} <= served
