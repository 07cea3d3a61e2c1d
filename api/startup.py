"""What ``onething serve`` says when it starts: a short summary, not the engine's every step.

Four lines at info level on the ``onething.serve`` logger, the last once the socket
listens: the database (its password hidden), the bundles (live, and how many versions this
start deployed), the demo accounts (by pattern, with their password) and the address.
Everything else a start does (migrations, SpiffWorkflow's steps, uvicorn's own lines)
shows at debug level only (``api.logs.configure_logging``).
"""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import Callable, Sequence

import uvicorn
from sqlalchemy.engine import make_url

from engine.bpmn.deployments import Deployed
from engine.storage.settings import Settings

log = logging.getLogger("onething.serve")


def database_line(settings: Settings) -> str:
    """Which database, without its password; SQLite's synchronous level (how durable a commit is)."""
    url = make_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        return f"数据库 (database): {shown} (SQLite, synchronous={settings.sqlite_synchronous.upper()})"
    return f"数据库 (database): {shown} ({url.get_backend_name()})"


def bundles_line(live: Sequence[str], deployed: Sequence[Deployed]) -> str:
    """How many bundles are live, and how many versions this start deployed (new or changed ones)."""
    new = [d for d in deployed if d.created]
    named = ", ".join(f"{d.key}{'@' + d.division if d.division else ''} v{d.version}" for d in new[:5])
    more = f" …(+{len(new) - 5})" if len(new) > 5 else ""
    now = (
        f"; {len(new)} versions deployed at this start ({named}{more})"
        if new
        else "; none deployed at this start (all unchanged)"
    )
    return f"事项包 (bundles): {len(live)} live{now}"


def demo_accounts_line(usernames: Sequence[str]) -> str:
    """The demo accounts by pattern (``clerk.<department>`` ×20), the plain ones by name."""
    plain: list[str] = []
    patterns: Counter[str] = Counter()
    for name in usernames:
        base, at, _division = name.partition("@")
        if "." not in base and not at:
            plain.append(name)
            continue
        shape = f"{base.split('.')[0]}.<department>" if "." in base else base
        patterns[shape + ("@<division>" if at else "")] += 1
    listed = ", ".join([*plain, *(f"{shape} ×{count}" for shape, count in patterns.items())])
    return f"演示账户 (demo accounts), password 'demo': {listed} ({len(usernames)} in all)"


def address_line(host: str, port: int) -> str:
    """Where the pages, the API and its documents are served."""
    shown = f"[{host}]" if ":" in host else host
    return f"服务地址 (serving): http://{shown}:{port}/ (API /api, OpenAPI /docs); Ctrl+C stops"


class SummarizingServer(uvicorn.Server):
    """uvicorn's server that says where it listens, in our words, once the socket is bound."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[int], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does; then report the bound port (the real one when 0 was asked)."""
        await super().startup(sockets=sockets)
        if self.started:
            port = self.config.port
            for server in getattr(self, "servers", []):
                for bound in server.sockets:
                    port = int(bound.getsockname()[1])
                    break
            self._on_started(port)


def say(lines: Sequence[str]) -> None:
    """Log the summary lines."""
    for line in lines:
        log.info("%s", line)
