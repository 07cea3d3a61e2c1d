"""Analyst text on the pages is data: a template in a bundle description neither runs nor fails.

The bundles here hold what deploy now refuses, so they are stored the way a version deployed
before that check was: a deployment row written straight to the database of a real server.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from engine.bpmn.definitions import digest_files, read_bundle_dir
from engine.bpmn.manifest import parse_manifest
from engine.people.accounts import DEMO_PASSWORD
from engine.storage.models import Deployment
from engine.storage.settings import shipped_processes_dir
from tests.api.support import LiveServer

KEY = "enterprise-startup"
SLOW = "{% for i in range(100000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}"  # 10 s in Jinja
HUGE = "{{ range(10**9) }}"
QUICK = 0.050  # seconds the hostile text may add to the page


def deploy_unchecked(server: LiveServer, description: dict[str, str]) -> int:
    """A new version of the shipped bundle with this description, stored without validation."""
    files = read_bundle_dir(shipped_processes_dir() / KEY)
    manifest = yaml.safe_load(files["bundle.yaml"])
    manifest["description"] = description
    files["bundle.yaml"] = yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False).encode()
    with server.engine.db.write() as session:
        newest = session.scalar(select(func.max(Deployment.version)).where(Deployment.key == KEY))
        assert newest is not None
        version = newest + 1
        session.add(
            Deployment(
                key=KEY,
                version=version,
                digest=digest_files(files),
                manifest=parse_manifest(files["bundle.yaml"]).model_dump(mode="json"),
                files={name: data.decode("utf-8") for name, data in files.items()},
                created_by="analyst",
            )
        )
    return version


@pytest.fixture(scope="module")
def analyst(server: LiveServer) -> Iterator[httpx.Client]:
    """The analyst signed in to the pages through the login form."""
    browser = server.client()
    found = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
    assert found is not None
    answer = browser.post(
        "/login", data={"username": "analyst", "password": DEMO_PASSWORD, "csrf_token": found.group(1)}
    )
    assert answer.status_code == 303, answer.text
    yield browser
    browser.close()


def fastest(browser: httpx.Client, url: str) -> tuple[httpx.Response, float]:
    """The page and the shortest of three timed loads (after one warm-up load)."""
    answer = browser.get(url)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        answer = browser.get(url)
        times.append(time.perf_counter() - started)
    return answer, min(times)


def test_a_looping_description_is_shown_as_written_and_quickly(
    server: LiveServer, analyst: httpx.Client
) -> None:
    plain = deploy_unchecked(server, {"zh": "普通说明", "en": "A plain description"})
    slow = deploy_unchecked(server, {"zh": SLOW, "en": SLOW})
    baseline, plain_time = fastest(analyst, f"/studio/{KEY}?version={plain}")
    assert baseline.status_code == 200 and "普通说明" in baseline.text
    page, slow_time = fastest(analyst, f"/studio/{KEY}?version={slow}")
    assert page.status_code == 200, page.text[:500]
    assert f"<p>{html.escape(SLOW)}</p>" in page.text
    assert slow_time < plain_time + QUICK, f"{slow_time:.3f} s against {plain_time:.3f} s"


def test_a_huge_range_in_a_description_is_no_server_error(server: LiveServer, analyst: httpx.Client) -> None:
    plain = deploy_unchecked(server, {"zh": "普通说明二", "en": "Another plain description"})
    huge = deploy_unchecked(server, {"zh": f"说明 {HUGE}", "en": HUGE})
    _, plain_time = fastest(analyst, f"/studio/{KEY}?version={plain}")
    page, huge_time = fastest(analyst, f"/studio/{KEY}?version={huge}")
    assert page.status_code == 200, page.text[:500]
    assert f"<p>说明 {HUGE}</p>" in page.text
    assert huge_time < plain_time + QUICK, f"{huge_time:.3f} s against {plain_time:.3f} s"


def test_markup_in_a_description_is_escaped(server: LiveServer, analyst: httpx.Client) -> None:
    version = deploy_unchecked(server, {"zh": "<script>alert(1)</script>{{ company_name }}", "en": ""})
    page = analyst.get(f"/studio/{KEY}?version={version}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    # No case is behind the studio page: a placeholder has no value and stays as written.
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;{{ company_name }}</p>" in page.text
