"""A real server (uvicorn on 127.0.0.1) on a SQLite file with bundles that have external tasks and messages.

``rest-bank`` is the integration tests' bank bundle (tests/integration/bank_bundle): the
bank's system opens the account as an external task on topic ``bank-accounts`` (a BPMN error
``ACCOUNT_REFUSED`` goes to a clerk's review) and the case then waits for the message
``licence-rest``. ``external-tax`` (tests/engine/bpmn_integration) has a tax-system task on
the topic ``tax`` after a market-regulation clerk's registration, and ``birth-messages`` a
message start event ``birth-record`` for public security.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from engine.bpmn.deployments import load_departments
from engine.people.accounts import DEMO_PASSWORD, AccountService
from engine.storage.settings import Settings
from tests.api.support import ROOT, LiveServer, live_server

BANK_DIR = ROOT / "tests" / "integration" / "bank_bundle"
FIXTURES = ROOT / "tests" / "engine" / "bpmn_integration" / "bundles"
BANK = "rest-bank"
BANK_TOPIC = "bank-accounts"
LICENCE = "licence-rest"
COMPANY = {
    "company_name": "上海澄川信息科技有限公司",
    "legal_rep_name": "陈晓明",
    "bank_name": "icbc",
}
TAX_DATA = {
    "company_name": "上海一件事科技有限公司",
    "legal_rep_name": "张三",
    "legal_rep_id": "11010519491231002X",
}
# Camunda's date format: yyyy-MM-dd'T'HH:mm:ss.SSSZ
CAMUNDA_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")
EXTERNAL_TASK_FIELDS = {
    "activityId",
    "activityInstanceId",
    "errorMessage",
    "executionId",
    "id",
    "lockExpirationTime",
    "createTime",
    "processDefinitionId",
    "processDefinitionKey",
    "processDefinitionVersionTag",
    "processInstanceId",
    "tenantId",
    "retries",
    "suspended",
    "workerId",
    "topicName",
    "priority",
    "businessKey",
}
LOCKED_FIELDS = EXTERNAL_TASK_FIELDS | {"errorDetails", "variables", "extensionProperties", "materials"}


def bank_files() -> dict[str, bytes]:
    """The bank bundle's files with its key, topic and message filled in."""
    files: dict[str, bytes] = {}
    for path in sorted(BANK_DIR.iterdir()):
        text = path.read_text(encoding="utf-8")
        text = text.replace("__KEY__", BANK).replace("__TOPIC__", BANK_TOPIC).replace("__MESSAGE__", LICENCE)
        files[path.name] = text.encode()
    return files


def fixture_files(name: str) -> dict[str, bytes]:
    """A test bundle folder's files."""
    return {p.name: p.read_bytes() for p in sorted((FIXTURES / name).iterdir())}


@dataclass
class Rest:
    """A running server, a client of it, and bearer tokens by username."""

    server: LiveServer
    client: httpx.Client
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, username: str) -> dict[str, str]:
        """The Authorization header of a demo account (signed in once)."""
        if username not in self.tokens:
            r = self.client.post("/api/auth/token", data={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def call(self, username: str | None, method: str, path: str, **kwargs: Any) -> Any:
        """One request as the account (None: without a token); the httpx response."""
        headers = {**(self.auth(username) if username else {}), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def apply(self, bundle: str = BANK, data: dict[str, Any] | None = None) -> int:
        """applicant1 applies for the bundle; the new case's id."""
        body = {"bundle": bundle, "data": data or COMPANY, "materials": {}}
        r = self.call("applicant1", "POST", "/api/cases", json=body)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def case(self, case_id: int, username: str = "admin") -> dict[str, Any]:
        """The case as an admin (default) sees it."""
        r = self.call(username, "GET", f"/api/cases/{case_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def fetch(
        self,
        username: str,
        topic_name: str = BANK_TOPIC,
        worker: str = "worker-1",
        lock: int = 60_000,
        topic: dict[str, Any] | None = None,
        **extra: Any,
    ) -> list[dict[str, Any]]:
        """fetchAndLock up to 50 tasks of one topic (``topic``: more of its keys); the locked tasks."""
        topic_body = {"topicName": topic_name, "lockDuration": lock, **(topic or {})}
        body = {"workerId": worker, "maxTasks": 50, "topics": [topic_body], **extra}
        r = self.call(username, "POST", "/engine-rest/external-task/fetchAndLock", json=body)
        assert r.status_code == 200, r.text
        return list(r.json())

    def lock_task_of(self, case_id: int, username: str = "system.bank", **kwargs: Any) -> dict[str, Any]:
        """Fetch and lock the case's external task (others fetched with it are unlocked again)."""
        mine = None
        worker = kwargs.get("worker", "worker-1")
        for task in self.fetch(username, **kwargs):
            if task["processInstanceId"] == str(case_id):
                mine = task
            else:
                r = self.call(username, "POST", f"/engine-rest/external-task/{task['id']}/unlock")
                assert r.status_code == 204, (worker, r.text)
        assert mine is not None, f"no external task of case {case_id} was fetched"
        return mine


@contextmanager
def rest_app(root: Path, database_url: str | None = None) -> Iterator[Rest]:
    """A server on a fresh database (a SQLite file under ``root`` unless a URL is given) with the
    shipped bundles, the three test bundles and the demo accounts."""
    url = database_url or f"sqlite:///{root / 'onething.db'}"
    settings = Settings(database_url=url, data_dir=root / "var")
    with live_server(settings) as server:
        engine = server.engine
        engine.deploy_files(bank_files(), "admin")
        engine.deploy_files(fixture_files("external-tax"), "admin")
        engine.deploy_files(fixture_files("birth-messages"), "admin")
        departments = {d for b in engine.list_bundles() for d in b.departments}
        AccountService(engine.db, load_departments(settings.processes_dir)).ensure_demo_accounts(departments)
        with server.client() as client:
            yield Rest(server, client)
