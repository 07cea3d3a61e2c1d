"""Case codes (办件编码): from the configured pattern at submission, dated in China, in every case view."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.cases.codes import case_code
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.support.engines import ANALYST, APPLICANT, TEST_BUNDLES, make_engine, start_mini_startup

# 01:30 on 4 March in Beijing, still 3 March in UTC.
EARLY_BEIJING = datetime(2025, 3, 3, 17, 30, tzinfo=UTC)


def test_a_case_gets_its_code_at_submission_dated_by_the_china_local_day(tmp_path: Path) -> None:
    engine = make_engine(
        f"sqlite:///{tmp_path / 'o.db'}",
        tmp_path,
        ManualClock(EARLY_BEIJING),
        case_code_pattern="{bundle}-{date:%Y%m%d}-{id:06d}",
    )
    engine.deployments.deploy_dir(TEST_BUNDLES / "mini-startup")
    first, second = start_mini_startup(engine), start_mini_startup(engine)

    assert engine.get_case(APPLICANT, first).code == f"mini-startup-20250304-{first:06d}"
    assert engine.get_case(ANALYST, second).code == f"mini-startup-20250304-{second:06d}"
    listed = engine.list_cases(APPLICANT).items
    assert [(c.id, c.code) for c in listed] == [
        (second, f"mini-startup-20250304-{second:06d}"),
        (first, f"mini-startup-20250304-{first:06d}"),
    ]
    engine.close()


def test_the_default_pattern_is_the_date_and_the_padded_id() -> None:
    pattern = Settings().case_code_pattern
    assert case_code(pattern, case_id=42, bundle="x", day=datetime(2025, 3, 4).date()) == "2025030400000042"


def test_the_pattern_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONETHING_CASE_CODE_PATTERN", "SH{id:010d}")
    assert Settings().case_code_pattern == "SH{id:010d}"


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        ("{date:%Y%m%d}", "must contain {id}"),
        ("{date:%Y%m%d}{serial}{id}", "names 'serial'"),
        ("{id:%Y}", "format that does not fit"),
        ("{id", "is not a format pattern"),
        ("{id!r}", "conversions"),
        ("X" * 60 + "{id:08d}", "1 to 64 characters"),
        ("{}{id}", "names ''"),
    ],
)
def test_a_bad_pattern_stops_the_settings_from_loading(pattern: str, said: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(case_code_pattern=pattern)
    assert said in str(caught.value)
