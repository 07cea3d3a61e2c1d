"""How often pre-review (智能预审) predicted a clerk's return, for analysts (under /api/analytics)."""

from __future__ import annotations

from api.deps import AnalystActor, EngineDep
from api.errors import responses
from api.routes.analytics import BundleFilter, DivisionFilter
from api.routing import PrefixedRouter
from api.schemas.review_figures import PreReviewFiguresPublic
from engine.review.figures import prediction_figures

router = PrefixedRouter(prefix="/api/analytics", tags=["analytics"])


@router.get("/pre-review", response_model=PreReviewFiguresPublic, responses=responses(403, 422))
def pre_review_figures(
    analyst: AnalystActor, engine: EngineDep, bundle: BundleFilter = None, division: DivisionFilter = None
) -> PreReviewFiguresPublic:
    """Analysts: of the materials whose pre-review found a mismatch, how many a clerk then returned.

    Counts materials of cases in the caller's division (and ``division=``, when given) only;
    ``missed_returns`` counts returns naming a material whose pre-review found it matching.
    """
    scope: frozenset[str] | None = None
    tree = engine.regions.tree()
    for code in (analyst.division, division):
        if code:
            below = tree.subtree(code)
            scope = below if scope is None else scope & below
    divisions: set[str | None] | None = None
    if scope is not None:
        # Cases from before regions carry no division: they are the default division's.
        divisions = {*scope, *([None] if engine.settings.default_division in scope else [])}
    return PreReviewFiguresPublic.of(prediction_figures(engine.db, bundle, divisions))
