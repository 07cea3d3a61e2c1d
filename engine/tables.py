"""Every table of onething, gathered for migrations (modules add their tables to ``Base``).

Importing a module registers its ORM classes on ``Base.metadata``; Alembic's env and the
schema test read ``metadata`` from here, so a new table module must be listed below.
"""

from __future__ import annotations

from engine import analytics, feedback, idempotency, models, sign_in, sla

metadata = models.Base.metadata
TABLE_MODULES = (models, analytics, feedback, idempotency, sla, sign_in)
