"""Every upload route against the hostile file list: a clear 4xx with a reason, nothing stored.

The routes and the family of hostile files each gets are the ``uploads`` of
route_roles.yaml (the test fails when the OpenAPI document has a file upload that is not
there); the files are built by ``hostile_files.py``. After the hostile files, one honest
upload per route must still go through, so a refusal cannot come from a wrongly sent form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from engine.bpmn.manifest import MAX_VERSION
from engine.demo import demo_pdf as pdf
from engine.errors import DefinitionError
from engine.service import Engine
from engine.storage.models import Deployment, Material
from engine.storage.settings import Settings
from tests.api.support import LiveServer
from tests.security.conftest import PageCaller
from tests.security.corpus import api_routes, fill, page_routes, route_table, shows_insides
from tests.security.hostile_files import BUNDLES, DIAGRAMS, MATERIALS, Hostile, Limits, bundle_files, zipped

FAMILIES: dict[str, list[Hostile]] = {"bundles": BUNDLES, "materials": MATERIALS, "diagrams": DIAGRAMS}
CLEAR_REFUSALS = frozenset({400, 413, 415, 422})
PLACES = {"key": "school-enrollment"}


def stored(server: LiveServer) -> tuple[int, int, frozenset[str]]:
    """What uploads can leave behind: deployments, material rows, and the files of the blob store."""
    with server.engine.db.read() as session:
        deployments = session.scalar(select(func.count()).select_from(Deployment)) or 0
        materials = session.scalar(select(func.count()).select_from(Material)) or 0
    root = Path(server.settings.materials_dir)
    files = (
        frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        if root.exists()
        else frozenset()
    )
    return deployments, materials, files


def send(
    row: dict[str, Any], path: str, upload: tuple[str, bytes, str], api: httpx.Client, page: PageCaller
) -> httpx.Response:
    """One upload (name, bytes, declared type) as the route takes it: a multipart file, or a form field."""
    form = dict(row.get("form", {}))
    if row["family"] == "diagrams":
        xml = upload[1].decode("utf-8", "replace")
        return page.client.post(path, data={**form, "xml": xml}, headers={"x-csrf-token": page.csrf})
    files = {row["field"]: upload}
    if row.get("page"):
        return page.client.post(path, data=form, files=files, headers={"x-csrf-token": page.csrf})
    return api.post(path, data=form, files=files)


def honest(family: str, round_: int) -> tuple[str, bytes, str]:
    """An upload of the family that must go through: new bytes each round (a new version, a new file)."""
    files = bundle_files()
    if family == "materials":
        return "honest.pdf", pdf(f"security: honest upload {round_}"), "application/pdf"
    diagram = files["process.bpmn"].replace(b'name="', f'name="{round_}'.encode(), 1)
    if family == "diagrams":
        return "", diagram, ""
    return (
        "honest.zip",
        zipped([("bundle.yaml", files["bundle.yaml"]), ("process.bpmn", diagram)]),
        "application/zip",
    )


def reason_of(answer: httpx.Response) -> str:
    """The refusal's reason as the caller sees it (JSON detail or problems, or the error page)."""
    if answer.headers.get("content-type", "").startswith("application/json"):
        body = answer.json()
        return str(body.get("detail") or body.get("problems") or "")
    return answer.text


def test_every_file_upload_route_is_in_the_table(api_callers: dict[str, httpx.Client]) -> None:
    uploads = route_table()["uploads"]
    document = api_callers["anonymous"].get("/openapi.json").json()
    for route in api_routes(api_callers["anonymous"]):
        body = document["paths"][route.path][route.method.lower()].get("requestBody", {})
        if "multipart/form-data" in body.get("content", {}):
            assert route.key in uploads, (
                f"{route.key} takes a file but has no hostile family in route_roles.yaml"
            )
    known = {route.key for route in page_routes()}
    assert not [key for key, row in uploads.items() if row.get("page") and key not in known]


def test_hostile_files_are_refused_and_nothing_is_stored(
    security_server: LiveServer, api_callers: dict[str, httpx.Client], page_callers: dict[str, PageCaller]
) -> None:
    settings = security_server.settings
    limits = Limits(
        material_bytes=security_server.engine.materials.limit("birth_certificate"),
        bundle_bytes=settings.max_bundle_bytes,
    )
    before = stored(security_server)
    wrong: list[str] = []
    for key, row in route_table()["uploads"].items():
        method, template = key.split(" ", 1)
        assert method == "POST"
        path = fill(template, PLACES)
        for hostile in FAMILIES[row["family"]]:
            upload = (hostile.filename, hostile.build(limits), hostile.content_type)
            answer = send(row, path, upload, api_callers[row["role"]], page_callers[row["role"]])
            label = f"{key} {hostile.label}"
            if answer.status_code not in CLEAR_REFUSALS:
                wrong.append(f"{label}: {answer.status_code} {answer.text[:200]!r}")
            elif not reason_of(answer).strip():
                wrong.append(f"{label}: {answer.status_code} without a reason")
            inside = shows_insides(answer.text)
            if inside:
                wrong.append(f"{label}: the answer shows {inside!r}")
    after = stored(security_server)
    assert not wrong, "\n".join(wrong)
    assert after == before, f"refused uploads left something behind: {before} -> {after}"


def test_an_honest_upload_still_goes_through_every_route(
    api_callers: dict[str, httpx.Client], page_callers: dict[str, PageCaller]
) -> None:
    for round_, (key, row) in enumerate(route_table()["uploads"].items()):
        path = fill(key.split(" ", 1)[1], PLACES)
        upload = honest(row["family"], round_)
        answer = send(row, path, upload, api_callers[row["role"]], page_callers[row["role"]])
        assert answer.status_code in (200, 201, 303), f"{key}: {answer.status_code} {answer.text[:300]}"


def test_bundle_versions_stay_within_an_integer_on_every_store(db_url: str, tmp_path: Path) -> None:
    """The last version an INTEGER holds deploys; one past it is refused, on SQLite and PostgreSQL."""
    engine = Engine(Settings(database_url=db_url, data_dir=tmp_path / "var"))
    try:
        engine.upgrade()
        files = bundle_files()
        last = files["bundle.yaml"].replace(b"version: 1", f"version: {MAX_VERSION}".encode())
        assert engine.deploy_files({**files, "bundle.yaml": last}, "analyst").version == MAX_VERSION
        changed = files["process.bpmn"].replace(b'name="', b'name="v2 ', 1)
        with pytest.raises(DefinitionError):
            engine.deploy_files({"bundle.yaml": last, "process.bpmn": changed}, "analyst")
        past = files["bundle.yaml"].replace(b"version: 1", f"version: {MAX_VERSION + 1}".encode())
        past = past.replace(b"key: school-enrollment", b"key: school-enrollment-v")
        diagram = files["process.bpmn"].replace(b'id="school-enrollment"', b'id="school-enrollment-v"')
        with pytest.raises(DefinitionError):
            engine.deploy_files({"bundle.yaml": past, "process.bpmn": diagram}, "analyst")
    finally:
        engine.close()
