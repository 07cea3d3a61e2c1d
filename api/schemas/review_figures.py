"""Pre-review's prediction figures over REST (how often 智能预审 foretold a clerk's return).

May import: pydantic, engine.review.figures.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from engine.review.figures import PredictionFigures


class PreReviewFiguresPublic(BaseModel):
    """Reviewed materials of cases, those with a mismatch, and the returns they predicted or missed."""

    reviewed: int = Field(description="已预审的申请材料数 (materials of cases read by pre-review)")
    with_mismatch: int = Field(description="发现不一致的材料数 (of them, with a mismatch)")
    predicted_returns: int = Field(
        description="其中被退回（点名该材料或不一致字段）的数量 (of those, returned naming it or its fields)"
    )
    missed_returns: int = Field(
        description="未发现不一致但被退回的数量 (returns naming a material that matched)"
    )
    precision: float | None = Field(description="predicted_returns / with_mismatch (null without mismatches)")
    recall: float | None = Field(description="predicted_returns / all such returns (null without returns)")

    @classmethod
    def of(cls, figures: PredictionFigures) -> PreReviewFiguresPublic:
        """From the engine's figures."""
        return cls(
            reviewed=figures.reviewed,
            with_mismatch=figures.with_mismatch,
            predicted_returns=figures.predicted_returns,
            missed_returns=figures.missed_returns,
            precision=figures.precision,
            recall=figures.recall,
        )
