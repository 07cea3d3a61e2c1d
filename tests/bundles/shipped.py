"""The shipped bundle folders, read straight from ``processes/`` for the catalog tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from lxml import etree

from engine.bpmn.manifest import Manifest, parse_manifest

PROCESSES = Path(__file__).resolve().parents[2] / "processes"

# The State Council's first batch of 13 key items (国发〔2024〕3号, 2024-01-16).
FIRST_BATCH = frozenset(
    {
        "enterprise-info-change",
        "transport-enterprise",
        "restaurant-opening",
        "construction-start",
        "utilities-connection",
        "credit-repair",
        "bankruptcy-info-check",
        "ipo-compliance-check",
        "newborn-birth",
        "school-enrollment",
        "social-security-card",
        "disability-services",
        "retirement",
    }
)

# The bundles added with the national catalog (issue 19): construction-start, completing the first
# batch, and the 2024 second batch (docs/catalog-batch-2024-2.md). Each ships a district variant
# (processes/<key>/variants/).
SECOND_BATCH_2024 = frozenset(
    {
        "enterprise-relocation",
        "after-death",
        "resale-home-transfer",
        "housing-fund-loan",
        "veteran-discharge",
        "employee-hiring",
        "public-rental-housing",
    }
)
CATALOG_ADDITIONS = SECOND_BATCH_2024 | {"construction-start"}

# The first batch, plus enterprise startup and deregistration (earlier reforms, not in the batch),
# plus the 2024 second batch.
REQUIRED_KEYS = FIRST_BATCH | SECOND_BATCH_2024 | {"enterprise-startup", "enterprise-deregistration"}

# The README table's batch column (批次) for each catalog list of a manifest.
BATCH_LABELS = {
    "national-2024-1": "第一批 2024",
    "national-2024-2": "第二批 2024",
    "national-2024-3": "第三批 2024",
    "national-2025-1": "第一批 2025",
    "national-2025-2": "第二批 2025",
    "local": "本地 local",
}

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI}


def bundle_dirs() -> list[Path]:
    """Every folder under processes/ that holds a bundle.yaml, in name order."""
    return sorted(p.parent for p in PROCESSES.glob("*/bundle.yaml"))


def bundle_keys() -> list[str]:
    """The folder names of the shipped bundles (each equals its manifest key)."""
    return [p.name for p in bundle_dirs()]


@cache
def manifest(key: str) -> Manifest:
    """The parsed manifest of one shipped bundle."""
    path = PROCESSES / key / "bundle.yaml"
    return parse_manifest(path.read_bytes(), str(path))


@cache
def diagram(key: str) -> etree._ElementTree:
    """The parsed process.bpmn of one shipped bundle."""
    return etree.parse(str(PROCESSES / key / manifest(key).process))


@cache
def departments() -> dict[str, dict[str, str]]:
    """processes/departments.yaml: key -> {zh, en, kind}."""
    raw = yaml.safe_load((PROCESSES / "departments.yaml").read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw
