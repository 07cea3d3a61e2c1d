"""Where a bundle comes from, over REST: ``catalog`` on the bundle detail and in the catalogue list.

A real server on a loopback port with the shipped bundles; the 徐汇区 variant of enterprise
startup carries its base's catalog block through the merge.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.support import LiveServer, sqlite_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with sqlite_server(tmp_path_factory.mktemp("catalog-api")) as running:
        yield running


def test_the_bundle_detail_names_its_list_document_and_departments(server: LiveServer) -> None:
    with server.as_user("applicant1") as c:
        r = c.get("/api/bundles/construction-start")
    assert r.status_code == 200, r.text
    source = r.json()["catalog"]
    assert source["list"] == "national-2024-1"
    assert (source["document"], source["published"]) == ("国发〔2024〕3号", "2024-01-16")
    assert source["lead"] == "housing-construction"
    assert source["cooperating"] == ["natural-resources", "civil-air-defence"]
    assert "建筑工程开工" in source["item_source"]


def test_the_catalogue_and_a_variant_carry_the_block(server: LiveServer) -> None:
    with server.as_user("applicant1") as c:
        listed = {b["key"]: b for b in c.get("/api/bundles").json()}
        xuhui = c.get("/api/bundles/enterprise-startup", params={"division": "310104"})
    assert all(b["catalog"] is not None for b in listed.values())
    assert listed["enterprise-startup"]["catalog"]["list"] == "local"
    assert listed["enterprise-info-change"]["catalog"]["list"] == "national-2024-1"
    assert xuhui.status_code == 200, xuhui.text
    assert xuhui.json()["division"] == "310104"
    assert xuhui.json()["catalog"] == listed["enterprise-startup"]["catalog"]
