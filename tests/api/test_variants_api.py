"""Bundle variants over REST: the catalogue lists bases with their variants, the detail answers for a
division, and analysts deploy variant zips (a scoped analyst only inside its division).

A real server on a loopback port with the shipped bundles, the shipped 徐汇区 variant and the
demo accounts (``analyst`` reaches the whole platform, ``analyst@310101`` 黄浦区 only).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from engine.storage.settings import shipped_processes_dir
from tests.api.support import LiveServer, sqlite_server

STARTUP = shipped_processes_dir() / "enterprise-startup"
XUHUI = STARTUP / "variants" / "310104" / "bundle.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own: these tests deploy variants."""
    with sqlite_server(tmp_path_factory.mktemp("variants-api")) as running:
        yield running


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _variant_zip(**changes: Any) -> bytes:
    raw = yaml.safe_load(XUHUI.read_text(encoding="utf-8"))
    raw.update(changes)
    return _zip({"bundle.yaml": yaml.safe_dump(raw, allow_unicode=True).encode("utf-8")})


def _deploy(client: httpx.Client, data: bytes) -> httpx.Response:
    return client.post("/api/bundles", files={"file": ("variant.zip", io.BytesIO(data), "application/zip")})


def test_the_catalogue_lists_bases_with_their_variants(server: LiveServer) -> None:
    with server.as_user("applicant1") as c:
        r = c.get("/api/bundles")
    assert r.status_code == 200, r.text
    listed = {b["key"]: b for b in r.json()}
    folders = [p for p in shipped_processes_dir().iterdir() if (p / "bundle.yaml").is_file()]
    assert len(listed) == len(folders)
    startup = listed["enterprise-startup"]
    assert startup["division"] is None
    xuhui = next(v for v in startup["variants"] if v["division"] == "310104")
    assert xuhui["version"] > startup["version"]
    assert xuhui["name"]["zh"] == "上海市徐汇区"
    assert listed["school-enrollment"]["variants"] == []


def test_the_detail_answers_with_the_variant_that_applies_in_a_division(server: LiveServer) -> None:
    with server.as_user("applicant1") as c:
        xuhui = c.get("/api/bundles/enterprise-startup", params={"division": "310104"}).json()
        street = c.get("/api/bundles/enterprise-startup", params={"division": "310104003"}).json()
        base = c.get("/api/bundles/enterprise-startup").json()
        elsewhere = c.get("/api/bundles/enterprise-startup", params={"division": "330106"}).json()
        bad = c.get("/api/bundles/enterprise-startup", params={"division": "31"})
    assert xuhui["division"] == "310104" and street["version"] == xuhui["version"]
    assert (base["division"], elsewhere["division"], elsewhere["version"]) == (None, None, base["version"])
    limits = {i["key"]: i["time_limit_days"] for i in xuhui["items"]}
    assert limits["business-registration"] == 0.5
    assert {i["key"]: i["time_limit_days"] for i in base["items"]}["business-registration"] == 1
    checklist = {m["kind"]: m for m in xuhui["materials"]}
    assert checklist["premises_proof"]["exempt"] and "承诺制" in checklist["premises_proof"]["why"]["zh"]
    assert not {m["kind"]: m for m in base["materials"]}["premises_proof"]["exempt"]
    office = xuhui["offices"]["market-regulation"]
    assert office["phone"] == "12345" and "徐汇区" in office["address"] and office["hours"]
    assert base["offices"] == {}
    assert xuhui["reductions"]["before"]["days"] == 9
    assert bad.status_code == 422


def test_an_analyst_deploys_a_variant_zip(server: LiveServer) -> None:
    zipped = _variant_zip(
        division="310105", name={"zh": "企业开办一件事（长宁区）", "en": "Startup (Changning)"}
    )
    with server.as_user("analyst") as c:
        first = _deploy(c, zipped)
        again = _deploy(c, zipped)
        detail = c.get("/api/bundles/enterprise-startup", params={"division": "310105"}).json()
    assert first.status_code == 201, first.text
    assert (first.json()["division"], first.json()["created"]) == ("310105", True)
    assert again.status_code == 200 and again.json()["version"] == first.json()["version"]
    assert (detail["division"], detail["version"]) == ("310105", first.json()["version"])
    assert detail["name"]["zh"] == "企业开办一件事（长宁区）"


def test_a_variant_with_a_longer_time_limit_is_refused_with_its_element(server: LiveServer) -> None:
    zipped = _variant_zip(division="310106", items={"business-registration": {"time_limit_days": 5}})
    with server.as_user("analyst") as c:
        r = _deploy(c, zipped)
    assert r.status_code == 422, r.text
    problems = r.json()["detail"]
    assert any(
        p["rule"] == "variant-time-limit" and p["element"] == "items[business-registration].time_limit_days"
        for p in problems
    ), problems


def test_a_scoped_analyst_deploys_only_inside_its_division(server: LiveServer) -> None:
    with server.as_user("analyst@310101") as c:
        outside = _deploy(c, _variant_zip(division="310107"))
        base = _deploy(c, _zip({p.name: p.read_bytes() for p in Path(STARTUP).iterdir() if p.is_file()}))
        inside = _deploy(c, _variant_zip(division="310101"))
    assert outside.status_code == 403, outside.text
    assert base.status_code == 403, base.text
    assert inside.status_code == 201, inside.text
    assert inside.json()["division"] == "310101"


def test_a_new_base_version_answers_with_the_variants_it_re_applied(server: LiveServer) -> None:
    files = {p.name: p.read_bytes() for p in Path(STARTUP).iterdir() if p.is_file()}
    raw = yaml.safe_load(files["bundle.yaml"])
    raw["description"] = {"zh": "新版说明", "en": "New description"}
    files["bundle.yaml"] = yaml.safe_dump(raw, allow_unicode=True).encode("utf-8")
    with server.as_user("analyst") as c:
        r = _deploy(c, _zip(files))
        detail = c.get("/api/bundles/enterprise-startup", params={"division": "310104"}).json()
    assert r.status_code == 201, r.text
    body = r.json()
    redeployed = {v["division"]: v for v in body["variants"]}
    assert "310104" in redeployed and all(v["created"] for v in redeployed.values())
    assert all(v["version"] > body["version"] for v in redeployed.values())
    assert body["skipped"] == [] and body["division"] is None
    assert detail["version"] == redeployed["310104"]["version"]
    assert {i["key"]: i["time_limit_days"] for i in detail["items"]}["business-registration"] == 0.5
