"""The 0015_certificate_content migration: down and up again on SQLite and PostgreSQL, losing nothing.

Certificates issued since 0015 keep their documents only in ``materials.content``, so going
down refuses while any row holds one; with none, the column goes and every other row (and the
reviews that reference materials) stays.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from engine.cases.materials import FileBlobStore, MaterialService
from engine.demo import demo_pdf
from engine.storage.db import Database, alembic_config
from engine.storage.models import Material
from engine.storage.review_tables import MaterialReview
from engine.time.clock import ManualClock
from forms.catalog import load_catalog
from tests.engine.test_materials import LICENCE_CONTENT, START


def downgrade(db: Database, revision: str) -> None:
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def columns(db: Database) -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns("materials")}


def test_going_down_refuses_while_certificates_live_only_in_their_rows_and_loses_nothing_when_it_may(
    db_url: str, tmp_path: Path
) -> None:
    db = Database(db_url)
    db.upgrade()
    store = FileBlobStore(tmp_path / "blobs")
    service = MaterialService(db, store, load_catalog(), clock=ManualClock(START))
    upload = service.upload("applicant1", "articles_of_association", "章程.pdf", io.BytesIO(demo_pdf("章程")))
    with db.write() as session:
        issued = service.issue_certificate(
            session, 42, "applicant1", "business_licence", dict(LICENCE_CONTENT)
        )
    with pytest.raises(RuntimeError, match="1 issued certificates"):
        downgrade(db, "0014_reviews")
    assert "content" in columns(db)
    assert service.certificate_data(issued.id)["number"].startswith("DZZZ")

    # Written out to the store first (as an operator going down would), the way down is open.
    with db.write() as session:
        row = session.get(Material, issued.id)
        assert row is not None and row.content is not None
        store.put(io.BytesIO(row.content), len(row.content))
        row.content = None
    downgrade(db, "0014_reviews")
    assert "content" not in columns(db)
    with db.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Material.__table__)).scalar_one() == 2
        reviewed = connection.execute(select(MaterialReview.__table__.c.material_id)).scalars().all()
        assert reviewed == [upload.id]  # the copy-free ALTER TABLE cascaded nothing

    db.upgrade()
    assert "content" in columns(db)
    assert service.certificate_data(issued.id)["fields"]["uscc"] == LICENCE_CONTENT["uscc"]
    _, stream = service.open(upload.id)
    with stream:
        assert stream.read() == demo_pdf("章程")
    db.dispose()
