"""The scripts a newcomer reads first must keep working: each runs a case to ``completed``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from examples import embedded_case, rest_client
from tests.api.support import ROOT, sqlite_server


def test_the_embedded_example_runs_a_case_to_completion(capsys: pytest.CaptureFixture[str]) -> None:
    assert embedded_case.main("school-enrollment") == "completed"
    printed = capsys.readouterr().out
    assert "approved" in printed and "submitted" in printed


def test_the_rest_example_completes_a_case_against_a_real_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite_server(tmp_path) as server:
        assert rest_client.main(server.base_url) == "completed"
    assert "approved business-registration" in capsys.readouterr().out


def test_the_embedded_example_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, "examples/embedded_case.py"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout
