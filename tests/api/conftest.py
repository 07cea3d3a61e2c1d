"""Fixtures of the API tests: a real server per module on a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.support import LiveServer, sqlite_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on a fresh SQLite file with the shipped bundles and the demo accounts."""
    with sqlite_server(tmp_path_factory.mktemp("api")) as running:
        yield running
