"""智能导办 over REST: a bundle ranked for a plain-language question, with the words that matched.

May import: api.schemas.bundles, api.schemas.common, engine.cases.bundle_search, engine.cases.views.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.bundles import BundlePublic
from api.schemas.common import LabelPublic, fields_of, with_examples
from engine.cases.bundle_search import BundleFound, Match, SituationFound
from engine.cases.views import BundleSummary

MatchField = Literal["keyword", "name", "item", "situation", "description", "department"]


class MatchPublic(BaseModel):
    """One word of the question and where it was found: a keyword, the name, an item, a 情形 ..."""

    model_config = with_examples({"word": "小饭馆", "field": "keyword"})

    word: str
    field: MatchField

    @classmethod
    def of(cls, match: Match) -> MatchPublic:
        """From the engine's match."""
        return cls.model_validate({"word": match.word, "field": match.field})


class SituationFoundPublic(BaseModel):
    """One 情形 of the bundle (its example at ``index`` in the bundle's ``examples``) that fits."""

    model_config = with_examples(
        {
            "index": 1,
            "name": {
                "zh": "个体面馆，仅热食，不设户外招牌",
                "en": "Noodle shop run by an individual, hot food, no sign",
            },
            "score": 4.2,
            "why": [{"word": "面馆", "field": "keyword"}],
        }
    )

    index: int
    name: LabelPublic
    score: float
    why: list[MatchPublic]

    @classmethod
    def of(cls, found: SituationFound) -> SituationFoundPublic:
        """From the engine's situation found."""
        return cls(
            index=found.index,
            name=LabelPublic.model_validate(found.name, from_attributes=True),
            score=found.score,
            why=[MatchPublic.of(m) for m in found.why],
        )


class BundleFoundPublic(BundlePublic):
    """A bundle as the catalogue lists it, ranked for the question: its score, why, and the 情形 that fit."""

    score: float = Field(description="相关程度，越大越相关 (how well it fits; larger is better)")
    why: list[MatchPublic] = Field(
        description="匹配的词及其位置 (the question's words that matched, and where)"
    )
    situations: list[SituationFoundPublic] = Field(
        description="符合问题的情形，最相关的在前 (the bundle's 情形 that fit, best first)"
    )

    @classmethod
    def of(cls, summary: BundleSummary, found: BundleFound | None) -> BundleFoundPublic:
        """A bundle and how it fits (score 0 and no reasons when the question matched nothing)."""
        return cls.model_validate(
            {
                **fields_of(summary),
                "score": found.score if found else 0.0,
                "why": [MatchPublic.of(m) for m in found.why] if found else [],
                "situations": [SituationFoundPublic.of(s) for s in found.situations] if found else [],
            },
            from_attributes=True,
        )
