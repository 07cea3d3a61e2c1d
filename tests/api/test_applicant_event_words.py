"""Every kind of case event is either told to the applicant in plain words or left out on purpose.

A new event class in ``engine.cases.events`` fails here until someone decides what the
applicant reads of it: a line in ``api.pages.applicant.MILESTONES`` (both languages) or a place
in ``APPLICANT_HIDDEN_KINDS``. A case moved to a new version reads as the procedure updated,
with no version number, bundle key or element id, in the REST timeline (the page: in chromium,
tests/browser/test_migrated_case_words.py).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from api.pages.applicant import APPLICANT_HIDDEN_KINDS, MILESTONES
from api.pages.i18n import EVENT
from engine.cases import events
from engine.cases.migration_plans import CaseFilter
from engine.cases.reading import STAFF_ONLY_KINDS
from engine.storage.spine import Event
from tests.api.support import sqlite_server
from tests.engine.migration.support import PLAN_TASKS, STARTUP, V2, start_cases
from tests.support.engines import ANALYST, APPLICANT


def event_kinds() -> set[str]:
    """The ``KIND`` of every event class of ``engine.cases.events``."""
    return {
        cls.KIND
        for _, cls in inspect.getmembers(events, inspect.isclass)
        if issubclass(cls, Event) and cls is not Event and cls.__module__ == events.__name__
    }


def test_every_event_kind_is_worded_for_the_applicant_or_hidden_on_purpose() -> None:
    kinds = event_kinds()
    assert {"case_migrated", "suspended", "resumed", "sent_back", "case_moved"} <= kinds
    undecided = kinds - set(MILESTONES) - APPLICANT_HIDDEN_KINDS
    assert not undecided, f"say in api/pages/applicant.py what the applicant reads of: {sorted(undecided)}"
    assert not set(MILESTONES) & APPLICANT_HIDDEN_KINDS  # told or hidden, never both
    assert STAFF_ONLY_KINDS <= APPLICANT_HIDDEN_KINDS
    for kind in kinds & set(MILESTONES):
        zh, en = MILESTONES[kind]
        assert re.search(r"[\u4e00-\u9fff]", zh) and not re.search(r"[\u4e00-\u9fff]", en), kind
        assert "_" not in re.sub(r"\{\w+\}", "", zh + en), kind  # words, never a key
    assert "case_migrated" in EVENT  # and the staff's timeline names it too


def test_a_migrated_case_reads_as_the_procedure_updated(tmp_path: Path) -> None:
    with sqlite_server(tmp_path) as server:
        engine = server.engine
        [case_id] = start_cases(engine, 1)
        to_version = engine.deployments.deploy_dir(V2).version
        plan = engine.create_migration_plan(ANALYST, STARTUP, 1, to_version, PLAN_TASKS, [], {})
        report = engine.start_migration_run(ANALYST, STARTUP, plan.id, CaseFilter(case_ids=(case_id,)))
        assert report.counts["migrated"] == 1
        [line] = [e for e in engine.get_case(APPLICANT, case_id).timeline if e.kind == "case_migrated"]
        assert line.detail == {}  # no versions, no bundle key, no element ids for the applicant
        [staff] = [e for e in engine.get_case(ANALYST, case_id).timeline if e.kind == "case_migrated"]
        assert staff.detail["to_version"] == to_version
        with server.as_user("applicant1") as c:
            timeline = c.get(f"/api/cases/{case_id}").json()["timeline"]
            [api_line] = [e for e in timeline if e["kind"] == "case_migrated"]
            assert api_line["detail"] == {}
