"""Engine messages carry both languages ("中文 (English)"); pages show one: the split they rely on."""

from __future__ import annotations

import pytest

from engine.errors import AssigneeChanged, NotAllowed, split_languages


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        (
            "只有认领人可以委托 (only the assignee delegates)",
            ("只有认领人可以委托", "only the assignee delegates"),
        ),
        ("须填写说明（a reason is required）", ("须填写说明", "a reason is required")),
        ("任务已completed", None),  # one string, no gloss: no split
        ("营业执照 (副本) 须上传", None),  # a bracket inside the text is not a gloss
        ("材料 (营业执照)", None),  # a Chinese "gloss" is no English
    ],
)
def test_a_message_splits_only_when_it_ends_in_an_english_gloss(
    message: str, parts: tuple[str, str] | None
) -> None:
    assert split_languages(message) == parts


def test_an_error_answers_in_each_language_or_its_whole_text_for_both() -> None:
    zh, en = AssigneeChanged(
        "任务的认领人已变更，请刷新后重试 (the task's assignee changed meanwhile; reload)"
    ).in_languages()
    assert zh == "任务的认领人已变更，请刷新后重试" and en == "the task's assignee changed meanwhile; reload"
    assert NotAllowed("无权").in_languages() == ("无权", "无权")
