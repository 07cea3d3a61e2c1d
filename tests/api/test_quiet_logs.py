"""What ``onething serve`` writes: a short start-up summary, one line per request, no engine chatter.

A real ``onething serve --demo`` on a fresh SQLite file deploys the shipped bundles; then N
requests, each with its own ``X-Request-ID``. Its log must hold: no SpiffWorkflow or
Alembic step at the default level, exactly one access line for each request (the audit
line of a change, the access line of a read) and no other, the summary (database, bundles,
demo accounts, address), and each business event once (every shipped version deployed).
At debug level the engine's steps are still there.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.logs import ACCESS_LOGGER, AUDIT_LOGGER, CHATTY_LOGGERS, AuditNote, access, configure_logging
from api.serving import READY_LINE
from engine.storage.settings import shipped_processes_dir
from tests.api.support import ServeProcess, pdf, start_serve

ACCESS = {AUDIT_LOGGER, ACCESS_LOGGER}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``onething serve --demo`` on a fresh database (so it deploys every shipped bundle)."""
    root = tmp_path_factory.mktemp("quiet")
    (root / "data").mkdir()
    process = start_serve(f"sqlite:///{root / 'onething.db'}", root / "data", root / "serve.log", "--demo")
    try:
        yield process
    finally:
        process.stop()


def requests_of_a_clerk_and_an_applicant(base_url: str) -> list[str]:
    """Sign in, look, apply, claim, decide, and a few refusals; the request ids sent, in order."""
    sent: list[str] = []

    def call(c: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        request_id = f"quiet-{len(sent)}"
        sent.append(request_id)
        r = c.request(method, path, headers={"X-Request-ID": request_id}, **kwargs)
        assert r.headers["X-Request-ID"] == request_id
        return r

    with httpx.Client(base_url=base_url, timeout=60) as c:
        signed = {}
        for user in ("applicant1", "clerk.public-security"):
            r = call(c, "POST", "/api/auth/token", data={"username": user, "password": "demo"})
            signed[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        c.headers.update(signed["applicant1"])
        example = call(c, "GET", "/api/bundles/school-enrollment").json()["examples"][0]
        upload = call(
            c,
            "POST",
            "/api/materials",
            data={"kind": "birth_certificate"},
            files={"file": ("b.pdf", pdf("quiet"), "application/pdf")},
        )
        body = {
            "bundle": "school-enrollment",
            "data": example["data"],
            "materials": {"birth_certificate": upload.json()["id"]},
        }
        case_id = call(c, "POST", "/api/cases", json=body).json()["id"]
        c.headers.update(signed["clerk.public-security"])
        queue = call(c, "GET", "/api/tasks", params={"department": "public-security"}).json()["items"]
        (task,) = [t for t in queue if t["case_id"] == case_id]
        assert call(c, "POST", f"/api/tasks/{task['id']}/claim").status_code == 200
        decision = {"outcome": "approve", "data": example["decisions"].get(task["item"], {}), "comment": "ok"}
        assert call(c, "POST", f"/api/tasks/{task['id']}/complete", json=decision).status_code == 200
        assert call(c, "POST", f"/api/tasks/{task['id']}/complete", json=decision).status_code == 409
        assert call(c, "GET", f"/api/cases/{case_id}").status_code == 200
        assert call(c, "GET", "/api/cases/999999").status_code == 404
        c.headers.pop("Authorization")
        assert call(c, "GET", "/api/tasks").status_code == 401
        assert call(c, "GET", "/no-such-page").status_code == 404
    return sent


def json_lines(served: ServeProcess) -> list[dict[str, Any]]:
    """Every line of the log, each one JSON object (a line that is not fails the test)."""
    return [json.loads(line) for line in served.log_lines() if line.strip()]


def test_each_request_writes_exactly_one_access_line_and_the_engine_says_nothing(
    served: ServeProcess,
) -> None:
    sent = requests_of_a_clerk_and_an_applicant(served.base_url)
    served.stop()  # every line written
    lines = json_lines(served)
    chatty = [
        line for line in lines if line["logger"].split(".")[0] in {c.split(".")[0] for c in CHATTY_LOGGERS}
    ]
    assert chatty == [], chatty[:3]
    assert not [line for line in lines if line["level"] == "debug"]
    access = [line for line in lines if line["logger"] in ACCESS]
    assert len(access) == len(sent)  # nothing else made a request line (probes are debug)
    by_id = Counter(line["request_id"] for line in access)
    assert by_id == Counter(sent)  # each request exactly once
    kinds = {line["request_id"]: (line["logger"], line["event"], line["method"]) for line in access}
    assert kinds["quiet-0"] == (AUDIT_LOGGER, "api.change", "POST")
    assert kinds["quiet-2"] == (ACCESS_LOGGER, "api.read", "GET")
    statuses = [next(line["status"] for line in access if line["request_id"] == rid) for rid in sent]
    assert statuses[-6:] == [200, 409, 200, 404, 401, 404]
    claim = next(line for line in access if line["route"] == "/api/tasks/{task_id}/claim")
    assert claim["who"] == "clerk.public-security" and claim["outcome"] == "ok"


def test_the_start_says_a_short_summary_and_each_deployment_once(served: ServeProcess) -> None:
    served.stop()
    lines = json_lines(served)
    summary = [line["message"] for line in lines if line["logger"] == "onething.serve"]
    assert len(summary) == 5, summary
    database, bundles, demo, address, ready = summary
    assert ready == READY_LINE  # as each web process of ``--workers N`` says it
    assert "sqlite:///" in database and "synchronous=" in database
    shipped = sorted(p.parent.name for p in shipped_processes_dir().glob("*/bundle.yaml"))
    assert bundles.startswith(f"事项包 (bundles): {len(shipped)} live;")
    assert "clerk.<department> ×" in demo and "applicant1" in demo and "password 'demo'" in demo
    assert address.startswith("服务地址 (serving): ") and served.base_url in address
    # Business events keep their one line each: every shipped bundle deployed, once.
    deployed = Counter(
        line["message"].split()[1] for line in lines if line["logger"] == "engine.bpmn.deployments"
    )
    assert set(deployed) >= set(shipped) and set(deployed.values()) == {1}
    before_requests = [line for line in lines if line["logger"] not in ACCESS]
    assert len(before_requests) < 60, [line["message"] for line in before_requests]


def test_at_debug_level_the_engine_steps_show_again() -> None:
    root = logging.getLogger()
    saved = (
        root.level,
        list(root.handlers),
        {n: logging.getLogger(n).level for n in (*CHATTY_LOGGERS, "uvicorn.access")},
    )
    try:
        configure_logging(logging.INFO)
        assert not logging.getLogger("spiff.task").isEnabledFor(logging.INFO)
        assert logging.getLogger("spiff.task").isEnabledFor(logging.WARNING)
        assert not logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
        assert logging.getLogger(AUDIT_LOGGER).isEnabledFor(logging.INFO)
        configure_logging(logging.DEBUG)
        assert logging.getLogger("spiff.task").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
    finally:
        level, handlers, levels = saved
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


def test_the_probes_and_static_files_log_at_debug_only() -> None:
    """Liveness probes and style sheets are no one's business at info level (kept at debug)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(ACCESS_LOGGER)
    keep, old_level = Keep(logging.DEBUG), logger.level
    logger.addHandler(keep)
    logger.setLevel(logging.DEBUG)
    try:
        for path in ("/healthz", "/static/app.css", "/api/tasks", "/inbox"):
            access(AuditNote("r"), method="GET", path=path, route=None, status=200, duration_ms=1.0)
    finally:
        logger.removeHandler(keep)
        logger.setLevel(old_level)
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.DEBUG, "GET /healthz -> 200"),
        (logging.DEBUG, "GET /static/app.css -> 200"),
        (logging.INFO, "GET /api/tasks -> 200"),
        (logging.INFO, "GET /inbox -> 200"),
    ]


def test_the_web_processes_of_workers_log_at_the_level_asked(tmp_path: Path) -> None:
    """``--workers 2 --log-level warning``: neither the supervisor nor a web process says info lines."""
    (tmp_path / "data").mkdir()
    served = start_serve(
        f"sqlite:///{tmp_path / 'onething.db'}",
        tmp_path / "data",
        tmp_path / "serve.log",
        "--workers",
        "2",
        "--log-level",
        "warning",
    )
    try:
        with httpx.Client(base_url=served.base_url, timeout=60) as c:
            for _ in range(6):  # new connections, so both processes may answer
                assert c.get("/", headers={"Connection": "close"}).status_code == 200
    finally:
        served.stop()
    lines = json_lines(served)
    assert [line for line in lines if line["level"] in ("debug", "info")] == []
