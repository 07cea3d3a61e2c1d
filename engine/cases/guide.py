"""情形引导 for a bundle: its questions, and which items, materials and time limit a set of answers means.

``forms.guidance`` makes the questions from the form's conditions and the fields the
diagram's gateways read (found here, in the BPMN's condition expressions); the items come
from running the diagram itself in memory (``engine.bpmn.simulation.run_example``) with the
bundle's first example overridden by the answers, so the guide and the engine can never
disagree on the route. Unanswered questions take every choice: an item or material needed
on every such route is "needed", one needed on some only is "depends on your answers", and
the time limit is the longest. Routes are kept per diagram (its digest) and full set of answers.

May import: ``engine.cases``, ``engine.bpmn``, ``engine.errors``, ``forms``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.bpmn.definitions import BundleDefinition
from engine.bpmn.expressions.program import names_used
from engine.bpmn.manifest import Example, Text
from engine.bpmn.simulation import run_example
from engine.cases.core import CaseCore
from engine.errors import EngineError
from forms.checklist import ChecklistEntry
from forms.guidance import MaterialNeed, Question, completions, materials_needed, parse_answers, questions
from forms.guidance import prefill_query as _prefill_query

BPMN_MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# Routes kept in memory (bundle digest, full answers) -> (items, days); a guide has a few dozen at most.
ROUTE_CACHE_SIZE = 2048


@dataclass(frozen=True)
class GuideItem:
    """An item under the answers: its names, department, time limit, and whether it surely runs."""

    key: str
    zh: str
    en: str
    department: Mapping[str, str]
    days: float
    always: bool


@dataclass(frozen=True)
class Guide:
    """A bundle's guide for one set of answers (all, some or none of the questions answered)."""

    bundle: str
    version: int
    name: Mapping[str, str]
    questions: tuple[Question, ...]
    answers: Mapping[str, bool | str]
    items: tuple[GuideItem, ...]
    materials: tuple[MaterialNeed, ...]
    exempt: tuple[ChecklistEntry, ...]
    days: float
    all_items: int

    @property
    def complete(self) -> bool:
        """Whether every question is answered (the result is then one route, not a range)."""
        return all(q.field in self.answers for q in self.questions)

    def prefill(self) -> dict[str, str]:
        """The answers as the form page's query parameters (``/apply/{key}?…``)."""
        return _prefill_query(self.answers)


def gateway_fields(definition: BundleDefinition) -> frozenset[str]:
    """The case fields the diagram's conditions (sequence flows out of gateways) read."""
    names: set[str] = set()
    for element in definition.bpmn.iter(f"{{{BPMN_MODEL}}}conditionExpression"):
        try:
            names |= names_used((element.text or "").strip())
        except EngineError:  # a refused expression never deployed; nothing to ask about it
            continue
    return frozenset(names)


def route_days(definition: BundleDefinition, items: frozenset[str]) -> float:
    """Working days along the longest path of the diagram, counting only the items on the route."""
    limits = {i.task: i.time_limit_days for i in definition.manifest.items if i.key in items}
    specs = definition.spec.task_specs
    memo: dict[str, float] = {}
    on_path: set[str] = set()

    def longest(name: str) -> float:
        if name in memo:
            return memo[name]
        if name in on_path:  # a loop back adds nothing to the promise
            return 0.0
        on_path.add(name)
        spec = specs[name]
        own = limits.get(getattr(spec, "bpmn_id", None) or name, 0.0)
        after = max((longest(out.name) for out in spec.outputs), default=0.0)
        on_path.discard(name)
        memo[name] = own + after
        return memo[name]

    start = definition.spec.start.name if getattr(definition.spec, "start", None) else next(iter(specs))
    return round(longest(start), 2)


def _route(definition: BundleDefinition, answers: Mapping[str, Any]) -> tuple[frozenset[str], float]:
    """The items the diagram runs for the first example with these answers, and their time limit.

    Without an example, or when the run stops short, every item is counted (never fewer
    than may be needed).
    """
    manifest = definition.manifest
    every = frozenset(item.key for item in manifest.items)
    if not manifest.examples:
        return every, route_days(definition, every)
    decisions: dict[str, dict[str, Any]] = {}
    for example in manifest.examples:
        for key, decision in example.decisions.items():
            decisions.setdefault(key, dict(decision))
    base = manifest.examples[0]
    trial = Example(name=Text(zh="情形引导", en="guide"), data={**base.data, **answers}, decisions=decisions)
    run = run_example(definition, trial)
    items = every if run.stopped else frozenset(run.items) & every
    return items, route_days(definition, items)


class Guiding(CaseCore):
    """The guide of every bundle, for the guide page and its REST call."""

    _route_lock = threading.Lock()
    _routes: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[frozenset[str], float]] = {}  # noqa: RUF012

    def guide(self, key: str, raw_answers: Mapping[str, Any] | None = None) -> Guide:
        """The questions of a bundle, and what the given answers (unknown ones ignored) mean."""
        with self.db.read() as s:
            row = self.deployments.latest(s, key)
        definition = self.deployments.definition(row)
        form = self.deployments.form(row)
        asked = questions(form, gateway_fields(definition))
        answers = parse_answers(asked, raw_answers or {})
        full = list(completions(asked, answers))
        routes = [self._cached_route(definition, answers_) for answers_ in full]
        manifest = definition.manifest
        counts = {item.key: sum(1 for items, _ in routes if item.key in items) for item in manifest.items}
        shown = tuple(
            GuideItem(
                item.key,
                item.name.zh,
                item.name.en or item.name.zh,
                self.deployments.department_label(item.department),
                item.time_limit_days,
                counts[item.key] == len(routes),
            )
            for item in manifest.items
            if counts[item.key]
        )
        needed, exempt = materials_needed(form, full, [items for items, _ in routes])
        return Guide(
            bundle=key,
            version=row.version,
            name={"zh": manifest.name.zh, "en": manifest.name.en or manifest.name.zh},
            questions=asked,
            answers=answers,
            items=shown,
            materials=needed,
            exempt=exempt,
            days=max(days for _, days in routes),
            all_items=len(manifest.items),
        )

    def _cached_route(
        self, definition: BundleDefinition, answers: Mapping[str, Any]
    ) -> tuple[frozenset[str], float]:
        cache_key = (definition.digest, tuple(sorted(answers.items())))
        with self._route_lock:
            found = self._routes.get(cache_key)
        if found is not None:
            return found
        route = _route(definition, answers)
        with self._route_lock:
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[cache_key] = route
        return route
