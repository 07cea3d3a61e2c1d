"""What a bundle's model promises: the time limit along its longest route, and its reductions.

"Before" is the manifest's baseline (items handled one by one); "after" is read off the
model: one application, the promised working days along the longest route of user tasks,
the materials still asked after exemptions and certificates, no trips when all is online.
Analytics adds the figures measured on real finished cases.

May import: ``engine.bpmn.definitions``, ``forms``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.bpmn.definitions import BundleDefinition
from forms.merge import MergedForm


def promised_days(definition: BundleDefinition, start_at: Iterable[str] = ()) -> float:
    """Working days along the longest path of user tasks (parallel branches overlap).

    From the start event by default (the bundle's promise); from the given task specs for
    a running case, whose route the applicant's answers have already narrowed.
    """
    manifest = definition.manifest
    limits = {item.task: item.time_limit_days for item in manifest.items}
    specs = definition.spec.task_specs
    memo: dict[str, float] = {}
    on_path: set[str] = set()

    def longest(name: str) -> float:
        if name in memo:
            return memo[name]
        if name in on_path:  # a loop back (e.g. a rework cycle) adds nothing to the promise
            return 0.0
        on_path.add(name)
        spec = specs[name]
        own = limits.get(getattr(spec, "bpmn_id", None) or name, 0.0)
        after = max((longest(out.name) for out in spec.outputs), default=0.0)
        on_path.discard(name)
        memo[name] = own + after
        return memo[name]

    starts = [name for name in start_at if name in specs]
    if not starts:
        starts = [
            definition.spec.start.name if getattr(definition.spec, "start", None) else next(iter(specs))
        ]
    return round(max(longest(name) for name in starts), 2)


def _percent(before: float, after: float) -> float | None:
    return None if before <= 0 else round(100.0 * (before - after) / before, 1)


def model_reductions(definition: BundleDefinition, form: MergedForm) -> dict[str, Any]:
    """Steps, days, materials and trips before (baseline) and after (the model), with percentages."""
    baseline = definition.manifest.baseline
    asked = [e for e in form.checklist() if not e.exempt]
    after = {
        "steps": 1,
        "days": promised_days(definition),
        "materials": len([e for e in asked if not e.condition]),
        "materials_max": len(asked),
        "trips": 0,
    }
    before = {
        "steps": baseline.steps,
        "days": baseline.days,
        "materials": baseline.materials,
        "trips": baseline.trips,
    }
    return {
        "before": before,
        "after": after,
        "percent": {k: _percent(float(before[k]), float(after[k])) for k in before},
        "source": baseline.source,
    }
