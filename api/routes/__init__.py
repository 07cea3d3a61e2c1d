"""The REST routers of design.md's table, one module per resource; each route is thin."""

from __future__ import annotations

from api.routes import accounts, analytics, auth, bundles, cases, feedback, materials, tasks

__all__ = ["accounts", "analytics", "auth", "bundles", "cases", "feedback", "materials", "tasks"]
