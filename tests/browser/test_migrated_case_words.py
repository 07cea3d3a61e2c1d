"""A case moved to a new version of its procedure, as its applicant reads it in chromium.

The applicant's milestones say "办理流程已按新版规定更新，已办结的环节不受影响" on the Chinese page
and the English words on the English page: no version number, bundle key or element id.
"""

from __future__ import annotations

from typing import Any

from api.pages.applicant import MILESTONES
from engine.cases.migration_plans import CaseFilter
from tests.browser.conftest import LiveServer, sign_in
from tests.engine.migration.support import PLAN_TASKS, STARTUP, V2, start_cases
from tests.support.engines import ANALYST


def test_the_applicant_reads_that_the_procedure_was_updated(page: Any, server: LiveServer) -> None:
    engine = server.engine
    [case_id] = start_cases(engine, 1)
    to_version = engine.deployments.deploy_dir(V2).version
    plan = engine.create_migration_plan(ANALYST, STARTUP, 1, to_version, PLAN_TASKS, [], {})
    assert engine.start_migration_run(ANALYST, STARTUP, plan.id, CaseFilter(case_ids=(case_id,))).counts[
        "migrated"
    ]
    sign_in(page, "applicant1")
    for lang, words in zip(("zh", "en"), MILESTONES["case_migrated"], strict=True):
        page.context.add_cookies([{"name": "onething_lang", "value": lang, "url": server.url}])
        page.goto(f"/cases/{case_id}")
        line = page.locator('#milestones li[data-kind="case_migrated"]')
        assert line.count() == 1
        said = line.inner_text()
        assert words in said
        milestones = page.locator("#milestones").inner_text()
        assert f"v{to_version}" not in milestones and f"版本{to_version}" not in milestones
        assert STARTUP not in milestones and "Task_" not in milestones and "case_migrated" not in milestones
