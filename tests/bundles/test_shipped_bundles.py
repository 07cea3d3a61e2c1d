"""Every shipped bundle validates, and every example of every bundle runs to completed.

The examples run through the real Engine on one real SQLite file shared by the module (one
deployment of all bundles), with simulated clerks and a manual clock that also carries the
cases through their timers (public-notice periods) and their follow-on cases (免申即享).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from engine.bpmn.validation.bundle import validate_bundle_dir
from engine.demo import DEMO_START, ExampleRun, demo_report, run_demo, run_example, write_report
from engine.service import Engine
from engine.time.clock import ManualClock
from tests.bundles.shipped import BATCH_LABELS, FIRST_BATCH, PROCESSES, REQUIRED_KEYS, bundle_keys, manifest
from tests.support.engines import ANALYST, make_engine

EXAMPLES = [(key, index) for key in bundle_keys() for index in range(len(manifest(key).examples))]


def test_exactly_the_required_bundles_ship() -> None:
    assert set(bundle_keys()) == REQUIRED_KEYS
    for key in bundle_keys():
        assert manifest(key).key == key, "the folder name is the bundle key"


@pytest.mark.parametrize("key", bundle_keys())
def test_every_shipped_bundle_names_its_list_and_departments(key: str) -> None:
    source = manifest(key).catalog
    assert source is not None, "a shipped bundle says which list it comes from"
    assert source.item_source.strip()
    assert set(manifest(key).departments) <= set(source.departments)
    if key in FIRST_BATCH:
        assert (source.list, source.document, source.published) == (
            "national-2024-1",
            "国发〔2024〕3号",
            date(2024, 1, 16),
        )
    else:
        assert source.list != "national-2024-1", "only the 13 items of the first batch say national-2024-1"
    if source.list == "local":
        assert "not in" in source.item_source or "本地" in source.item_source


def test_the_first_batch_is_thirteen_items_all_shipped() -> None:
    assert len(FIRST_BATCH) == 13
    assert set(bundle_keys()) >= FIRST_BATCH


@pytest.mark.parametrize("key", bundle_keys())
def test_bundle_validates_without_a_problem(key: str) -> None:
    report = validate_bundle_dir(PROCESSES / key)
    assert [f"{p.element}: {p.message}" for p in report.problems] == []


@pytest.mark.parametrize("key", bundle_keys())
def test_bundle_has_two_examples_taking_different_routes(key: str) -> None:
    routes = {frozenset(example.route) for example in manifest(key).examples}
    assert len(manifest(key).examples) >= 2
    assert len(routes) >= 2, "the examples must take different main routes"


class Shipped:
    """One engine with every shipped bundle deployed, and each example's run, made once per module."""

    def __init__(self, engine: Engine, clock: ManualClock) -> None:
        self.engine = engine
        self.clock = clock
        self._runs: dict[tuple[str, int], ExampleRun] = {}

    def run(self, key: str, index: int) -> ExampleRun:
        """The run of one example (run on first asking)."""
        if (key, index) not in self._runs:
            self._runs[key, index] = run_example(self.engine, key, index, self.clock)
        return self._runs[key, index]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipped]:
    tmp: Path = tmp_path_factory.mktemp("shipped")
    clock = ManualClock(DEMO_START)
    engine = make_engine(f"sqlite:///{tmp / 'bundles.db'}", tmp, clock)
    engine.deploy_shipped()
    yield Shipped(engine, clock)
    engine.close()


@pytest.mark.parametrize(("key", "index"), EXAMPLES, ids=[f"{k}-{i + 1}" for k, i in EXAMPLES])
def test_example_runs_to_completed_along_its_route(shipped: Shipped, key: str, index: int) -> None:
    run = shipped.run(key, index)
    assert run.error == ""
    assert run.status == "completed"
    assert sorted(set(run.route)) == sorted(manifest(key).examples[index].route)
    for follow in run.follow_on_cases:
        assert follow.status == "completed", f"follow-on {follow.bundle} case #{follow.case_id}"


@pytest.mark.parametrize("key", [k for k in bundle_keys() if manifest(k).follow_on])
def test_follow_on_starts_a_shipped_bundle_without_an_application(shipped: Shipped, key: str) -> None:
    targets = {follow.bundle for follow in manifest(key).follow_on}
    assert targets <= set(bundle_keys())
    runs = [shipped.run(key, i) for i in range(len(manifest(key).examples))]
    assert any(run.follow_on for run in runs), "at least one example's route starts the follow-on"
    for run in runs:
        assert set(run.follow_on) <= targets
        assert [f.bundle for f in run.follow_on_cases] == run.follow_on
        origin = shipped.engine.get_case(ANALYST, run.case_id)
        notified = [e for e in origin.timeline if e.kind == "follow_on_started"]
        assert len(notified) == len(run.follow_on), "the applicant's case records each follow-on"
        for follow in run.follow_on_cases:
            started = shipped.engine.get_case(ANALYST, follow.case_id)
            assert started.origin_case_id == run.case_id
            assert started.applicant == origin.applicant


def test_follow_on_waits_for_its_condition(shipped: Shipped) -> None:
    extended = shipped.run("retirement", 1)  # under 15 years paid: no monthly pension yet
    assert extended.status == "completed"
    assert extended.follow_on == []


def test_examples_issue_the_outputs_of_the_items_they_pass(shipped: Shipped) -> None:
    run = shipped.run("enterprise-deregistration", 1)
    assert run.outputs == ["deregistration_notice", "tax_clearance_certificate"]
    assert run.timers_fired >= 1, "the 45-day creditor notice is a timer the clock ran through"


def test_demo_json_reports_each_example_and_the_reductions_of_one_bundle(shipped: Shipped) -> None:
    report = demo_report(shipped.engine, shipped.clock, "credit-repair")
    out = io.StringIO()
    write_report(report, True, out)
    answer = json.loads(out.getvalue())
    assert answer["ok"] is True
    [bundle] = answer["bundles"]
    assert bundle["key"] == "credit-repair"
    assert len(bundle["examples"]) == len(manifest("credit-repair").examples)
    assert all(e["status"] == "completed" and e["ok"] for e in bundle["examples"])
    baseline = manifest("credit-repair").baseline
    before = bundle["reductions"]["before"]
    assert (before["steps"], before["days"], before["materials"], before["trips"]) == (
        baseline.steps,
        baseline.days,
        baseline.materials,
        baseline.trips,
    )
    after = bundle["reductions"]["after"]
    assert (after["steps"], after["trips"]) == (1, 0)
    assert after["days"] == bundle["promised_days"] == 18.0  # the longer route: 15 + 3 working days


def test_demo_text_prints_the_four_reductions(shipped: Shipped) -> None:
    out = io.StringIO()
    write_report(demo_report(shipped.engine, shipped.clock, "transport-enterprise"), False, out)
    text = out.getvalue()
    assert "减环节 steps 5→1" in text
    for label in ("减时间", "减材料", "减跑动"):
        assert label in text
    assert text.count("→ completed") == len(manifest("transport-enterprise").examples)


def test_demo_command_refuses_an_unknown_bundle() -> None:
    out = io.StringIO()
    assert run_demo("no-such-bundle", False, out) == 1
    assert "no-such-bundle" in out.getvalue()


def _number(text: str) -> float:
    return float(text.strip())


def test_the_readme_table_shows_the_reductions_the_demo_prints(shipped: Shipped) -> None:
    readme = (PROCESSES.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## 事项包 Bundles", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells
    summaries = {s.key: s for s in shipped.engine.list_bundles()}
    assert set(rows) == set(summaries) == REQUIRED_KEYS
    for key, cells in rows.items():
        summary = summaries[key]
        assert cells[1] == summary.name.zh
        source = manifest(key).catalog
        assert summary.catalog is not None and source is not None
        assert cells[2] == BATCH_LABELS[summary.catalog["list"]] == BATCH_LABELS[source.list]
        assert cells[3] == ", ".join(summary.departments)
        before, after = summary.reductions["before"], summary.reductions["after"]
        for cell, measure in zip(cells[4:8], ("steps", "days", "materials", "trips"), strict=True):
            was, now = cell.split(" (")[0].split("→")
            assert (_number(was), _number(now)) == (before[measure], after[measure]), f"{key} {measure}"
        most = after["materials_max"]
        assert ("(≤" in cells[6]) == (most > after["materials"]), key
        if most > after["materials"]:
            assert cells[6].endswith(f"(≤{most})"), key
