"""A real onething server per test module, and Debian's chromium driven by Playwright.

The server is the real app (``api.app.create_app``) under uvicorn on a free loopback port,
in a thread of the test process, with a fresh SQLite database, the shipped bundles and the
demo accounts (what ``onething serve --demo`` sets up). Its engine runs on a ``ManualClock``
the tests move forward, so late steps can be seen without waiting days.

Without /usr/bin/chromium the browser tests skip with the reason, except under ``CI=true``,
where a missing browser fails the run. No browser is ever downloaded.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from engine.service import Engine
from engine.storage.settings import Settings
from engine.time.clock import ManualClock

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# A Monday morning in Shanghai (01:00 UTC = 09:00 CST), clear of public holidays.
START = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)


@dataclass
class LiveServer:
    """A running onething server: its address, its engine and the clock the tests move."""

    url: str
    engine: Engine
    clock: ManualClock


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app on a loopback port with a fresh database, the shipped bundles and the demo accounts."""
    root = tmp_path_factory.mktemp("server")
    settings = Settings(database_url=f"sqlite:///{root / 'onething.db'}", data_dir=root / "var")
    clock = ManualClock(START)
    engine = Engine(settings, clock=clock)
    engine.upgrade()
    engine.deploy_shipped()
    app = create_app(settings, engine)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="onething-test-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    services = app.state.services
    departments = {d for bundle in engine.list_bundles() for d in bundle.departments}
    services.accounts.ensure_demo_accounts(departments)
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    yield LiveServer(url, engine, clock)
    uv.should_exit = True
    thread.join(timeout=15)
    engine.close()


def require_browser(executable: Path, in_ci: bool) -> None:
    """Go on when the browser is there; else skip with the reason, or fail under CI."""
    if executable.exists():
        return
    message = f"Debian chromium is not installed ({executable}); apt-get install chromium fonts-noto-cjk"
    if in_ci:
        pytest.fail(f"CI=true and the browser tests cannot run: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, through Playwright (never a downloaded browser)."""
    require_browser(CHROMIUM, IN_CI)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) in Chinese; a script error or a CSP violation fails the test."""
    yield from checked_page(browser, server, {"width": 1280, "height": 900})


def checked_page(browser: Any, server: LiveServer, viewport: dict[str, int], **options: Any) -> Iterator[Any]:
    """A page of a fresh Chinese context at ``viewport``; after the test, a script error or a CSP
    violation seen on it fails the test. ``options`` go to the context (``has_touch``, ...)."""
    context = browser.new_context(locale="zh-CN", viewport=viewport, base_url=server.url, **options)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    violations: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda message: violations.extend(csp_violations([message.text])))
    yield pg
    context.close()
    assert not errors, f"script errors on the page: {errors}"
    assert not violations, f"Content-Security-Policy violations on the page: {violations}"


def csp_violations(console: list[str]) -> list[str]:
    """The console lines in which chromium reports a Content-Security-Policy violation."""
    return [line for line in console if "Content Security Policy" in line]


def sign_in(page: Any, username: str) -> None:
    """Sign in through the login form as a demo user (password ``demo``)."""
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"msg=signed-in"))


def wait_diagram(page: Any, selector: str = ".diagram") -> None:
    """Wait until bpmn-js has drawn (and marked) the diagram in ``selector``."""
    page.wait_for_selector(f"{selector}[data-drawn='true']")


def element_classes(page: Any, element_id: str) -> str:
    """The CSS classes bpmn-js gave a diagram element (our markers are ``ot-*``)."""
    return str(page.locator(f"g.djs-element[data-element-id='{element_id}']").first.get_attribute("class"))


def shot(page: object, name: str) -> Path:
    """Save a full-page screenshot as a test artefact (not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def csrf_of(html: str) -> str:
    """The CSRF token a page embeds in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)
