"""Fixtures of the department-system tests: ``onething serve`` and worker processes over loopback.

The server is a real ``onething serve --demo`` subprocess on a free 127.0.0.1 port, on a
temporary SQLite file or a database of the session's throwaway PostgreSQL cluster. Workers
are real processes running ``examples/department_system.py``, so a worker can be SIGKILLed
mid-task as a crashed back-office system would be. Each test deploys its own copy of the
small bank bundle (``bank_bundle/``) under a fresh key, topic and message name, so tests
sharing a server never see each other's tasks.
"""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.api.support import ROOT, ServeProcess, start_serve
from tests.support.pg import PgCluster

BUNDLE_DIR = Path(__file__).resolve().parent / "bank_bundle"
WORKER = ROOT / "examples" / "department_system.py"
DEPARTMENT = "bank"
COMPANY = {
    "company_name": "上海澄川信息科技有限公司",
    "legal_rep_name": "陈晓明",
    "bank_name": "icbc",
}
T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.1) -> T:
    """The first truthy answer of ``check`` within ``timeout`` seconds; fails naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def bundle_zip(key: str, topic: str, message: str, *, human: bool = False) -> bytes:
    """The bank bundle folder zipped, with its key, topic and message name filled in.

    ``human`` makes the account opening an ordinary user task in the bank clerks' queue: the
    same case shape with a person in place of the system, the baseline of the benchmarks.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(BUNDLE_DIR.iterdir()):
            text = path.read_text(encoding="utf-8")
            if human:
                text = re.sub(
                    r'<bpmn:serviceTask ([^>]*?) camunda:type="external"[^>]*>', r"<bpmn:userTask \1>", text
                )
                text = text.replace("</bpmn:serviceTask>", "</bpmn:userTask>")
                text = text.replace("    handled_by: system\n    topic: __TOPIC__\n", "")
            text = text.replace("__KEY__", key).replace("__TOPIC__", topic).replace("__MESSAGE__", message)
            archive.writestr(path.name, text)
    return buffer.getvalue()


@dataclass(frozen=True)
class Bundle:
    """One deployed copy of the bank bundle."""

    key: str
    topic: str
    message: str


@dataclass
class Onething:
    """A running ``onething serve`` and signed-in HTTP clients of its demo accounts."""

    served: ServeProcess
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.served.base_url

    def token(self, username: str) -> str:
        """A bearer token of a demo account (signed in once)."""
        if username not in self.tokens:
            answer = httpx.post(
                f"{self.base_url}/api/auth/token", data={"username": username, "password": "demo"}, timeout=30
            )
            assert answer.status_code == 200, answer.text
            self.tokens[username] = answer.json()["access_token"]
        return self.tokens[username]

    def client(self, username: str, timeout: float = 30) -> httpx.Client:
        """An HTTP client signed in as ``username``."""
        headers = {"Authorization": f"Bearer {self.token(username)}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def deploy(self, *, human: bool = False) -> Bundle:
        """A fresh copy of the bank bundle: its own key, topic and message name (see ``bundle_zip``)."""
        suffix = uuid.uuid4().hex[:8]
        bundle = Bundle(f"bank-test-{suffix}", f"bank-{suffix}", f"licence-issued-{suffix}")
        archive = bundle_zip(bundle.key, bundle.topic, bundle.message, human=human)
        upload = {"file": ("bundle.zip", archive, "application/zip")}
        with self.client("analyst") as analyst:
            answer = analyst.post("/api/bundles", files=upload)
        assert answer.status_code in (200, 201), answer.text
        return bundle

    def submit(self, bundle: Bundle, applicant: str = "applicant1") -> dict[str, Any]:
        """A new case of ``bundle`` with the example company's data; the case as answered."""
        with self.client(applicant) as client:
            answer = client.post("/api/cases", json={"bundle": bundle.key, "data": COMPANY, "materials": {}})
        assert answer.status_code == 201, answer.text
        case: dict[str, Any] = answer.json()
        return case

    def case(self, case_id: int, username: str = "analyst") -> dict[str, Any]:
        """A case in full (tasks and timeline), as ``username`` sees it."""
        with self.client(username) as client:
            answer = client.get(f"/api/cases/{case_id}")
        assert answer.status_code == 200, answer.text
        case: dict[str, Any] = answer.json()
        return case

    def external_tasks(self, **params: Any) -> list[dict[str, Any]]:
        """``GET /engine-rest/external-task`` as the bank's system account."""
        with self.client(f"system.{DEPARTMENT}") as client:
            answer = client.get("/engine-rest/external-task", params=params)
        assert answer.status_code == 200, answer.text
        tasks: list[dict[str, Any]] = answer.json()
        return tasks

    def engine_rest(
        self, method: str, path: str, username: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One ``/engine-rest`` call as ``username`` (the bank's system account by default)."""
        with self.client(username or f"system.{DEPARTMENT}", timeout=60) as client:
            return client.request(method, f"/engine-rest{path}", **kwargs)


@dataclass
class Worker:
    """A running ``examples/department_system.py`` process; what it printed goes to a file."""

    process: subprocess.Popen[bytes]
    out: Path

    def lines(self) -> list[str]:
        """The outcome lines printed so far (``completed|failed|bpmn-error|refused <id> ...``)."""
        return self.out.read_text(encoding="utf-8", errors="replace").splitlines()

    def outcomes(self, kind: str) -> list[list[str]]:
        """The printed lines of one outcome kind, split into words."""
        return [line.split() for line in self.lines() if line.startswith(f"{kind} ")]

    def kill(self) -> None:
        """SIGKILL: the back-office system dies without a word."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait (a worker in a long poll stops at once)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait(self, timeout: float) -> int:
        """Its exit code, once it ends by itself (``--once``, ``--max-seconds``)."""
        return self.process.wait(timeout)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """``start_worker(onething, bundle, *options)`` starts a worker process; all are stopped after.

    Workers long-poll for 2 s at a time: a stopped worker's poll left waiting in the server
    ends soon, so the server's graceful shutdown does not wait for it.
    """
    started: list[Worker] = []

    def start(onething: Onething, bundle: Bundle, *options: str, department: str = DEPARTMENT) -> Worker:
        out = tmp_path / f"worker-{len(started)}.out"
        command = [sys.executable, str(WORKER), "--base-url", onething.base_url]
        command += ["--department", department, "--topic", bundle.topic, "--long-poll-ms", "2000", *options]
        with out.open("wb") as handle, (tmp_path / f"worker-{len(started)}.err").open("wb") as err:
            process = subprocess.Popen(command, stdout=handle, stderr=err, cwd=ROOT)
        worker = Worker(process, out)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def serve(db_url: str, root: Path) -> Iterator[Onething]:
    """``onething serve --demo`` on ``db_url`` until the generator is closed."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    served = start_serve(db_url, data, root / "serve.log", "--demo")
    try:
        yield Onething(served)
    finally:
        served.stop()


@pytest.fixture(scope="module")
def onething(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Onething]:
    """``onething serve --demo`` on a fresh SQLite file, for the module."""
    root = tmp_path_factory.mktemp("serve-sqlite")
    yield from serve(f"sqlite:///{root / 'onething.db'}", root)


@pytest.fixture(scope="module")
def onething_pg(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster) -> Iterator[Onething]:
    """``onething serve --demo`` on a fresh database of the throwaway PostgreSQL cluster, for the module."""
    root = tmp_path_factory.mktemp("serve-pg")
    yield from serve(pg_cluster.create_database(), root)
