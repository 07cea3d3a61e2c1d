"""The 0014_reviews migration goes down and up again on SQLite and PostgreSQL, with reviews stored."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from engine.storage.db import alembic_config
from tests.review.support import licence_engine, upload_licence
from tests.support.engines import APPLICANT


def test_the_reviews_table_is_dropped_and_made_again(db_url: str, tmp_path: Path) -> None:
    engine = licence_engine(db_url, tmp_path)
    material = upload_licence(engine, APPLICANT.username)
    config = alembic_config()
    with engine.db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013_merge")
    assert "material_reviews" not in inspect(engine.db.engine).get_table_names()
    engine.db.upgrade()
    assert "material_reviews" in inspect(engine.db.engine).get_table_names()
    assert engine.reviews.of_material(material).status == "not_applicable"  # no row: nothing queued
    engine.close()
