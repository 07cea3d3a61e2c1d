"""Deploy refuses analyst texts that are templates: blocks, expressions, unknown placeholder names."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.bpmn.analyst_texts import analyst_texts
from engine.bpmn.definitions import read_bundle_dir
from engine.bpmn.manifest import parse_manifest
from engine.bpmn.validation.bundle import validate_bundle_files
from engine.bpmn.validation.command import run_validate
from engine.errors import DefinitionError
from engine.service import Engine
from engine.storage.settings import shipped_processes_dir
from tests.support.engines import bundle_engine

SLOW = "{% for i in range(100000) %}{% for j in range(3000) %}{{ i }}{% endfor %}{% endfor %}"
HUGE = "{{ range(10**9) }}"
BUNDLE = shipped_processes_dir() / "enterprise-startup"


def with_texts(change: dict[str, Any]) -> dict[str, bytes]:
    """The shipped enterprise-startup bundle with some of its analyst texts replaced."""
    files = read_bundle_dir(BUNDLE)
    manifest = yaml.safe_load(files["bundle.yaml"])
    for path, text in change.items():
        target = manifest
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = text
    files["bundle.yaml"] = yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False).encode()
    return files


def text_problems(files: dict[str, bytes]) -> set[tuple[str, str, str]]:
    report = validate_bundle_files(files, source="test")
    return {(p.file, p.element, p.rule) for p in report.problems if p.rule.startswith("text-")}


def test_the_shipped_bundle_is_accepted_as_it_stands() -> None:
    assert validate_bundle_files(read_bundle_dir(BUNDLE), source="test").ok


def test_loops_and_calls_in_a_description_are_refused_with_file_field_and_text() -> None:
    files = with_texts({"description.zh": f"慢：{SLOW}", "description.en": f"Huge: {HUGE}"})
    report = validate_bundle_files(files, source="test")
    assert not report.ok
    found = [p for p in report.problems if p.rule.startswith("text-")]
    assert {(p.file, p.element, p.rule) for p in found} == {
        ("bundle.yaml", "description.zh", "text-block"),
        ("bundle.yaml", "description.zh", "text-unknown-name"),  # {{ i }}: no field of the bundle
        ("bundle.yaml", "description.en", "text-expression"),
    }
    messages = " ".join(p.message + " " + p.message_en for p in found)
    assert "{% for i in range(100000) %}" in messages and HUGE in messages
    assert all(p.message_en.startswith(p.element) for p in found)


def test_every_analyst_text_of_the_manifest_is_checked() -> None:
    files = with_texts(
        {
            "name.zh": "{{ company_name | upper }}",
            "items.0.name.en": "Registration of {{ company_nam }}",
            "exemptions.0.why.zh": "{% if True %}免交{% endif %}",
            "examples.0.name.en": "{{ ''.__class__ }}",
        }
    )
    assert text_problems(files) == {
        ("bundle.yaml", "name.zh", "text-expression"),
        ("bundle.yaml", "items[business-registration].name.en", "text-unknown-name"),
        ("bundle.yaml", "exemptions[business_licence].why.zh", "text-block"),
        ("bundle.yaml", "examples[0].name.en", "text-expression"),
    }
    manifest = parse_manifest(files["bundle.yaml"])
    assert [where for where, _ in analyst_texts(manifest)][:3] == [
        "name",
        "description",
        "items[business-registration].name",
    ]


def test_placeholders_of_the_bundles_fields_and_decisions_are_accepted() -> None:
    files = with_texts(
        {
            "description.zh": "{{ company_name }} 的开办：{{legal_rep_name}} 一次办好",
            "items.0.name.en": "Registration of {{ company_name }} ({{ uscc }})",
        }
    )
    assert text_problems(files) == set()


def test_the_validate_command_names_the_offending_text(tmp_path: Path) -> None:
    folder = tmp_path / "enterprise-startup"
    folder.mkdir()
    for name, data in with_texts({"description.en": HUGE}).items():
        (folder / name).write_bytes(data)
    out = io.StringIO()
    assert run_validate([str(folder)], out) == 1
    [line] = [line for line in out.getvalue().splitlines() if "text-expression" in line]
    assert "bundle.yaml" in line and "description.en" in line and HUGE in line


@pytest.fixture
def engine(sqlite_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = bundle_engine(sqlite_url, tmp_path, "mini-startup")
    yield eng
    eng.close()


def test_deploy_refuses_a_template_in_an_analyst_text(engine: Engine) -> None:
    with pytest.raises(DefinitionError) as refused:
        engine.deploy_files(with_texts({"description.zh": SLOW}), "analyst")
    assert {p.rule for p in refused.value.problems} == {"text-block", "text-unknown-name"}
    assert "enterprise-startup" not in {b.key for b in engine.list_bundles()}
