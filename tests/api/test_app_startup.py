"""Start-up: the app prepares the engine it builds, and leaves a handed-in one to its owner."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from fastapi import FastAPI

from api.app import create_app
from engine.service import Engine
from engine.storage.settings import Settings


async def _bundles_after_startup(app: FastAPI) -> list[str]:
    async with app.router.lifespan_context(app):
        return [b.key for b in app.state.services.engine.list_bundles()]


def test_the_app_prepares_only_an_engine_it_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'onething.db'}", data_dir=tmp_path / "var")
    # Its own engine: an empty database gets the schema and the shipped bundles.
    assert "enterprise-startup" in anyio.run(_bundles_after_startup, create_app(settings))

    # ``onething serve`` prepares its engine before handing it in: start-up does not repeat it.
    engine = Engine(settings)
    calls: list[str] = []
    monkeypatch.setattr(engine, "upgrade", lambda: calls.append("upgrade"))
    monkeypatch.setattr(engine, "deploy_shipped", lambda: calls.append("deploy"))
    try:
        assert "enterprise-startup" in anyio.run(_bundles_after_startup, create_app(settings, engine))
    finally:
        engine.close()
    assert calls == []
