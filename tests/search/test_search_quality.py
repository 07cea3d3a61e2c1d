"""智能导办 quality: the test set of plain-language questions finds the right bundle (and 情形)."""

from __future__ import annotations

from tests.search.shipped_index import PROCESSES, measure, queries, shipped_index, situation_names


def test_the_test_set_is_large_and_covers_every_shipped_bundle_several_times() -> None:
    rows = queries()
    assert len(rows) >= 100
    shipped = {p.parent.name for p in PROCESSES.glob("*/bundle.yaml")}
    per_bundle = {key: sum(r.bundle == key for r in rows) for key in shipped}
    assert min(per_bundle.values()) >= 5, per_bundle
    assert {r.bundle for r in rows} <= shipped
    names = situation_names()
    for row in rows:
        assert row.situation is None or row.situation in names[row.bundle], row


def test_questions_find_their_bundle_first_nine_times_in_ten_and_in_the_top_three_almost_always() -> None:
    quality = measure(shipped_index(), queries())
    assert quality.top1 >= 0.90 * quality.total, quality.misses
    assert quality.top3 >= 0.98 * quality.total, quality.misses


def test_questions_about_one_situation_find_that_situation_first() -> None:
    quality = measure(shipped_index(), queries())
    assert quality.situations >= 15
    assert quality.situations_right >= 0.9 * quality.situations
