"""情形引导 over REST: a bundle's questions, and which items, materials and time limit the answers mean.

``GET /api/bundles/{key}/guide`` answers the questions and, for answers given as query
parameters (``?has_employees=true``), the result. It reads only, so it is a GET (a POST
would count as a change owing an ``Idempotency-Key``). Any signed-in account may ask, as
for the bundle itself. Unknown or malformed answers are not answers (the result then spans
every way that question may go); nothing is refused but an unknown bundle (404).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from pydantic import BaseModel, Field

from api.deps import BundleKey, CurrentActor, EngineDep
from api.errors import responses
from api.routing import PrefixedRouter
from api.schemas.common import LabelPublic
from engine.cases.guide import Guide

router = PrefixedRouter(prefix="/api/bundles", tags=["bundles"])


class ChoicePublic(BaseModel):
    """One answer to a question: the value the form takes, and its words."""

    value: bool | str
    label: LabelPublic


class QuestionPublic(BaseModel):
    """A question: the form field it answers, in words, with its choices."""

    field: str
    question: LabelPublic
    help: LabelPublic | None = None
    choices: list[ChoicePublic]


class GuideItemPublic(BaseModel):
    """An item that runs under the answers: ``always`` false when it depends on an open question."""

    key: str
    name: LabelPublic
    department: LabelPublic
    time_limit_days: float
    always: bool


class GuideMaterialPublic(BaseModel):
    """A material to bring (``always`` false: only for some answers to the open questions)."""

    kind: str
    name: LabelPublic
    always: bool
    promise_days: int | None = Field(
        default=None, description="容缺受理: 可承诺后补的天数 (days it may follow)"
    )


class ExemptMaterialPublic(BaseModel):
    """A material not needed from the applicant, and why."""

    kind: str
    name: LabelPublic
    why: LabelPublic


class GuidePublic(BaseModel):
    """The guide of a bundle for a set of answers (none, some or all)."""

    bundle: str
    version: int
    name: LabelPublic
    complete: bool = Field(description="每个问题都已回答 (every question answered: one route)")
    questions: list[QuestionPublic]
    answers: dict[str, bool | str]
    items: list[GuideItemPublic]
    all_items: int
    materials: list[GuideMaterialPublic]
    exempt: list[ExemptMaterialPublic]
    time_limit_days: float = Field(description="承诺办结时限，最长 (promised working days, at most)")
    apply_url: str = Field(
        description="带入回答的申请表地址 (the form's address, prefilled with the answers)"
    )

    @classmethod
    def of(cls, guide: Guide) -> GuidePublic:
        """The engine's guide as JSON."""
        query = urlencode(guide.prefill())
        return cls(
            bundle=guide.bundle,
            version=guide.version,
            name=LabelPublic(zh=guide.name["zh"], en=guide.name["en"]),
            complete=guide.complete,
            questions=[
                QuestionPublic(
                    field=q.field,
                    question=LabelPublic(zh=q.zh, en=q.en),
                    help=LabelPublic(zh=q.help_zh, en=q.help_en) if q.help_zh else None,
                    choices=[
                        ChoicePublic(value=c.value, label=LabelPublic(zh=c.zh, en=c.en)) for c in q.choices
                    ],
                )
                for q in guide.questions
            ],
            answers=dict(guide.answers),
            items=[
                GuideItemPublic(
                    key=i.key,
                    name=LabelPublic(zh=i.zh, en=i.en),
                    department=LabelPublic(zh=i.department["zh"], en=i.department["en"]),
                    time_limit_days=i.days,
                    always=i.always,
                )
                for i in guide.items
            ],
            all_items=guide.all_items,
            materials=[
                GuideMaterialPublic(
                    kind=m.entry.kind,
                    name=LabelPublic(zh=m.entry.zh, en=m.entry.en),
                    always=m.always,
                    promise_days=m.entry.promise_days,
                )
                for m in guide.materials
            ],
            exempt=[
                ExemptMaterialPublic(
                    kind=e.kind, name=LabelPublic(zh=e.zh, en=e.en), why=LabelPublic(zh=e.why_zh, en=e.why_en)
                )
                for e in guide.exempt
            ],
            time_limit_days=guide.days,
            apply_url=f"/apply/{guide.bundle}" + (f"?{query}" if query else ""),
        )


@router.get("/{key}/guide", response_model=GuidePublic, responses=responses(404, 422))
def guide_questions(key: BundleKey, request: Request, _actor: CurrentActor, engine: EngineDep) -> GuidePublic:
    """The bundle's questions and, for answers given as query parameters, what applies."""
    return GuidePublic.of(engine.guide(key, request.query_params))
