"""Ratings (好差评) on the case page, through the engine's feedback rules (``engine.feedback``)."""

from __future__ import annotations

from engine import feedback
from engine.actors import Actor
from engine.service import Engine


def case_feedback(engine: Engine, actor: Actor, case_id: int) -> feedback.CaseFeedback:
    """Ratings given on the case, with the rectifications they opened and their replies."""
    return feedback.case_feedback(engine.db, actor, case_id)


def rate(engine: Engine, actor: Actor, case_id: int, score: int, comment: str, department: str) -> None:
    """Record the applicant's rating of a finished case (the whole service, or one department)."""
    feedback.rate(
        engine.db, engine.clock, actor, case_id, score, comment, department or None, calendar=engine.calendar
    )
