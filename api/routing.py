"""A REST router that answers "not mine" from its prefix alone.

FastAPI (0.165) finds a request's route by asking each included router in turn, and a router
answers by trying every one of its routes (each a regular expression and FastAPI's own
bookkeeping around it), then tries the chosen router's routes again to handle it. A task
action under ``/api/tasks`` was tried against some 34 routes of the routers included before
it: a fifth of the event loop's time on the request. Every route of a router made with
``prefix=P`` has the path ``P`` or ``P/...`` (FastAPI joins the prefix to each route's path,
which starts with ``/``), so a request path outside that cannot match any of them, fully or
partly (a partial match is a matching path with another method); ``PrefixedRouter`` says so
before trying them. It holds only while the router is included without a prefix of its own
(``include_router(router)``, as ``api.app`` includes every router).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope


def route_path(scope: Scope) -> str:
    """The request's path below the app's ``root_path``, as Starlette's routes match it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path != root and path[len(root)] == "/":
        return path[len(root) :]
    return "" if root and path == root else path


class PrefixedRouter(APIRouter):
    """An ``APIRouter`` that skips its routes for a path outside its prefix (see the module docstring)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        prefix = self.prefix
        if prefix:
            path = route_path(scope)
            if path != prefix and not path.startswith(prefix + "/"):
                return Match.NONE, {}
        return super().matches(scope)
