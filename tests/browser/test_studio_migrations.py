"""The studio's migration page in a real browser: versions with running cases, the step map
prefilled, a dry run that changes nothing, then the run and its report; usable at phone width.

The module's server has six enterprise-startup cases waiting at different points on v1 and the
v2 test fixture (a rename, a merge, an added step) deployed after the shipped variants.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from engine.worker import Worker
from tests.browser.conftest import LiveServer, shot, sign_in
from tests.engine.migration.support import STARTUP, V2, start_cases

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def target(server: LiveServer) -> int:
    """Six running v1 cases and v2 deployed; v2's version number."""
    start_cases(server.engine, 6)
    return server.engine.deployments.deploy_dir(V2).version


def _running(page: Any, version: int) -> int:
    return int(page.locator(f"#version-cases tr[data-version='{version}'] .running").inner_text())


def test_an_analyst_maps_dry_runs_and_migrates_from_the_studio(
    page: Any, target: int, server: LiveServer
) -> None:
    sign_in(page, "analyst")
    page.goto(f"/studio/{STARTUP}")
    page.locator("#migration-link").click()
    expect(page.locator("h1")).to_contain_text("版本迁移")
    before = _running(page, 1)
    assert before > 0 and _running(page, target) == 0
    page.get_by_label("原版本").select_option("1")
    page.get_by_label("目标版本").select_option(str(target))
    page.get_by_role("button", name="显示环节映射").click()
    expect(page.locator("#map-Task_open_bank_account")).to_have_value("Task_open_bank_account")
    # SpecDiff's structural guesses for the renamed seal step and the tax system's step were each
    # other's targets (same gateways on both sides): another department's, so neither is offered.
    expect(page.locator("#map-Task_engrave_seal")).to_have_value("")
    expect(page.locator("#map-Task_tax_registration")).to_have_value("")
    expect(page.locator("#map-Task_issue_invoices")).to_have_value("")  # a merge: the analyst says where
    page.get_by_role("button", name="校验方案").click()
    expect(page.locator("#migration-check")).to_have_attribute("data-valid", "false")
    expect(page.locator("#migration-check li[data-where='Task_issue_invoices']")).to_be_visible()
    page.locator("#map-Task_issue_invoices").select_option("Task_tax_and_invoices")
    page.locator("#map-Task_engrave_seal").select_option("Task_seal_engraving")
    page.locator("#map-Task_tax_registration").select_option("Task_tax_and_invoices")
    page.get_by_role("button", name="试运行（不做更改）").click()
    expect(page.locator("#dry-run")).to_be_visible()
    assert page.locator("#dry-run tbody tr").count() > 0
    assert _running(page, 1) == before  # the dry run moved nothing
    expect(page.locator("#map-Task_issue_invoices")).to_have_value(
        "Task_tax_and_invoices"
    )  # the form kept it
    shot(page, "studio-migrations-dry-run-desktop")
    page.get_by_role("button", name="执行迁移").click()
    expect(page.locator("#migration-report")).to_have_attribute("data-status", "running")  # queued
    while Worker(server.engine).run_once().migrated:  # the worker moves the cases
        pass
    page.locator("#report-refresh").click()
    expect(page.locator("#migration-report")).to_have_attribute("data-status", "finished")
    expect(page.locator("#count-migrated")).to_have_text(str(before))
    assert _running(page, 1) == 0 and _running(page, target) == before


def test_the_page_fits_a_phone(page: Any, target: int) -> None:
    sign_in(page, "analyst")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/studio/{STARTUP}/migrations?from=1&to={target}")
    expect(page.locator("#migration-plan")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("h1").count() == 1
    shot(page, "studio-migrations-phone")
