"""Fixtures for the whole suite: a real SQLite file per test and a real PostgreSQL cluster.

Store tests take the ``db_url`` fixture, parametrized over both backends. Without
PostgreSQL installed the ``postgres`` cases skip with a reason, except under ``CI=true``,
where a missing server fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pg import PgCluster, find_pg_bin, start_cluster

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL cluster per test session (per xdist worker)."""
    if find_pg_bin() is None:
        if IN_CI:
            pytest.fail("PostgreSQL is not installed, and CI must run the PostgreSQL tests")
        pytest.skip("PostgreSQL server binaries not found (install postgresql-15)")
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite:///{tmp_path / 'onething.db'}"


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh PostgreSQL database for one test."""
    return pg_cluster.create_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL, once per backend: every store test runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'onething.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()
