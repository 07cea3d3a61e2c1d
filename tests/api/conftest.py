"""Fixtures of the API tests: a real server per module on a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.settings import Settings
from tests.api.support import LiveServer, live_server


def settings_for(db_url: str, data_dir: Path) -> Settings:
    """Settings of a test server: its own database and data folder."""
    return Settings(database_url=db_url, data_dir=data_dir)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on a fresh SQLite file with the shipped bundles and the demo accounts."""
    root = tmp_path_factory.mktemp("api")
    with live_server(settings_for(f"sqlite:///{root / 'onething.db'}", root / "var")) as running:
        yield running
