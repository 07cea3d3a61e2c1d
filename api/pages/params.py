"""The bounds of the ids and versions in page addresses: the API's own (``api.deps``).

A number no column can hold (``/cases/99999999999999999999``) is refused before it reaches
a query; ``PageRoute`` answers a path that does not validate with the 404 page an unknown
id gets, and a query parameter that does not validate with the 422 page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from api.deps import BundleKey, CaseId, TaskId
from engine.bpmn.manifest import MAX_VERSION

PageVersion = Annotated[int, Path(ge=1, le=MAX_VERSION, description="版本 (version)")]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_VERSION, description="版本 (version)")]

__all__ = ["MAX_VERSION", "BundleKey", "CaseId", "PageVersion", "TaskId", "VersionQuery"]
