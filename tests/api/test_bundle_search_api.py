"""GET /api/bundles?q= (智能导办): bundles ranked for a plain-language question, each with score and why."""

from __future__ import annotations

from typing import Any

from api.schemas.bundles import BundlePublic
from tests.api.support import LiveServer

CATALOGUE_KEYS = set(BundlePublic.model_fields)  # the catalogue entry as before: no score, why or situations


def _ask(server: LiveServer, q: str | None) -> list[dict[str, Any]]:
    with server.as_user("applicant1") as c:
        r = c.get("/api/bundles", params={} if q is None else {"q": q})
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def test_a_question_ranks_the_bundle_it_is_about_first_with_the_words_that_matched(
    server: LiveServer,
) -> None:
    found = _ask(server, "我想开一家小饭馆")
    first = found[0]
    assert first["key"] == "restaurant-opening"
    assert first["score"] > 0
    assert {"word": "小饭馆", "field": "keyword"} in first["why"]
    # Every bundle is still listed: those that fit first, best first, then the rest with score 0.
    assert {b["key"] for b in found} == {b["key"] for b in _ask(server, None)}
    scores = [b["score"] for b in found]
    assert scores == sorted(scores, reverse=True)
    assert all(b["why"] == [] and b["situations"] == [] for b in found if b["score"] == 0)


def test_the_situations_that_fit_come_with_their_reasons(server: LiveServer) -> None:
    first = _ask(server, "二手房只需要把水和电过户")[0]
    assert first["key"] == "resale-home-transfer"
    best = first["situations"][0]
    assert best["index"] == 1 and best["name"]["zh"] == "买入二手房，仅办理用水和用电过户"
    assert best["why"] and best["score"] > 0


def test_without_a_question_the_catalogue_is_as_before(server: LiveServer) -> None:
    for q in (None, "", "  "):
        listed = _ask(server, q)
        assert listed and all(set(b) == CATALOGUE_KEYS for b in listed)
        assert not CATALOGUE_KEYS & {"score", "why", "situations"}


def test_a_nonsense_question_lists_every_bundle_with_score_zero(server: LiveServer) -> None:
    found = _ask(server, "嗯嗯 zzqx 的了吗")
    assert len(found) == len(_ask(server, None))
    assert all(b["score"] == 0 and b["why"] == [] for b in found)
    assert [b["key"] for b in found] == sorted(b["key"] for b in found)


def test_a_question_over_200_characters_is_refused(server: LiveServer) -> None:
    with server.as_user("applicant1") as c:
        r = c.get("/api/bundles", params={"q": "开店" * 101})
    assert r.status_code == 422
    assert "detail" in r.json()
