"""A served app's SQLite commits survive a power cut by default: ``synchronous=FULL``; NORMAL is a setting.

The app is built as ``onething serve`` builds it, from the ``ONETHING_*`` environment, and the
level is read back from the connections its engine actually writes with.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text

from api.app import create_app
from engine.storage.settings import Settings

# What ``PRAGMA synchronous`` answers for each level.
LEVELS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


async def _served_levels(app: FastAPI) -> tuple[int, int]:
    """The synchronous level of a read and of a write connection of the running app's engine."""
    async with app.router.lifespan_context(app):
        db = app.state.services.engine.db
        with db.read() as session:
            read_level = session.execute(text("PRAGMA synchronous")).scalar_one()
        with db.write() as session:
            write_level = session.execute(text("PRAGMA synchronous")).scalar_one()
        return int(read_level), int(write_level)


def _serve_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str | None) -> FastAPI:
    monkeypatch.setenv("ONETHING_DATABASE_URL", f"sqlite:///{tmp_path / 'onething.db'}")
    monkeypatch.setenv("ONETHING_DATA_DIR", str(tmp_path / "var"))
    if level is None:
        monkeypatch.delenv("ONETHING_SQLITE_SYNCHRONOUS", raising=False)
    else:
        monkeypatch.setenv("ONETHING_SQLITE_SYNCHRONOUS", level)
    return create_app()


def test_a_served_app_commits_with_synchronous_full_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _serve_from_environment(tmp_path, monkeypatch, None)
    assert anyio.run(_served_levels, app) == (LEVELS["FULL"], LEVELS["FULL"])


@pytest.mark.parametrize("level", ["NORMAL", "normal"])
def test_a_served_app_runs_synchronous_normal_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str
) -> None:
    app = _serve_from_environment(tmp_path, monkeypatch, level)
    assert anyio.run(_served_levels, app) == (LEVELS["NORMAL"], LEVELS["NORMAL"])


def test_an_unknown_synchronous_level_stops_the_process_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONETHING_SQLITE_SYNCHRONOUS", "SOMETIMES")
    with pytest.raises(ValidationError, match="sqlite_synchronous"):
        Settings()
