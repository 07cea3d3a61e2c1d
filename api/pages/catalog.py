"""The bundles on offer, kept between requests until a new version is deployed.

Every page names bundles (menus, filters, case lists), and summarising all of them costs the
engine a parse-and-measure per bundle. Deployed versions are immutable and only ever added,
and a draft only ever goes live (four-eyes review), never back; so the count, the newest id
and the number of published rows of the ``deployments`` table change exactly when the list
of published bundles can; one query per request tells, even when other processes deploy.
"""

from __future__ import annotations

import threading

from engine.cases.views import BundleSummary, Label
from engine.service import Engine


class BundleCatalog:
    """``Engine.list_bundles()``, recomputed only when the deployments table has changed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._token: tuple[int, int, int] | None = None
        self._bundles: tuple[BundleSummary, ...] = ()

    def bundles(self) -> list[BundleSummary]:
        """The newest published version of every deployed bundle (as ``Engine.list_bundles``)."""
        token = self._engine.deployments_marker()
        with self._lock:
            if token != self._token:
                self._bundles = tuple(self._engine.list_bundles())
                self._token = token
            return list(self._bundles)

    def names(self) -> dict[str, Label]:
        """Each bundle's name by key."""
        return {b.key: b.name for b in self.bundles()}
