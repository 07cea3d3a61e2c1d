"""A real onething server on a loopback port, and HTTP clients signed in as the demo accounts."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.serving import READY_LINE
from engine.bpmn.deployments import load_departments
from engine.people.accounts import DEMO_PASSWORD, AccountService
from engine.service import Engine
from engine.storage.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pdf(label: str) -> bytes:
    """A small well-formed PDF (material kinds accept PDF), different for each label."""
    from engine.demo import demo_pdf

    return demo_pdf(label)


@dataclass
class LiveServer:
    """A running server and its engine (for setting up and inspecting the database)."""

    base_url: str
    settings: Settings
    engine: Engine
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An HTTP client for the server, optionally with a bearer token."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60, **kwargs)

    def token(self, username: str, password: str = DEMO_PASSWORD) -> str:
        """A bearer token for the account (signed in once per server)."""
        if username not in self.tokens:
            with self.client() as c:
                r = c.post("/api/auth/token", data={"username": username, "password": password})
                assert r.status_code == 200, r.text
                self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def as_user(self, username: str) -> httpx.Client:
        """A client signed in as a demo account."""
        return self.client(self.token(username))


def prepare_engine(settings: Settings) -> Engine:
    """An engine on a fresh database with the shipped bundles and the demo accounts."""
    engine = Engine(settings)
    engine.upgrade()
    engine.deploy_shipped()
    departments = {d for b in engine.list_bundles() for d in b.departments}
    accounts = AccountService(engine.db, load_departments(settings.processes_dir), regions=engine.regions)
    accounts.ensure_demo_accounts(departments)  # and those of open offices (none until a test opens them)
    return engine


def open_demo_offices(engine: Engine) -> AccountService:
    """Open the demo offices and make their accounts, as ``onething serve --demo`` does; the accounts."""
    engine.regions.ensure_demo_offices()
    departments = {d for b in engine.list_bundles() for d in b.departments}
    accounts = AccountService(
        engine.db, load_departments(engine.settings.processes_dir), regions=engine.regions
    )
    accounts.ensure_demo_accounts(departments)
    return accounts


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """Serve ``create_app`` with uvicorn in a thread on a free loopback port until the block ends."""
    engine = prepare_engine(settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, engine),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, engine)
    finally:
        server.should_exit = True
        thread.join(30)
        engine.close()


@contextmanager
def sqlite_server(root: Path) -> Iterator[LiveServer]:
    """``live_server`` on a fresh SQLite file and data folder under ``root``."""
    settings = Settings(database_url=f"sqlite:///{root / 'onething.db'}", data_dir=root / "var")
    with live_server(settings) as running:
        yield running


@contextmanager
def regions_server(root: Path) -> Iterator[LiveServer]:
    """``sqlite_server`` with the demo offices open and their accounts made."""
    with sqlite_server(root) as running:
        open_demo_offices(running.engine)
        yield running


@dataclass
class ServeProcess:
    """An ``onething serve`` subprocess and where its logs go."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        """Ask it to shut down (SIGTERM) and wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_lines(self) -> list[str]:
        """What it wrote to stderr (JSON lines)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()


def onething_command() -> list[str]:
    """How to run the ``onething`` console script of this checkout."""
    script = Path(sys.executable).with_name("onething")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]


def start_serve(
    db_url: str, data_dir: Path, log_path: Path, *extra: str, env: dict[str, str] | None = None
) -> ServeProcess:
    """Start ``onething serve`` on a free port; returns once ``/healthz`` answers."""
    port = free_port()
    # This checkout's code, whichever checkout the console script was installed from.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    environment = {**os.environ, "ONETHING_DATA_DIR": str(data_dir), "PYTHONPATH": path, **(env or {})}
    handle = log_path.open("wb")
    process = subprocess.Popen(
        [*onething_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db_url, *extra],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=environment,
        cwd=str(data_dir),
    )
    handle.close()
    return serving(ServeProcess(process, f"http://127.0.0.1:{port}", log_path))


def serving(served: ServeProcess, what: str = "onething serve") -> ServeProcess:
    """``served`` once its ``/healthz`` answers; its log's tail when it exits or stays silent for 90 s."""
    deadline = time.monotonic() + 90
    while True:
        if served.process.poll() is not None:
            code = served.process.returncode
            raise RuntimeError(f"{what} exited ({code}):\n{served.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(served.base_url + "/healthz", timeout=2).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            served.stop()
            raise RuntimeError(f"{what} did not answer:\n{served.log_path.read_text()[-3000:]}")
        time.sleep(0.2)


def ready_workers(served: ServeProcess, count: int, timeout: float = 180.0) -> set[int]:
    """The pids of ``onething serve --workers N``'s web processes once ``count`` of them have started.

    ``/healthz`` answers as soon as the first is up; on a busy machine the others may take
    much longer to import and start, and until then the first serves alone.
    """
    deadline = time.monotonic() + timeout
    while True:
        ready = set()
        for line in served.log_lines():
            if line.startswith("{") and READY_LINE in line:
                ready.add(int(json.loads(line)["pid"]))
        if len(ready) >= count:
            return ready
        if served.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"{len(ready)} of {count} web processes started:\n{served.log_path.read_text()[-3000:]}"
            )
        time.sleep(0.2)


def upload(client: httpx.Client, kind: str, content: bytes, filename: str | None = None) -> dict[str, Any]:
    """Upload one material; the answer's JSON."""
    r = client.post(
        "/api/materials",
        data={"kind": kind},
        files={"file": (filename or f"{kind}.pdf", io.BytesIO(content), "application/pdf")},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())
