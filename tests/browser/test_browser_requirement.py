"""Without Debian's chromium the browser tests skip with the reason, except under CI, where they fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import require_browser


def test_a_missing_browser_skips_with_the_reason_outside_ci(tmp_path: Path) -> None:
    missing = tmp_path / "chromium"
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_browser(missing, in_ci=False)
    assert str(missing) in str(skipped.value) and "apt-get install chromium" in str(skipped.value)


def test_a_missing_browser_fails_the_run_under_ci(tmp_path: Path) -> None:
    missing = tmp_path / "chromium"
    with pytest.raises(pytest.fail.Exception) as failed:
        require_browser(missing, in_ci=True)
    assert "CI=true" in str(failed.value) and str(missing) in str(failed.value)


def test_a_present_browser_lets_the_tests_run(tmp_path: Path) -> None:
    present = tmp_path / "chromium"
    present.write_bytes(b"")
    require_browser(present, in_ci=True)
    require_browser(present, in_ci=False)
