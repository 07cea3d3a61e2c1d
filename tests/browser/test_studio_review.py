"""The studio in a real browser at 1366x900: readable refusals, the modeler's versions and palette,
honest plots, and four-eyes publishing (one analyst drafts and submits, another publishes).

The module's server runs two enterprise-startup cases through the engine first (the bank's
step waits three hours, every other step half an hour), so the plots have figures.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from api.pages.i18n import Words
from api.pages.plots import heat_map
from engine.analytics.views import HeatCell
from engine.bpmn.deployments import load_departments
from engine.people.accounts import AccountService
from engine.people.actors import Role
from tests.browser.conftest import LiveServer, element_classes, shot, sign_in, wait_diagram
from tests.browser.test_studio import _run_case

pytestmark = pytest.mark.browser

BUNDLE = "enterprise-startup"
PROCESSES = Path(__file__).resolve().parents[2] / "processes"
DESKTOP = {"width": 1366, "height": 900}
REVIEWER = "analyst.reviewer"
REVIEWER_PASSWORD = "amber-violin-harbour-83"


@pytest.fixture(scope="module")
def history(server: LiveServer) -> list[int]:
    """Two finished cases with a slow bank step, and a second analyst to review.

    Returns the version the cases ran on (the plots are per version; other tests publish more),
    then the case ids.
    """
    engine = server.engine
    accounts = AccountService(
        engine.db, load_departments(engine.settings.processes_dir), regions=engine.regions
    )
    accounts.create(REVIEWER, REVIEWER_PASSWORD, Role.ANALYST, display_name="审核分析员")
    version = engine.bundle_detail(BUNDLE).summary.version
    return [version, *(_run_case(server, n) for n in range(2))]


def _desktop(page: Any) -> None:
    page.set_viewport_size(DESKTOP)


def _sign_in_reviewer(page: Any) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.get_by_label("用户名").fill(REVIEWER)
    page.get_by_label("密码").fill(REVIEWER_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"msg=signed-in"))


def _zip(path: Path, changes: dict[str, tuple[str, str]]) -> Path:
    """The shipped bundle folder zipped to ``path`` with text replaced ({file: (old, new)})."""
    with zipfile.ZipFile(path, "w") as archive:
        for source in sorted(p for p in (PROCESSES / BUNDLE).iterdir() if p.is_file()):
            text = source.read_text(encoding="utf-8")
            if source.name in changes:
                old, new = changes[source.name]
                assert old in text, f"{old!r} not in {source.name}"
                text = text.replace(old, new)
            archive.writestr(source.name, text)
    return path


def test_refused_upload_lists_file_then_place_then_message(
    page: Any, server: LiveServer, history: list[int], tmp_path: Path
) -> None:
    _desktop(page)
    broken = _zip(
        tmp_path / "broken.zip",
        {
            "process.bpmn": ('name="public-security"', 'name="police-bureau"'),
            "bundle.yaml": ("time_limit_days: 0.5", "time_limit_days: -2"),
        },
    )
    sign_in(page, "analyst")
    page.goto("/studio")
    page.get_by_label("事项包 zip 文件").set_input_files(str(broken))
    page.get_by_role("button", name="校验并保存为草稿").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("未部署")
    items = page.locator("#problems li")
    texts = [items.nth(i).inner_text().strip() for i in range(items.count())]
    assert texts, "no problems listed"
    with_file = [t for t in texts if re.match(r"^(bundle\.yaml|process\.bpmn)", t)]
    assert any(
        t.startswith("bundle.yaml：items[") or t.startswith("bundle.yaml：items.") for t in with_file
    ), texts
    assert any(t.startswith("process.bpmn：Lane_public_security：") for t in with_file), texts
    for text in with_file:  # never glued: the file, "：", the place, "：", the message
        assert re.match(r"^[\w.-]+\.(yaml|bpmn)：[^：]+：.+", text), text
        assert not re.match(r"^bundle\.yaml[^：]", text) and not re.match(r"^process\.bpmn[^：]", text), text
        assert not re.match(r"^[\w.-]+：([^：]+)：\1", text), text  # the place is said once
    wait_diagram(page, "#refused-diagram")
    assert "ot-problem" in element_classes(page, "Lane_public_security")
    shot(page, "studio-refused-1366x900")


def _modeler_ready(page: Any) -> None:
    page.wait_for_selector("#modeler[data-drawn='true']")


def test_the_modeler_keeps_the_palette_clear_and_builds_each_save_on_the_last(
    page: Any, server: LiveServer, history: list[int]
) -> None:
    _desktop(page)
    sign_in(page, "analyst")
    published = server.engine.bundle_detail(BUNDLE).summary.version
    page.goto(f"/studio/{BUNDLE}/edit")
    _modeler_ready(page)
    expect(page.locator("#based-on")).to_have_text(f"基于 v{published}")
    # No element sits under the palette: every shape's box starts right of the palette's.
    palette = page.locator("#modeler .djs-palette").bounding_box()
    start = page.locator("g.djs-element[data-element-id='Start_application'] .djs-visual").bounding_box()
    assert palette and start
    assert start["x"] >= palette["x"] + palette["width"], (start, palette)
    lefts = page.evaluate(
        """() => {
        const registry = document.getElementById('modeler')._viewer.get('elementRegistry');
        const shapes = registry.filter(e => !e.waypoints && e.type !== 'label' && e.parent);
        const box = id => document.querySelector(`g.djs-element[data-element-id="${id}"]`);
        return shapes.map(e => box(e.id).getBoundingClientRect().left);
    }"""
    )
    assert lefts and min(lefts) >= palette["x"] + palette["width"], (min(lefts), palette)
    box = page.locator("#modeler").bounding_box()
    assert box and start["y"] >= box["y"] and start["y"] + start["height"] <= box["y"] + box["height"]
    shot(page, "studio-modeler-1366x900")

    def rename(task: str, name: str) -> None:
        page.evaluate(
            """([task, name]) => {
            const modeler = document.getElementById('modeler')._viewer;
            modeler.get('modeling').updateLabel(modeler.get('elementRegistry').get(task), name);
        }""",
            [task, name],
        )

    rename("Task_register_business", "企业设立登记（第一次保存）")
    page.get_by_role("button", name="校验并保存为新版本").click()
    expect(page.locator("#save-status")).to_contain_text("已保存为新版本 v")
    first = int(re.findall(r"v(\d+)", page.locator("#save-status").inner_text())[0])
    assert first > published
    expect(page.locator("#based-on")).to_have_text(f"基于 v{first}")
    assert page.locator("#back-to-version").get_attribute("href") == f"/studio/{BUNDLE}?version={first}"
    assert server.engine.version_status(BUNDLE, first) == "draft"
    assert server.engine.bundle_detail(BUNDLE).summary.version == published  # a draft is not live
    # The second save builds on the first: both renames are in it.
    rename("Task_open_bank_account", "银行开户（第二次保存）")
    page.get_by_role("button", name="校验并保存为新版本").click()
    expect(page.locator("#save-status")).to_contain_text(f"已保存为新版本 v{first + 1}")
    expect(page.locator("#based-on")).to_have_text(f"基于 v{first + 1}")
    xml = server.engine.diagram(BUNDLE, first + 1)
    assert "企业设立登记（第一次保存）" in xml and "银行开户（第二次保存）" in xml
    shot(page, "studio-modeler-saved-1366x900")


def test_histogram_counts_on_whole_ticks_and_heat_legend_labels_differ(
    page: Any, server: LiveServer, history: list[int]
) -> None:
    _desktop(page)
    sign_in(page, "analyst")
    page.goto(f"/studio/{BUNDLE}?version={history[0]}")
    wait_diagram(page)
    ticks = page.locator("#plot-durations text.tick[text-anchor='end']")
    values = [ticks.nth(i).text_content() or "" for i in range(ticks.count())]
    assert values and all(re.fullmatch(r"\d+", v) for v in values), values
    assert [int(v) for v in values] == sorted({int(v) for v in values}), values  # each once, rising
    legend = page.locator("#heat-legend li")
    labels = [legend.nth(i).inner_text() for i in range(legend.count())]
    assert len(labels) == 5 and len(set(labels)) == 5, labels
    assert "0.0–0.0" not in " ".join(labels)
    shot(page, "studio-bundle-plots-1366x900")
    # Every task waited the same: one bin, said so, never five copies of one label.
    cells = [HeatCell(t, t, "d", 1, 0.0, 0.0) for t in ("A", "B")]
    same = heat_map(cells, Words("zh"))
    assert [s.text for s in same.legend] == ["均为 0 分钟"]
    assert {e["state"] for e in same.state["elements"].values()} == {"heat-0"}


def test_one_analyst_drafts_and_submits_another_publishes(
    page: Any, server: LiveServer, history: list[int], tmp_path: Path
) -> None:
    _desktop(page)
    fixed = _zip(
        tmp_path / "fixed.zip", {"bundle.yaml": ("一次填报、一套材料", "一次填报、一套材料、四眼发布")}
    )
    sign_in(page, "analyst")
    page.goto("/studio")
    page.get_by_label("事项包 zip 文件").set_input_files(str(fixed))
    page.get_by_role("button", name="校验并保存为草稿").click()
    page.wait_for_url(re.compile(rf"/studio/{BUNDLE}\?version=\d+&msg=drafted"))
    version = int(re.findall(r"version=(\d+)", page.url)[0])
    expect(page.locator("#review-status")).to_have_text("草稿")
    assert server.engine.bundle_detail(BUNDLE).summary.version != version
    page.get_by_role("button", name="提交审核").click()
    page.wait_for_url(re.compile(r"msg=version-submit"))
    expect(page.locator("#review-status")).to_have_text("待审核")
    # The author sees why there is no publish button.
    expect(page.locator("#four-eyes-hint")).to_contain_text("四眼原则")
    assert page.get_by_role("button", name="审核通过并发布").count() == 0
    shot(page, "studio-review-author-1366x900")

    _sign_in_reviewer(page)
    page.goto("/studio")
    row = page.locator(f"#waiting-versions tr[data-version='{BUNDLE}:{version}']")
    expect(row).to_contain_text("待审核")
    expect(row).to_contain_text("analyst")
    shot(page, "studio-review-queue-1366x900")
    row.get_by_role("link", name=f"v{version}").click()
    # A return without a note is refused on the page, next to the note field.
    page.get_by_role("button", name="退回起草人修改").click()
    expect(page.locator("#review-error")).to_contain_text("退回")
    assert page.locator("#review-note-input").get_attribute("aria-describedby") == "review-error"
    assert server.engine.version_status(BUNDLE, version) == "in_review"
    page.get_by_role("button", name="审核通过并发布").click()
    page.wait_for_url(re.compile(r"msg=version-publish"))
    expect(page.locator("#review-status")).to_have_text("已发布")
    expect(page.locator("main")).to_contain_text(REVIEWER)
    assert server.engine.bundle_detail(BUNDLE).summary.version == version
    shot(page, "studio-review-published-1366x900")


CJK = re.compile(r"[\u4e00-\u9fff]")


def test_studio_pages_speak_one_language(page: Any, server: LiveServer, history: list[int]) -> None:
    _desktop(page)
    sign_in(page, "analyst")
    page.goto(f"/studio/{BUNDLE}?version={history[0]}")
    wait_diagram(page)
    main = page.locator("main").inner_text()
    for english in ("Baseline source", "World Bank", "published", "draft", "field:"):
        assert english not in main, english  # the English baseline text waits behind a labelled summary
    expect(page.locator("#baseline-source summary")).to_contain_text("基线来源")
    page.goto(f"/lang/en?next=/studio/{BUNDLE}%3Fversion%3D{history[0]}")
    wait_diagram(page)
    for selector in ("#review", "#versions", "#heat-legend", "#h-durations", "#h-red"):
        text = page.locator(selector).inner_text()
        assert not CJK.search(text), (selector, text)
    assert "Baseline source:" in page.locator("main").inner_text()
    page.goto("/studio")
    for selector in ("#review-queue thead", "#review-queue h2", "#upload-form"):
        text = page.locator(selector).inner_text()
        assert not CJK.search(text), (selector, text)
    page.goto("/lang/zh?next=/studio")
