"""Every applicant page at phone widths (360, 390 and 414 px): nothing wider than the screen,
one h1, every control labelled, every control at least 44 px tall.

``SCREENS`` lists the pages; add a line for a new one. A page whose route is not there (it
answers the shell's "页面不存在" page) is skipped with the reason, so the list may name pages
still being built. Inline links inside text are exempt from the size rule (WCAG 2.5.8's
inline exception), and so is bpmn-js's own watermark link inside a drawn diagram (the diagram is
an extra on demand; its steps are listed in words above it); links shown as buttons, menu links
and every form control are not.
Full-page screenshots go to test-artifacts/screenshots/phone-<page>-<width>.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser import case_states
from tests.browser.conftest import LiveServer, shot, sign_in

pytestmark = pytest.mark.browser

WIDTHS = (360, 390, 414)
HEIGHT = 844
MIN_TARGET = 43.5  # 44 px, with room for sub-pixel layout
MISSING = ("页面不存在", "Page not found")  # the shell's answer to an address no route serves


@dataclass(frozen=True)
class Screen:
    """One applicant page: a name for reports and screenshots, who looks, where, what status."""

    name: str
    path: str  # may name a case of ``case_states``: {fresh}, {pending}, {awaiting}, {completed}, {withdrawn}
    user: str | None = "applicant1"  # None: signed out
    status: int = 200


SCREENS = (
    Screen("home", "/", user=None),
    Screen("home-signed-in", "/"),
    Screen("home-search", "/?q=企业", user=None),
    Screen("login", "/login", user=None),
    Screen("apply-enterprise-startup", "/apply/enterprise-startup"),
    Screen("apply-newborn-birth", "/apply/newborn-birth"),
    Screen("cases", "/cases"),
    Screen("case-fresh", "/cases/{fresh}"),
    Screen("case-pending-return", "/cases/{pending}"),
    Screen("case-notice", "/cases/{awaiting}"),
    Screen("case-completed", "/cases/{completed}"),
    Screen("case-withdrawn", "/cases/{withdrawn}"),
    Screen("case-withdraw-confirm", "/cases/{fresh}/withdraw"),
    Screen("guide-enterprise-startup", "/guide/enterprise-startup", user=None),
    Screen("guide-newborn-birth", "/guide/newborn-birth"),
    Screen("verify-unknown", "/verify/00000000000000000000", user=None, status=404),
    Screen("complaint-new", "/complaints/new?case_id={completed}"),
    Screen("complaints", "/complaints"),
    Screen("messages", "/messages"),
    Screen("not-found", "/no-such-page", user=None, status=404),
)

# What the page says about itself: widths, headings, unlabelled controls and small targets.
MEASURE = """(min) => {
  const visible = el => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && r.right > 0 && r.left < window.innerWidth
      && style.visibility !== 'hidden' && !el.closest('.sr-only')
      && (!el.checkVisibility || el.checkVisibility({contentVisibilityAuto: true}));
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className ? '.' + el.className.split(' ').join('.') : '')
    + (el.name ? '[name=' + el.name + ']' : '')
    + ' "' + (el.innerText || el.value || '').trim().slice(0, 30) + '"';
  const controls = Array.from(document.querySelectorAll('input, select, textarea'))
    .filter(el => el.type !== 'hidden');
  const unlabelled = controls
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby'))
    .map(name);
  const inline = el => el.tagName === 'A' && getComputedStyle(el).display === 'inline'
    && !el.closest('header');
  const small = Array.from(document.querySelectorAll('a[href], button, input, select, textarea, summary'))
    .filter(el => el.type !== 'hidden' && visible(el) && !el.closest('.diagram') && !inline(el))
    .filter(el => {
      if (el.type === 'radio' || el.type === 'checkbox') {
        const box = el.closest('label') || (el.labels && el.labels[0]);
        return !box || box.getBoundingClientRect().height < min;
      }
      return el.getBoundingClientRect().height < min;
    })
    .map(el => name(el) + ' ' + Math.round(el.getBoundingClientRect().height) + 'px');
  const wide = Array.from(document.querySelectorAll('main *'))
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1 && visible(el)
                  && !el.closest('.table-wrap, .diagram'))
    .slice(0, 5).map(name);
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    h1: document.querySelectorAll('h1').length, unlabelled, small, wide,
  };
}"""


@pytest.fixture(scope="module")
def cases(server: LiveServer) -> dict[str, int]:
    """applicant1's cases by state (``case_states``)."""
    return case_states.all_states(server.engine)


@pytest.fixture(scope="module")
def contexts(browser: Any, server: LiveServer) -> Iterator[dict[str | None, Any]]:
    """One Chinese browser context per user (signed in once), and one signed out."""
    made: dict[str | None, Any] = {}
    for user in {s.user for s in SCREENS}:
        context = browser.new_context(
            locale="zh-CN", viewport={"width": WIDTHS[0], "height": HEIGHT}, base_url=server.url
        )
        context.set_default_timeout(15_000)
        if user is not None:
            page = context.new_page()
            sign_in(page, user)
            page.close()
        made[user] = context
    yield made
    for context in made.values():
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("screen", SCREENS, ids=[s.name for s in SCREENS])
def test_the_page_fits_a_phone_with_one_heading_labelled_controls_and_large_targets(
    contexts: dict[str | None, Any], cases: dict[str, int], screen: Screen, width: int
) -> None:
    page = contexts[screen.user].new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        path = screen.path.format(**cases)
        answer = page.goto(path)
        assert answer is not None
        heading = page.locator("h1").first.inner_text() if page.locator("h1").count() else ""
        if answer.status == 404 and heading in MISSING and screen.name != "not-found":
            pytest.skip(f"{path}: no route serves this page yet")
        assert answer.status == screen.status, f"{path} answered {answer.status}"
        page.wait_for_load_state("load")
        found = page.evaluate(MEASURE, MIN_TARGET)
        shot(page, f"phone-{screen.name}-{width}")
        assert found["scrollWidth"] <= found["innerWidth"], f"{path} scrolls sideways: {found['wide']}"
        assert found["h1"] == 1, f"{path} has {found['h1']} h1"
        assert found["unlabelled"] == [], f"{path}: controls without a label: {found['unlabelled']}"
        assert found["small"] == [], f"{path}: targets under 44 px: {found['small']}"
        assert not errors, f"script errors on {path}: {errors}"
    finally:
        page.close()


def test_the_menu_folds_on_a_phone_and_opens_and_closes_from_the_keyboard(
    contexts: dict[str | None, Any],
) -> None:
    page = contexts["applicant1"].new_page()
    try:
        page.set_viewport_size({"width": 360, "height": HEIGHT})
        page.goto("/cases")
        menu = page.locator("#site-menu")
        toggle = page.locator(".menu-toggle")
        assert not menu.is_visible()
        assert toggle.get_attribute("aria-expanded") == "false"
        toggle.focus()
        page.keyboard.press("Enter")
        assert toggle.get_attribute("aria-expanded") == "true"
        links = menu.locator("a, button")
        assert links.first.is_visible()
        heights = links.evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
        assert min(heights) >= MIN_TARGET, heights
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        names = menu.inner_text()
        assert "我的办件" in names and "退出" in names
        shot(page, "phone-menu-open-360")
        page.keyboard.press("Escape")
        assert toggle.get_attribute("aria-expanded") == "false"
        assert not menu.is_visible()
        assert page.evaluate("document.activeElement.classList.contains('menu-toggle')")
        # Wide screens show the menu itself, never the button.
        page.set_viewport_size({"width": 1366, "height": 900})
        assert menu.is_visible() and not toggle.is_visible()
        assert re.search("我的办件", menu.inner_text())
    finally:
        page.close()
