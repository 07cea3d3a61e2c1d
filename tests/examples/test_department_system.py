"""The department-system example a newcomer reads first keeps working against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples import department_system
from examples.department_system import Attempts, Refused, WorkFailed, register_taxpayer
from tests.api.support import ROOT, LiveServer, sqlite_server
from tests.integration.conftest import COMPANY, bundle_zip


def deploy_and_submit(server: LiveServer) -> tuple[str, dict[str, Any]]:
    """A copy of the integration tests' bank bundle on topic ``bank-example`` and one case of it."""
    archive = bundle_zip("bank-example", "bank-example", "licence-issued-example")
    with server.as_user("analyst") as analyst:
        deployed = analyst.post("/api/bundles", files={"file": ("bundle.zip", archive, "application/zip")})
        assert deployed.status_code in (200, 201), deployed.text
    with server.as_user("applicant1") as applicant:
        submitted = applicant.post("/api/cases", json={"bundle": "bank-example", "data": COMPANY})
        assert submitted.status_code == 201, submitted.text
        return "bank-example", dict(submitted.json())


def test_the_worker_completes_a_bank_task_then_its_message_finishes_the_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite_server(tmp_path) as server:
        topic, case = deploy_and_submit(server)
        options = department_system.parse(
            ["--base-url", server.base_url, "--department", "bank", "--topic", topic, "--once"]
        )
        assert department_system.run(options) == 0
        (line,) = capsys.readouterr().out.splitlines()
        kind, task_id, key, result = line.split()
        assert kind == "completed" and key == case["code"] and result.startswith("bank_account_no=6222")
        with server.as_user("applicant1") as applicant:
            timeline = applicant.get(f"/api/cases/{case['id']}").json()["timeline"]
        assert [e["actor"] for e in timeline if e["kind"] == "approved"] == ["system.bank"]
        with server.as_user("system.bank") as system:
            assert system.get(f"/engine-rest/external-task/{task_id}").status_code == 404  # done

        # the case now waits for the licence message: the system tells it, once
        message = ["--base-url", server.base_url, "--department", "bank"]
        message += ["--send-message", "licence-issued-example", "--business-key", case["code"]]
        assert department_system.run(department_system.parse(message)) == 0
        assert capsys.readouterr().out.split() == [
            "correlated",
            "licence-issued-example",
            case["code"],
            "Execution",
        ]
        with server.as_user("applicant1") as applicant:
            assert applicant.get(f"/api/cases/{case['id']}").json()["status"] == "completed"
        assert department_system.run(department_system.parse(message)) == 1
        assert capsys.readouterr().out.startswith(
            f"not-correlated licence-issued-example {case['code']} 400 "
        )


def test_the_worker_runs_as_a_script_and_fails_with_retries_counting_down(tmp_path: Path) -> None:
    with sqlite_server(tmp_path) as server:
        topic, _case = deploy_and_submit(server)
        command = [sys.executable, "examples/department_system.py", "--base-url", server.base_url]
        command += ["--department", "bank", "--topic", topic, "--fail-first", "1", "--once"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        (line,) = done.stdout.splitlines()
        assert line.startswith("failed ") and line.endswith(" retries=2")
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            token = server.token("system.bank")
            listed = client.get(
                "/engine-rest/external-task",
                params={"topicName": topic},
                headers={"Authorization": f"Bearer {token}"},
            )
        (task,) = listed.json()
        assert (
            task["retries"] == 2
            and task["errorMessage"] == "the back-office system is unavailable (simulated)"
        )


def test_the_tax_system_reports_the_credit_code_as_the_taxpayer_number() -> None:
    company = {"company_name": {"value": "上海澄川信息科技有限公司", "type": "String"}}
    code = {"uscc": {"value": "91310115MA1K4B7C2U", "type": "String"}}
    with_code = register_taxpayer({"businessKey": "BJ-1", "variables": {**company, **code}})
    assert with_code == {"tax_registration_no": {"value": "91310115MA1K4B7C2U", "type": "String"}}
    without_code = {"businessKey": "BJ-1", "variables": company}
    number = register_taxpayer(without_code)["tax_registration_no"]["value"]
    assert number.startswith("91") and len(number) == 18
    assert (
        register_taxpayer(without_code)["tax_registration_no"]["value"] == number
    )  # the same case, the same number
    with pytest.raises(WorkFailed):
        register_taxpayer({"businessKey": "BJ-2", "variables": {}})


def test_fail_first_fails_exactly_the_first_attempts() -> None:
    attempts = Attempts(fail_first=2, fail_rate=0.0)
    assert [attempts.should_fail() for _ in range(4)] == [True, True, False, False]
    assert Refused("ACCOUNT_REFUSED", "no").code == "ACCOUNT_REFUSED"
