"""The search index over the shipped manifests and the test set, for the quality test and the bench."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from engine.bpmn.deployments import load_departments
from engine.bpmn.manifest import parse_manifest
from engine.cases.bundle_search import BundleIndex, BundleSource
from engine.cases.views import Label

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
QUERIES = Path(__file__).with_name("queries.yaml")


@dataclass(frozen=True)
class Query:
    """One question of the test set, with the bundle (and 情形, by its Chinese name) that answers it."""

    q: str
    bundle: str
    situation: str | None = None


@cache
def shipped_index() -> BundleIndex:
    """The index the engine builds for the shipped bundles (same manifests, same department names)."""
    departments = {k: Label(v["zh"], v.get("en", k)) for k, v in load_departments(PROCESSES).items()}
    return BundleIndex(
        [
            BundleSource(parse_manifest(p.read_bytes()), departments)
            for p in sorted(PROCESSES.glob("*/bundle.yaml"))
        ]
    )


def situation_names() -> dict[str, list[str]]:
    """Each shipped bundle's 情形 (its examples' Chinese names), in order."""
    return {
        p.parent.name: [e.name.zh for e in parse_manifest(p.read_bytes()).examples]
        for p in sorted(PROCESSES.glob("*/bundle.yaml"))
    }


def queries() -> list[Query]:
    """The test set (tests/search/queries.yaml)."""
    return [Query(**row) for row in yaml.safe_load(QUERIES.read_text(encoding="utf-8"))]


@dataclass(frozen=True)
class Quality:
    """How often the expected bundle comes first, or in the first three; and the 情形 first when given."""

    total: int
    top1: int
    top3: int
    situations: int
    situations_right: int
    misses: tuple[str, ...]


def measure(index: BundleIndex, rows: list[Query]) -> Quality:
    """Run every question of the test set through the index."""
    names = situation_names()
    top1 = top3 = asked = right = 0
    misses: list[str] = []
    for row in rows:
        found = index.search(row.q).found
        keys = [f.key for f in found]
        top1 += keys[:1] == [row.bundle]
        top3 += row.bundle in keys[:3]
        if keys[:1] != [row.bundle]:
            misses.append(f"{row.q} -> {keys[:3]} (expected {row.bundle})")
        if row.situation is not None:
            asked += 1
            hit = next((f for f in found if f.key == row.bundle), None)
            right += bool(
                hit and hit.situations and names[row.bundle][hit.situations[0].index] == row.situation
            )
    return Quality(len(rows), top1, top3, asked, right, tuple(misses))
