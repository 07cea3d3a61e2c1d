"""The diagram component in a real browser: department names on lanes, readable labels, zoom and fit.

One server per module; one enterprise-startup case of applicant1 is started through the engine,
so market regulation's clerk has its first task, and the clerk's task page draws the case.
"""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest

from api.pages.diagram import named_diagram
from engine.demo import demo_pdf
from engine.people.actors import Actor, Role
from tests.browser.conftest import LiveServer, csrf_of, shot, sign_in, wait_diagram

pytestmark = pytest.mark.browser

BUNDLE = "enterprise-startup"
APPLICANT = Actor("applicant1", Role.APPLICANT)
CLERK = "clerk.market-regulation"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
# The text bpmn-js drew for each lane (its label is rendered in the lane's own group).
LANE_TEXTS = """() => Array.from(
  document.querySelectorAll("#case-diagram g.djs-element[data-element-id^='Lane_']")
).map(g => [g.dataset.elementId, g.querySelector('.djs-visual text')?.textContent || ''])"""
# A task label's size on screen: its font size times the canvas's scale (getScreenCTM).
LABEL_PX = """(id) => {
  const g = document.querySelector(`#case-diagram g.djs-element[data-element-id='${id}']`);
  const text = g.querySelector('.djs-visual text');
  return parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a;
}"""
RECT = "(sel) => { const r = document.querySelector(sel).getBoundingClientRect(); return [r.left, r.right]; }"
SECTION = "() => document.getElementById('case-diagram').closest('section').getBoundingClientRect().toJSON()"


@pytest.fixture(scope="module")
def task_id(server: LiveServer) -> int:
    """Market regulation's task of a fresh enterprise-startup case."""
    engine = server.engine
    example = engine.bundle_detail(BUNDLE).examples[0]
    materials = {
        kind: engine.materials.upload(APPLICANT.username, kind, f"{kind}.pdf", io.BytesIO(demo_pdf(kind))).id
        for kind in example["materials"]
    }
    case = engine.start_case(APPLICANT, BUNDLE, example["data"], materials)
    return next(
        t.id for t in engine.get_case(APPLICANT, case.id).tasks if t.task_name == "Task_register_business"
    )


def _department_names(server: LiveServer, lang: str) -> dict[str, str]:
    """Lane id -> the department's name in ``lang``, from the deployed diagram and departments.yaml."""
    xml = server.engine.diagram(BUNDLE, 1)
    lanes = dict(re.findall(r'<bpmn:lane id="([^"]+)" name="([^"]+)"', xml))
    names = server.engine.deployments.departments
    return {lane: names[key][lang] for lane, key in lanes.items()}


def _scale(page: Any) -> float:
    return float(page.locator("#case-diagram").get_attribute("data-scale"))


def test_lanes_show_department_names_in_the_page_s_language(
    page: Any, server: LiveServer, task_id: int
) -> None:
    sign_in(page, CLERK)
    page.set_viewport_size(DESKTOP)
    for lang in ("zh", "en"):
        page.goto(f"/lang/{lang}?next=/tasks/{task_id}")
        wait_diagram(page)
        drawn = dict(page.evaluate(LANE_TEXTS))
        expected = _department_names(server, lang)
        assert drawn == expected, f"lanes in {lang}"
        svg = page.locator("#case-diagram svg").first.inner_html()
        assert "market-regulation" not in svg and "human-resources-social-security" not in svg
        item = "企业设立登记" if lang == "zh" else "Business registration"
        assert item in page.locator("g.djs-element[data-element-id='Task_register_business']").text_content()
        shot(page, f"diagram-task-{lang}-1366")
    page.goto(f"/lang/zh?next=/tasks/{task_id}")


def test_task_labels_are_readable_at_the_opening_view_and_the_zoom_buttons_change_the_scale(
    page: Any, server: LiveServer, task_id: int
) -> None:
    sign_in(page, CLERK)
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.goto(f"/tasks/{task_id}")
        wait_diagram(page)
        for task in ("Task_register_business", "Task_engrave_seal"):
            assert page.evaluate(LABEL_PX, task) >= 11, f"{task} at {size}"
        opening = _scale(page)
        page.get_by_role("button", name="放大").click()
        assert _scale(page) > opening
        page.get_by_role("button", name="缩小").click()
        page.get_by_role("button", name="缩小").click()
        assert _scale(page) < opening
        page.get_by_role("button", name="适应宽度").click()
        assert _scale(page) == opening
        # The keyboard does the same on the focused diagram.
        page.locator("#case-diagram svg").first.focus()
        page.keyboard.press("+")
        assert _scale(page) > opening
        page.keyboard.press("0")
        assert _scale(page) == opening


def test_the_diagram_stays_inside_its_card_at_desktop_and_phone_width(
    page: Any, server: LiveServer, task_id: int
) -> None:
    sign_in(page, CLERK)
    for size, name in ((DESKTOP, "1366"), (PHONE, "390")):
        page.set_viewport_size(size)
        page.goto(f"/tasks/{task_id}")
        wait_diagram(page)
        card_left, card_right = page.evaluate(RECT, "#case-diagram")
        section = page.evaluate(SECTION)
        section_left, section_right = section["left"], section["right"]
        svg_left, svg_right = page.evaluate(RECT, "#case-diagram svg")
        assert section_left <= card_left and card_right <= section_right, f"the diagram sticks out at {name}"
        assert card_left <= svg_left and svg_right <= card_right + 0.5
        assert card_right <= size["width"]
        box = page.locator("#case-diagram").bounding_box()
        assert box["height"] >= 200 and box["height"] <= size["height"]
        shot(page, f"diagram-task-{name}")


def test_dragging_pans_the_diagram(page: Any, server: LiveServer, task_id: int) -> None:
    sign_in(page, CLERK)
    page.set_viewport_size(DESKTOP)
    page.goto(f"/tasks/{task_id}")
    wait_diagram(page)
    before = page.evaluate("() => document.getElementById('case-diagram')._viewer.get('canvas').viewbox().x")
    page.locator("#case-diagram").scroll_into_view_if_needed()
    box = page.locator("#case-diagram").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + min(box["height"], 800) / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 200, y, steps=8)
    page.mouse.up()
    after = page.evaluate("() => document.getElementById('case-diagram')._viewer.get('canvas').viewbox().x")
    assert after > before + 100


def test_a_diagram_drawn_while_hidden_is_fitted_when_its_details_open(
    page: Any, server: LiveServer, task_id: int
) -> None:
    """What the applicant's phone does: the diagram waits inside a closed <details> ("查看流程图")."""
    sign_in(page, CLERK)
    page.set_viewport_size(PHONE)
    # The task page, its diagram section moved into a closed <details> before the script draws it.
    page.route(
        re.compile(r".*/static/diagram\.js$"),
        lambda route: route.fulfill(
            status=200,
            content_type="text/javascript",
            body=(
                "document.addEventListener('DOMContentLoaded', function () {"
                " var box = document.getElementById('case-diagram');"
                " var d = document.createElement('details'); d.id = 'later';"
                " var s = document.createElement('summary'); s.textContent = '查看流程图'; d.appendChild(s);"
                " box.parentNode.insertBefore(d, box); d.appendChild(box);"
                # A page script that fits the whole diagram on opening, as app.js does, runs first.
                " d.addEventListener('toggle', function () {"
                "   box._viewer.get('canvas').zoom('fit-viewport', 'auto'); }); }, true);\n" + _script(server)
            ),
        ),
    )
    page.goto(f"/tasks/{task_id}")
    page.wait_for_selector("#case-diagram[data-drawn='true']", state="attached")
    assert page.locator("#case-diagram").is_hidden()
    page.locator("#later summary").click()
    page.wait_for_function("() => Number(document.getElementById('case-diagram').dataset.scale) >= 0.8")
    assert page.evaluate(LABEL_PX, "Task_register_business") >= 11
    task = page.locator("g.djs-element[data-element-id='Task_register_business']").bounding_box()
    box = page.locator("#case-diagram").bounding_box()
    assert box["x"] <= task["x"] and task["x"] + task["width"] <= box["x"] + box["width"]
    assert box["y"] <= task["y"] and task["y"] + task["height"] <= box["y"] + box["height"]
    shot(page, "diagram-details-390")
    page.unroute(re.compile(r".*/static/diagram\.js$"))


def _script(server: LiveServer) -> str:
    """The diagram script as the server serves it."""
    return httpx.get(f"{server.url}/static/diagram.js").text


def test_named_diagram_changes_names_only() -> None:
    xml = (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        '<bpmn:collaboration><bpmn:participant id="P" name="old" processRef="p"/></bpmn:collaboration>'
        '<bpmn:process id="p"><bpmn:laneSet><bpmn:lane id="L" name="tax"/><bpmn:lane id="M" name="unknown"/>'
        '</bpmn:laneSet><bpmn:userTask id="T" name="旧名"/><bpmn:startEvent id="S" name="开始"/>'
        "</bpmn:process>"
        "</bpmn:definitions>"
    )
    manifest = {
        "name": {"zh": "事项包", "en": "Bundle"},
        "items": [{"task": "T", "name": {"zh": "事项", "en": "Item"}}],
    }
    named = named_diagram(xml, manifest, {"tax": {"zh": "税务局", "en": "Taxation"}}, "en").decode()
    assert 'id="L" name="Taxation"' in named and 'id="M" name="unknown"' in named
    assert 'id="T" name="Item"' in named and 'id="S" name="开始"' in named and 'name="Bundle"' in named


def test_the_named_diagram_is_for_signed_in_people_in_a_known_language(server: LiveServer) -> None:
    url = f"/diagrams/{BUNDLE}/1/zh.bpmn"
    with httpx.Client(base_url=server.url) as client:
        assert client.get(url).status_code == 303, "anonymous callers are sent to sign in"
    with httpx.Client(base_url=server.url) as client:
        token = csrf_of(client.get("/login").text)
        form = {"username": "applicant1", "password": "demo", "csrf_token": token}
        signed = client.post("/login", data=form)
        assert signed.status_code == 303
        answer = client.get(url)
        assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
        assert 'name="市场监督管理局"' in answer.text
        assert client.get(f"/diagrams/{BUNDLE}/1/fr.bpmn").status_code == 404
        assert client.get("/diagrams/no-such-bundle/1/zh.bpmn").status_code == 404
