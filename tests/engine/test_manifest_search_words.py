"""Manifests may declare search words (智能导办): keywords, synonyms, and keywords per 情形, all checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bpmn.manifest import parse_manifest
from engine.errors import DefinitionError

MINI = (Path(__file__).parent / "bundles" / "mini-startup" / "bundle.yaml").read_text(encoding="utf-8")
SHIPPED = sorted((Path(__file__).parents[2] / "processes").glob("*/bundle.yaml"))


def test_search_words_are_optional_and_read_when_given() -> None:
    assert parse_manifest(MINI).keywords == ()
    manifest = parse_manifest(MINI + "\nkeywords: [开公司, ' 注册公司 ']\nsynonyms: {公司: [企业, 单位]}\n")
    assert manifest.keywords == ("开公司", "注册公司")
    assert manifest.synonyms == {"公司": ("企业", "单位")}


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("keywords: [开公司, 开公司]", "keywords"),
        ("keywords: [开公司, 3]", "keywords.1"),
        ("keywords: ['']", "keywords.0"),
        ("keywords: 开公司", "keywords"),
        ("synonyms: {公司: [企业, 企业]}", "synonyms"),
        ("synonyms: {公司: [公司]}", "synonyms"),
        ("synonyms: {公司: [[企业]]}", "synonyms.公司.0"),
    ],
)
def test_a_duplicate_or_a_word_that_is_not_a_string_is_a_problem(extra: str, where: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_manifest(MINI + "\n" + extra + "\n")
    assert any(p.where == where for p in refused.value.problems), refused.value.problems


def test_every_shipped_bundle_and_each_of_its_situations_declare_search_words() -> None:
    for path in SHIPPED:
        manifest = parse_manifest(path.read_bytes(), str(path))
        assert len(manifest.keywords) >= 10, path
        assert manifest.synonyms, path
        assert all(e.keywords for e in manifest.examples), path
