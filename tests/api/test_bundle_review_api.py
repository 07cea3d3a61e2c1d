"""Four-eyes review over REST: a draft deployed with ``?draft=true`` is not offered until another
analyst publishes it; the author gets a clear 403; a return carries a note; the plain deploy
still publishes at once (the existing contract).

A real server on a loopback port with the shipped bundles, the demo accounts and a second
analyst account (``analyst.reviewer``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from engine.bpmn.definitions import read_bundle_dir
from engine.bpmn.deployments import load_departments
from engine.people.accounts import AccountService
from engine.people.actors import Role
from engine.storage.settings import shipped_processes_dir
from tests.api.support import LiveServer, sqlite_server

KEY = "school-enrollment"
REVIEWER = "analyst.reviewer"
REVIEWER_PASSWORD = "quiet-harbour-lantern-47"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own (these tests deploy versions) with a second analyst."""
    with sqlite_server(tmp_path_factory.mktemp("bundle-review-api")) as running:
        engine = running.engine
        accounts = AccountService(
            engine.db, load_departments(running.settings.processes_dir), regions=engine.regions
        )
        accounts.create(REVIEWER, REVIEWER_PASSWORD, Role.ANALYST, display_name="审核分析员")
        yield running


def _zip(edition: str) -> bytes:
    """The shipped bundle with a description added: new content each ``edition``."""
    files = read_bundle_dir(shipped_processes_dir() / KEY)
    text = files["bundle.yaml"].decode("utf-8")
    start = text.index("\nname:") + 1
    files["bundle.yaml"] = (
        text[:start] + f"description: {{zh: {edition}, en: {edition}}}\n" + text[start:]
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _deploy(client: httpx.Client, data: bytes, **params: str) -> httpx.Response:
    return client.post(
        "/api/bundles", params=params, files={"file": ("bundle.zip", io.BytesIO(data), "application/zip")}
    )


def _reviewer(server: LiveServer) -> httpx.Client:
    return server.client(server.token(REVIEWER, REVIEWER_PASSWORD))


def _offered(server: LiveServer) -> int:
    with server.as_user("applicant1") as c:
        return int(next(b for b in c.get("/api/bundles").json() if b["key"] == KEY)["version"])


def test_a_draft_waits_for_another_analyst_who_publishes_it(server: LiveServer) -> None:
    live = _offered(server)
    with server.as_user("analyst") as author:
        r = _deploy(author, _zip("第二版"), draft="true")
        assert r.status_code == 201, r.text
        draft = r.json()
        assert draft["status"] == "draft" and draft["version"] > live
        version = draft["version"]
        assert _offered(server) == live
        with server.as_user("applicant1") as c:
            assert c.get(f"/api/bundles/{KEY}").json()["version"] == live
            assert c.get(f"/api/bundles/{KEY}", params={"version": version}).status_code == 404
            assert c.get(f"/api/bundles/{KEY}/diagram", params={"version": version}).status_code == 404
        assert author.get(f"/api/bundles/{KEY}", params={"version": version}).json()["version"] == version
        listed = {v["version"]: v for v in author.get(f"/api/bundles/{KEY}/versions").json()}
        assert listed[version]["status"] == "draft" and listed[version]["created_by"] == "analyst"
        assert listed[live]["status"] == "published"
        r = author.post(f"/api/bundles/{KEY}/versions/{version}/submit")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "in_review" and r.json()["submitted_by"] == "analyst"
        refused = author.post(f"/api/bundles/{KEY}/versions/{version}/publish")
        assert refused.status_code == 403, refused.text
        assert "四眼原则" in refused.json()["detail"] and "another analyst" in refused.json()["detail"]
    with _reviewer(server) as reviewer:
        r = reviewer.post(f"/api/bundles/{KEY}/versions/{version}/publish", json={"note": "同意"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["author"], body["reviewed_by"], body["review_note"]) == (
            "published",
            "analyst",
            REVIEWER,
            "同意",
        )
        assert body["reviewed_at"]
        again = reviewer.post(f"/api/bundles/{KEY}/versions/{version}/publish")
        assert again.status_code == 409, again.text
    assert _offered(server) == version


def test_a_return_needs_a_note_and_sends_the_version_back_to_draft(server: LiveServer) -> None:
    with server.as_user("analyst") as author:
        version = _deploy(author, _zip("第三版"), draft="true").json()["version"]
        author.post(f"/api/bundles/{KEY}/versions/{version}/submit").raise_for_status()
    with _reviewer(server) as reviewer:
        missing = reviewer.post(f"/api/bundles/{KEY}/versions/{version}/return", json={})
        assert missing.status_code == 422, missing.text
        unknown_key = reviewer.post(f"/api/bundles/{KEY}/versions/{version}/return", json={"reason": "x"})
        assert unknown_key.status_code == 422
        r = reviewer.post(f"/api/bundles/{KEY}/versions/{version}/return", json={"note": "请补充说明"})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["review_note"]) == ("draft", "请补充说明")
        assert reviewer.post(f"/api/bundles/{KEY}/versions/{version}/withdraw").status_code == 403
    with server.as_user("analyst") as author:
        listed = {v["version"]: v for v in author.get(f"/api/bundles/{KEY}/versions").json()}
        assert listed[version]["review_note"] == "请补充说明" and listed[version]["reviewed_by"] == REVIEWER
        r = author.post(f"/api/bundles/{KEY}/versions/{version}/withdraw")
        assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert _offered(server) != version


def test_who_may_review_and_the_plain_deploy_still_publishes(server: LiveServer) -> None:
    with server.as_user("applicant1") as applicant:
        assert applicant.get(f"/api/bundles/{KEY}/versions").status_code == 403
        assert applicant.post(f"/api/bundles/{KEY}/versions/1/submit").status_code == 403
    with server.as_user("analyst") as analyst:
        assert analyst.post(f"/api/bundles/{KEY}/versions/999/submit").status_code == 404
        assert analyst.get("/api/bundles/no-such-bundle/versions").status_code == 404
        r = _deploy(analyst, _zip("第四版"))
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "published"
    assert _offered(server) == r.json()["version"]
    with server.client() as anonymous:
        assert anonymous.post(f"/api/bundles/{KEY}/versions/1/publish").status_code == 401
