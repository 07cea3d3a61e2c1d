"""``onething validate`` on variants: a variant folder is checked against its base folder two levels up."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from engine.bpmn.validation.command import run_validate
from engine.bpmn.validation.paths import validate_paths
from engine.storage.settings import shipped_processes_dir

STARTUP = shipped_processes_dir() / "enterprise-startup"
ROOT = Path(__file__).resolve().parents[3]


def _copy(tmp_path: Path, **overrides: object) -> Path:
    """The shipped bundle and its 徐汇区 variant copied under tmp_path; the overlay's keys changed."""
    base = tmp_path / "processes" / "enterprise-startup"
    shutil.copytree(STARTUP, base)
    variant = base / "variants" / "310104"
    raw = yaml.safe_load((variant / "bundle.yaml").read_text(encoding="utf-8"))
    raw.update(overrides)
    (variant / "bundle.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return variant


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "validate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def test_the_cli_refuses_a_variant_with_a_longer_time_limit(tmp_path: Path) -> None:
    variant = _copy(tmp_path, items={"business-registration": {"time_limit_days": 3}})
    done = _cli(str(variant))
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if "(variant-time-limit)" in line)
    assert line.startswith(f"{variant / 'bundle.yaml'}: items[business-registration].time_limit_days: ")
    assert "3 天长于基础版本的 1 天" in line and "longer than the base's 1" in line


def test_the_cli_passes_the_shipped_variant_and_checks_it_with_its_base(tmp_path: Path) -> None:
    variant = _copy(tmp_path)
    done = _cli(str(variant))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{variant}: 通过 OK; 可运行 runnable" in done.stdout
    reports = validate_paths([variant.parent.parent])
    assert [Path(r.path).name for r in reports] == ["enterprise-startup", "310104"]
    assert "variant" in reports[1].checked and all(r.ok for r in reports)


def test_a_base_change_that_breaks_its_variant_fails_validate_of_the_base_folder(tmp_path: Path) -> None:
    variant = _copy(tmp_path)
    base = variant.parent.parent
    raw = yaml.safe_load((base / "bundle.yaml").read_text(encoding="utf-8"))
    raw["items"][0]["time_limit_days"] = 0.25
    (base / "bundle.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    assert run_validate([str(base)], out) == 1
    assert "(variant-time-limit)" in out.getvalue()


def test_a_variant_without_its_base_at_hand_says_so(tmp_path: Path) -> None:
    lone = tmp_path / "310104"
    shutil.copytree(STARTUP / "variants" / "310104", lone)
    out = io.StringIO()
    assert run_validate([str(lone)], out) == 1
    assert "(variant-base)" in out.getvalue()


def test_a_folder_named_for_another_division_is_a_problem(tmp_path: Path) -> None:
    variant = _copy(tmp_path, division="310101")
    out = io.StringIO()
    assert run_validate([str(variant)], out) == 1
    assert "division: " in out.getvalue() and "(variant-division)" in out.getvalue()


def test_a_variant_that_adds_items_to_a_closed_base_fails_validate(tmp_path: Path) -> None:
    local = {
        "key": "local-check",
        "name": {"zh": "属地核查"},
        "department": "market-regulation",
        "task": "Task_local_check",
        "time_limit_days": 0.5,
    }
    variant = _copy(tmp_path, add_items=[local])
    out = io.StringIO()
    assert run_validate([str(variant)], out) == 1
    assert "add_items: " in out.getvalue() and "(variant-not-extensible)" in out.getvalue()


def test_the_variants_folder_and_a_variant_manifest_are_validated_as_variants(tmp_path: Path) -> None:
    variant = _copy(tmp_path, items={"seal-engraving": {"time_limit_days": 1}})
    for given in (variant.parent, variant / "bundle.yaml"):
        (report,) = validate_paths([given])
        assert report.path == str(variant)
        assert {(p.element, p.rule) for p in report.problems} == {
            ("items[seal-engraving].time_limit_days", "variant-time-limit")
        }
