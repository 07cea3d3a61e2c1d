"""Every table of onething, gathered for migrations (modules add their tables to ``Base``).

Importing a module registers its ORM classes on ``Base.metadata``; Alembic's env and the
schema test read ``metadata`` from here, so a new table module must be listed below.
"""

from __future__ import annotations

from engine.analytics import rows as analytics
from engine.cases import suspension_rows
from engine.deadlines import supervision
from engine.feedback import rows as feedback
from engine.people import sign_in
from engine.storage import idempotency, migration_tables, models, outbox_tables, portal_tables, review_tables

metadata = models.Base.metadata
TABLE_MODULES = (
    models,
    analytics,
    feedback,
    idempotency,
    supervision,
    sign_in,
    outbox_tables,
    portal_tables,
    suspension_rows,
    migration_tables,
    review_tables,
)
