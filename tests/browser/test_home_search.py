"""智能导办 on the home page: a sent question ranks the bundles and says why, in both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, checked_page, shot

PHONE = {"width": 360, "height": 780}


def _cards(page: Any) -> list[str]:
    return list(
        page.locator("article[data-bundle]:visible").evaluate_all("cs => cs.map(c => c.dataset.bundle)")
    )


@pytest.fixture
def phone(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A Chinese page at a 360 px phone width (a script error or CSP violation fails the test)."""
    yield from checked_page(browser, server, PHONE, has_touch=True)


def test_a_plain_question_on_a_phone_ranks_the_bundle_first_and_says_which_words_matched(phone: Any) -> None:
    phone.goto("/")
    every = _cards(phone)
    phone.get_by_label("搜索要办的事").fill("我想开一家小饭馆")
    # Typing filters by the words of the names; a sentence is in none, so nothing is hidden and the
    # count points to the search button.
    expect(phone.locator("#bundle-count")).to_contain_text("点“搜索”按意思查找")
    assert _cards(phone) == every
    phone.get_by_role("button", name="搜索").click()
    phone.wait_for_url(re.compile(r"\?q="))
    expect(phone.get_by_role("heading", level=1)).to_have_count(1)
    expect(phone.get_by_role("heading", level=2, name=re.compile("我想开一家小饭馆"))).to_be_visible()
    assert _cards(phone)[0] == "restaurant-opening"
    first = phone.locator("article[data-bundle='restaurant-opening']")
    expect(first.locator(".why")).to_contain_text("匹配：小饭馆")
    expect(first.get_by_role("link", name=re.compile("在线申请"))).to_have_attribute(
        "href", "/apply/restaurant-opening"
    )
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = first.get_by_role("link", name=re.compile("在线申请")).bounding_box()
    assert box is not None and box["height"] >= 44
    shot(phone, "home-search-phone")
    # The situation that fits is named.
    phone.goto("/?q=" + "孩子的社保卡弄丢了")
    card = phone.locator("article[data-bundle='social-security-card']")
    expect(card.locator(".situations")).to_contain_text("儿童社保卡遗失补换")


def test_the_english_page_explains_in_english_without_scripts(browser: Any, server: LiveServer) -> None:
    context = browser.new_context(
        locale="en-US", viewport={"width": 414, "height": 800}, base_url=server.url, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto("/lang/en?next=/")
        page.get_by_label("Search for a service").fill("newborn baby")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(r"\?q="))
        assert _cards(page)[0] == "newborn-birth"
        expect(page.locator("article[data-bundle='newborn-birth'] .why")).to_contain_text(
            "Matched: newborn (name)"
        )
        expect(page.get_by_role("heading", level=2)).to_contain_text("Services for")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


def test_a_nonsense_question_says_so_and_lists_every_bundle(page: Any, server: LiveServer) -> None:
    page.goto("/")
    every = set(_cards(page))
    page.goto("/?q=" + "嗯嗯 zzqx")
    expect(page.get_by_role("status")).to_contain_text("没有找到与“嗯嗯 zzqx”相关的事项，以下是全部事项")
    assert set(_cards(page)) == every
