"""The manifest's ``catalog`` block: a fixed list; known lead and cooperating departments covering every item.

Each case adds one catalog block to the valid minimal bundle (items of market-regulation and
tax) and expects exactly the named problems, or none.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.bpmn.manifest import CATALOG_LISTS, parse_manifest
from engine.bpmn.validation.bundle import validate_bundle_files

VALID = Path(__file__).parent / "fixtures" / "valid-minimal"


def _files(catalog: str) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in VALID.iterdir() if p.is_file()}
    text = files["bundle.yaml"].decode()
    files["bundle.yaml"] = text.replace(
        "\nprocess: process.bpmn\n", f"\nprocess: process.bpmn\n{catalog}", 1
    ).encode()
    return files


def _block(
    listed: str = "national-2024-1", lead: str = "market-regulation", cooperating: str = "[tax]"
) -> str:
    return (
        "catalog:\n"
        f"  list: {listed}\n"
        "  document: 国发〔2024〕3号\n"
        "  published: 2024-01-16\n"
        "  item_source: 国发〔2024〕3号 附件《重点事项清单》\n"
        f"  lead: {lead}\n"
        f"  cooperating: {cooperating}\n"
    )


def _problems(catalog: str) -> set[tuple[str, str]]:
    report = validate_bundle_files(_files(catalog))
    return {(p.element, p.rule) for p in report.problems}


def test_a_complete_catalog_block_is_read_and_passes() -> None:
    assert _problems(_block()) == set()
    manifest = parse_manifest(_files(_block())["bundle.yaml"])
    assert manifest.catalog is not None
    assert manifest.catalog.published == date(2024, 1, 16)
    assert manifest.catalog.departments == ("market-regulation", "tax")


def test_the_list_is_one_of_the_fixed_set() -> None:
    assert CATALOG_LISTS == (
        "national-2024-1",
        "national-2024-2",
        "national-2024-3",
        "national-2025-1",
        "national-2025-2",
        "local",
    )
    assert ("catalog.list", "schema") in _problems(_block(listed="national-2023-9"))
    assert _problems(_block(listed="local")) == set()


def test_an_unknown_lead_or_cooperating_department_is_named() -> None:
    assert ("catalog", "catalog-department") in _problems(
        _block(lead="ministry-of-magic", cooperating="[market-regulation, tax]")
    )
    assert ("catalog", "catalog-department") in _problems(_block(cooperating="[tax, ministry-of-magic]"))


def test_every_department_owning_an_item_is_lead_or_cooperating() -> None:
    assert _problems(_block(cooperating="[]")) == {("catalog", "catalog-owner")}


def test_a_department_is_named_once() -> None:
    assert ("catalog.cooperating", "catalog-department") in _problems(
        _block(cooperating="[tax, market-regulation]")
    )


@pytest.mark.parametrize("missing", ["document", "published", "item_source", "lead"])
def test_the_source_fields_are_required(missing: str) -> None:
    block = "\n".join(line for line in _block().splitlines() if not line.startswith(f"  {missing}:")) + "\n"
    assert (f"catalog.{missing}", "schema") in _problems(block)


def test_an_unconfirmed_document_is_null_and_said_so() -> None:
    unconfirmed = (
        _block(listed="national-2024-2")
        .replace("  document: 国发〔2024〕3号\n", "  document: null\n")
        .replace("  published: 2024-01-16\n", "  published: null\n")
    )
    assert ("catalog", "schema") in _problems(unconfirmed)
    said = unconfirmed.replace("item_source: ", "item_source: NOT CONFIRMED (document and date) ")
    assert _problems(said) == set()
    manifest = parse_manifest(_files(said)["bundle.yaml"])
    assert manifest.catalog is not None
    assert (manifest.catalog.document, manifest.catalog.published) == (None, None)
