"""智能预审 and 智能填表 on the pages, in a real browser (the issue's "Done when", through the pages).

The applicant uploads a licence (rendered with the Noto CJK font) that names another company;
once the worker has read it, the application page says so beside the upload, in plain words,
before anything is submitted; after submission the clerk's task page shows the findings beside
the material. A licence read for a form whose company fields are empty offers its values
("从证照读取，请核对"), filling nothing until the applicant confirms.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.people.actors import Actor, Role
from engine.portal.drafts import DraftNotFound
from tests.browser.conftest import LiveServer, sign_in
from tests.review.support import BUNDLE, BUNDLE_DIR, OTHER_COMPANY, RIGHT, licence

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def licence_bundle(server: LiveServer) -> None:
    server.engine.deployments.deploy_dir(BUNDLE_DIR)


def upload_on_page(page: Any, server: LiveServer, username: str, path: Path) -> None:
    """Upload the licence through the page's file input and wait until the draft holds it."""
    page.locator("#m-business_licence").set_input_files(str(path))
    page.wait_for_selector("[data-material='business_licence'][data-uploaded='true']")
    applicant = Actor(username, Role.APPLICANT)
    for _ in range(50):
        with suppress(DraftNotFound):
            if "business_licence" in server.engine.drafts.load(applicant, BUNDLE).materials:
                return
        page.wait_for_timeout(200)
    pytest.fail("the uploaded licence never reached the draft")


def test_the_applicant_sees_the_mismatch_before_submitting_and_the_clerk_beside_the_material(
    page: Any, server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, "applicant1")
    page.goto(f"/apply/{BUNDLE}")
    for key, value in RIGHT.items():
        page.locator(f"#f-{key}").fill(value)
    path = tmp_path / "licence.png"
    path.write_bytes(licence(OTHER_COMPANY))
    upload_on_page(page, server, "applicant1", path)
    assert server.engine.run_review_jobs() == 1  # the worker's job, never the upload's
    page.goto(f"/apply/{BUNDLE}")
    panel = page.locator("#review-business_licence")
    expect(panel).to_contain_text("证照上的企业名称与填报不一致")
    expect(panel).not_to_contain_text("company_name")  # a label, never a key
    # Advice only: the application still goes on to the review step and is submitted.
    page.get_by_role("button", name="下一步：核对申请").click()
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url("**/cases/*?msg=submitted")
    case_id = int(page.url.split("/cases/")[1].split("?")[0])
    clerk_page = page.context.browser.new_page(base_url=server.url)
    try:
        sign_in(clerk_page, "clerk.market-regulation")
        case = server.engine.get_case(Actor("applicant1", Role.APPLICANT), case_id)
        task = next(t for t in case.tasks if t.item == "review")
        clerk_page.goto(f"/tasks/{task.id}")
        table = clerk_page.locator("#task-review-business_licence")
        row = table.locator("tr[data-field='company_name']")
        expect(row).to_have_class("review-mismatch")
        expect(row).to_contain_text(OTHER_COMPANY)
        expect(row).to_contain_text(RIGHT["company_name"])
        expect(row).to_contain_text("不一致")
        expect(table.locator("tr[data-field='uscc']")).to_contain_text("一致")
        expect(table).to_contain_text("识别置信度")
        # English pages in English: the same findings, in English words.
        clerk_page.context.add_cookies([{"name": "onething_lang", "value": "en", "url": server.url}])
        clerk_page.goto(f"/tasks/{task.id}")
        english = clerk_page.locator("#task-review-business_licence")
        expect(clerk_page.locator("#h-reviews")).to_have_text("Pre-review of the documents")
        expect(english.locator("tr[data-field='company_name']")).to_contain_text("differs")
        expect(english).to_contain_text("Business licence")
    finally:
        clerk_page.close()


def test_values_read_from_a_licence_are_offered_for_empty_fields_and_filled_only_when_confirmed(
    page: Any, server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, "applicant2")
    page.goto(f"/apply/{BUNDLE}")
    page.locator("#f-legal_rep_name").fill("李四")  # not the licence's: never offered over an answer
    path = tmp_path / "licence.png"
    path.write_bytes(licence(RIGHT["company_name"]))
    upload_on_page(page, server, "applicant2", path)
    assert server.engine.run_review_jobs() == 1
    page.goto(f"/apply/{BUNDLE}")
    offers = page.locator("#prefill-offers")
    expect(offers).to_contain_text("从证照读取，请核对")
    expect(offers.locator("[data-offer='company_name']")).to_contain_text(RIGHT["company_name"])
    expect(offers.locator("[data-offer='legal_rep_name']")).to_have_count(0)
    assert page.locator("#f-company_name").input_value() == ""  # nothing filled silently
    # On a phone (360 px) the offers and the panel fit: no sideways scroll, 44 px buttons.
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = offers.locator("[data-offer='company_name'] button").bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44
    offers.locator("[data-offer='company_name'] button").click()
    page.wait_for_load_state()
    assert page.locator("#f-company_name").input_value() == RIGHT["company_name"]
    expect(page.locator("[data-field='company_name']")).to_contain_text("从证照读取")
    assert page.locator("#f-uscc").input_value() == ""  # only the one confirmed
    page.locator("#prefill-all").click()
    page.wait_for_load_state()
    assert page.locator("#f-uscc").input_value() == RIGHT["uscc"]
    assert page.locator("#f-address").input_value() == RIGHT["address"]
    assert page.locator("#f-legal_rep_name").input_value() == "李四"
