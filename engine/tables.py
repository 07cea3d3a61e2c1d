"""Every table of onething, gathered for migrations (modules add their tables to ``Base``)."""

from __future__ import annotations

from engine import models

metadata = models.Base.metadata
