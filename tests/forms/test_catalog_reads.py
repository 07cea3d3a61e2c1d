"""A material kind's ``reads``: which layout reads it and which form element each document field is."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.catalog import Catalog, MaterialReading, load_catalog
from forms.errors import CatalogError
from forms.layouts import DOCUMENT_LAYOUTS

GROUPS = "groups:\n  g: {zh: 组, en: Group}\n"
ELEMENTS = (
    "elements:\n"
    "  firm: {zh: 名称, en: Name, type: string, class: public, group: g}\n"
    "  code: {zh: 代码, en: Code, type: string, format: uscc, class: public, group: g}\n"
)


def load_one(tmp_path: Path, reads: str) -> Catalog:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "one.yaml").write_text(
        GROUPS + ELEMENTS + f"materials:\n  licence: {{zh: 执照, en: Licence, reads: {reads}}}\n",
        encoding="utf-8",
    )
    return load_catalog(folder)


def problems_of(tmp_path: Path, reads: str) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_one(tmp_path, reads)
    return [problem.message_en for problem in caught.value.problems]


def test_the_shipped_kinds_that_can_be_read_declare_their_layout_and_fields(catalog: Catalog) -> None:
    readable = {key: kind.reads for key, kind in catalog.materials.items() if kind.reads is not None}
    licence = readable["business_licence"]
    assert licence is not None and licence.layout == "business-licence"
    assert dict(licence.fields) == {
        "name": "company_name",
        "uscc": "uscc",
        "legal_representative": "legal_rep_name",
        "address": "address",
        "registered_capital": "registered_capital",
    }
    assert licence.blocking == frozenset()
    id_card = readable["legal_rep_id_card"]
    assert id_card is not None and id_card.layout == "resident-id-card"
    assert dict(id_card.fields) == {"name": "legal_rep_name", "id_number": "legal_rep_id"}
    birth = readable["birth_certificate"]
    assert birth is not None and birth.layout == "birth-certificate"
    assert birth.fields["mother_id"] == "mother_id" and birth.fields["birth_date"] == "newborn_birth_date"
    id_kinds = {key for key, reads in readable.items() if reads.layout == "resident-id-card"}
    assert id_kinds >= {
        "legal_rep_id_card",
        "new_legal_rep_id_card",
        "applicant_id_card",
        "card_holder_id_card",
    }
    for reads in readable.values():  # every mapping names a field of its layout and a known element
        assert set(reads.fields) <= set(DOCUMENT_LAYOUTS[reads.layout])
        assert set(reads.fields.values()) <= set(catalog.elements)


def test_a_kind_without_reads_has_none(catalog: Catalog) -> None:
    assert catalog.materials["articles_of_association"].reads is None


def test_reads_with_blocking_fields_is_parsed_into_a_frozen_value(tmp_path: Path) -> None:
    loaded = load_one(
        tmp_path, "{layout: business-licence, fields: {name: firm, uscc: code}, blocking: [uscc]}"
    )
    reads = loaded.materials["licence"].reads
    assert reads == MaterialReading("business-licence", {"name": "firm", "uscc": "code"}, frozenset({"uscc"}))
    assert reads is not None and reads.blocking == frozenset({"uscc"})
    with pytest.raises(TypeError):
        reads.fields["address"] = "firm"  # type: ignore[index]
    assert hash(reads) == hash(
        MaterialReading("business-licence", {"uscc": "code", "name": "firm"}, frozenset({"uscc"}))
    )


def test_an_unknown_layout_is_refused(tmp_path: Path) -> None:
    [message] = problems_of(tmp_path, "{layout: passport, fields: {name: firm}}")
    assert "unknown layout 'passport'" in message


def test_a_document_field_the_layout_does_not_read_is_refused(tmp_path: Path) -> None:
    [message] = problems_of(tmp_path, "{layout: business-licence, fields: {shareholders: firm}}")
    assert "has no document field shareholders" in message


def test_a_form_element_the_catalog_does_not_know_is_refused(tmp_path: Path) -> None:
    [message] = problems_of(tmp_path, "{layout: business-licence, fields: {name: firm, uscc: credit_code}}")
    assert "'credit_code', which is not a known element" in message


def test_blocking_a_field_that_is_not_mapped_is_refused(tmp_path: Path) -> None:
    [message] = problems_of(tmp_path, "{layout: business-licence, fields: {name: firm}, blocking: [uscc]}")
    assert "blocking names fields that fields does not map: uscc" in message


def test_an_unknown_key_inside_reads_is_refused(tmp_path: Path) -> None:
    [message] = problems_of(tmp_path, "{layout: business-licence, fields: {name: firm}, threshold: 0.9}")
    assert "threshold" in message
