"""The OpenAPI document is a contract: it stays byte-identical to ``tests/api/openapi.json``.

A change to the REST surface (a route, a schema, a field, a description) updates this file on
purpose, in the same commit, with a design note saying why; a refactoring never does. The file
is written exactly as the test compares it::

    json.dumps(create_app(settings).openapi(), ensure_ascii=False, indent=1) + "\\n"
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from api.app import create_app
from engine.storage.settings import Settings
from tests.api.support import sqlite_server

DOCUMENT = Path(__file__).with_name("openapi.json")


def test_the_openapi_document_is_byte_identical_to_the_file(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=tmp_path)
    written = json.dumps(create_app(settings).openapi(), ensure_ascii=False, indent=1) + "\n"
    assert written == DOCUMENT.read_text(encoding="utf-8")


def test_a_served_app_answers_the_same_document(tmp_path: Path) -> None:
    with sqlite_server(tmp_path) as running:
        served = httpx.get(running.base_url + "/openapi.json", timeout=60)
    assert served.status_code == 200
    assert json.loads(served.content) == json.loads(DOCUMENT.read_text(encoding="utf-8"))
