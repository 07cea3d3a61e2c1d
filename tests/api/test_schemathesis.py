"""Property-based run of schemathesis against /openapi.json of a real server: no 5xx, no off-schema answer.

Every operation of the document is called with the schema's own examples, with generated
valid requests and with generated invalid ones, as the role the operation is meant for (so
the fuzzing reaches past the role gate). A few examples per operation keep the run within
about a minute; every failing operation is reported, not only the first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err, Ok

from tests.api.support import LiveServer, sqlite_server

VALID_EXAMPLES = 10
INVALID_EXAMPLES = 6
TIME_BUDGET = 90.0
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own: the fuzzing creates accounts and changes passwords."""
    with sqlite_server(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


def role_for(method: str, path: str) -> str:
    """The demo account an operation is meant for."""
    if path.startswith(("/api/accounts", "/api/webhooks", "/api/divisions", "/api/offices")):
        return "admin"
    if path.startswith("/api/analytics") or (method == "POST" and path == "/api/bundles"):
        return "analyst"
    if path.startswith(("/api/tasks", "/api/rectifications")):
        return "clerk.market-regulation"
    if path.startswith("/api/supervision") or path.endswith(("/answer", "/suspend", "/resume")):
        return "supervisor.market-regulation"
    return "applicant1"


def exercise(strategy: st.SearchStrategy[schemathesis.Case[Any]], count: int, token: str) -> None:
    """Call the server with ``count`` cases drawn from ``strategy`` and validate every answer."""

    @settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=30)

    run()


def test_no_server_error_and_every_answer_matches_its_schema(fuzz_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json")
    started = time.monotonic()
    failures: list[str] = []
    results = list(schema.get_all_operations())
    unreadable = [str(r.err()) for r in results if isinstance(r, Err)]
    assert not unreadable, f"operations schemathesis cannot read: {unreadable}"
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 20
    for operation in operations:
        token = fuzz_server.token(role_for(operation.method.upper(), operation.path))
        plans: list[tuple[str, st.SearchStrategy[schemathesis.Case[Any]], int]] = [
            ("examples", st.one_of(schema.get_strategies_from_examples(operation)), 4),
            ("valid", operation.as_strategy(GenerationMode.POSITIVE), VALID_EXAMPLES),
            ("invalid", operation.as_strategy(GenerationMode.NEGATIVE), INVALID_EXAMPLES),
        ]
        for name, strategy, count in plans:
            if name == "examples" and not schema.get_strategies_from_examples(operation):
                continue
            try:
                exercise(strategy, count, token)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # schemathesis reports its findings as an exception group
                if name == "invalid" and "Unable to satisfy assumptions" in str(exc):
                    continue  # nothing in this operation can be sent wrong (no parameters, no body)
                failures.append(f"{operation.label} [{name}]: {exc}")
    elapsed = time.monotonic() - started
    assert not failures, "\n\n".join(failures)
    assert elapsed < TIME_BUDGET * 2, f"the run took {elapsed:.0f}s"
