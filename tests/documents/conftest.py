"""An engine with the shipped bundles (and their offices' names) and one enterprise startup run to the end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.demo import run_example
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.settings import Settings
from engine.time.clock import ManualClock
from tests.support.pg import PgCluster

PUBLIC_URL = "https://zwfw.example.gov.cn/onething"
START = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai
ANALYST = Actor("analyst", Role.ANALYST)


@dataclass
class Finished:
    """An engine and one completed enterprise-startup case of it."""

    engine: Engine
    clock: ManualClock
    case_id: int
    applicant: Actor


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def finished(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Finished]:
    """The first shipped example of enterprise-startup, applied and decided by every department.

    Once on SQLite and once on PostgreSQL (finding certificates by number, revoking).
    """
    root: Path = tmp_path_factory.mktemp("documents")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'onething.db'}"
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database()
    settings = Settings(database_url=url, data_dir=root / "var", public_url=PUBLIC_URL)
    clock = ManualClock(START)
    engine = Engine(settings, clock=clock)
    engine.upgrade()
    engine.deploy_shipped()
    run = run_example(engine, "enterprise-startup", 0, clock)
    assert run.status == "completed", run.error
    yield Finished(engine, clock, run.case_id, Actor("demo-enterprise-startup-1", Role.APPLICANT))
    engine.close()
