"""Analytics over REST: bottlenecks per task, departments, reductions (减环节、减时间、减材料、减跑动).

May import: api.schemas.common, engine.analytics.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.common import FromView, LabelPublic, with_examples
from engine.analytics.views import BottleneckRow, DepartmentRow, ReductionRow


class DurationsPublic(BaseModel):
    """Median, p90 and mean of durations, in seconds of working time (null without data)."""

    median: float | None
    p90: float | None
    mean: float | None


class ProblemCountPublic(BaseModel):
    """How often a field or material (``field:<key>`` / ``material:<key>``) was a reason to return."""

    where: str
    count: int
    message: str


class RatingsPublic(FromView):
    """Ratings 1..5 (好差评): counts per score, total, mean and the share of 4 and 5."""

    counts: list[int] = Field(min_length=5, max_length=5)
    total: int
    mean: float | None
    satisfied_rate: float | None


class BottleneckPublic(BaseModel):
    """One task of one bundle version: waits, work times, late steps, returns and their reasons."""

    model_config = with_examples(
        {
            "bundle": "enterprise-startup",
            "version": 1,
            "item": "business-registration",
            "task": "Task_register_business",
            "department": "market-regulation",
            "count": 120,
            "wait": {"median": 5400.0, "p90": 14400.0, "mean": 6100.5},
            "work": {"median": 1800.0, "p90": 3600.0, "mean": 2000.0},
            "overdue": 3,
            "overdue_rate": 0.025,
            "returns": 9,
            "return_rate": 0.075,
            "top_problems": [
                {"where": "material:premises_proof", "count": 6, "message": "租赁合同缺少出租方签章"}
            ],
            "ratings": {"counts": [0, 1, 2, 30, 80], "total": 113, "mean": 4.68, "satisfied_rate": 0.97},
        }
    )

    bundle: str
    version: int
    item: str
    task: str
    department: str
    count: int
    wait: DurationsPublic
    work: DurationsPublic
    overdue: int
    overdue_rate: float
    returns: int
    return_rate: float
    top_problems: list[ProblemCountPublic]
    ratings: RatingsPublic

    @classmethod
    def from_row(cls, row: BottleneckRow) -> BottleneckPublic:
        """From an analytics row."""
        return cls.model_validate(row, from_attributes=True)


class DepartmentStatsPublic(BaseModel):
    """One department across bundles: the same measures as a bottleneck row, plus complaints."""

    department: str
    count: int
    wait: DurationsPublic
    work: DurationsPublic
    overdue: int
    overdue_rate: float
    returns: int
    return_rate: float
    top_problems: list[ProblemCountPublic]
    ratings: RatingsPublic
    complaints: int

    @classmethod
    def from_row(cls, row: DepartmentRow) -> DepartmentStatsPublic:
        """From an analytics row."""
        return cls.model_validate(row, from_attributes=True)


class MeasuresPublic(BaseModel):
    """Steps, working days, materials and trips of one way of getting the thing done."""

    steps: float
    days: float
    materials: float
    trips: float | None


class ReductionRowPublic(BaseModel):
    """One bundle: before (items one by one), after by the model, after in real finished cases."""

    model_config = with_examples(
        {
            "bundle": "enterprise-startup",
            "version": 1,
            "name": {"zh": "企业开办一件事", "en": "Enterprise startup"},
            "before": {"steps": 8, "days": 22.9, "materials": 12, "trips": 10},
            "model": {"steps": 1, "days": 2, "materials": 2, "trips": 0},
            "real": {"steps": 1.1, "days": 1.6, "materials": 2.2, "trips": None},
            "cases": 40,
            "percent_model": {"steps": 87.5, "days": 91.3, "materials": 83.3, "trips": 100.0},
            "percent_real": {"steps": 86.3, "days": 93.0, "materials": 81.7, "trips": None},
            "source": "",
        }
    )

    bundle: str
    version: int
    name: LabelPublic
    before: MeasuresPublic
    model: MeasuresPublic
    real: MeasuresPublic | None
    cases: int
    percent_model: dict[str, float | None]
    percent_real: dict[str, float | None]
    source: str = ""

    @classmethod
    def from_row(cls, row: ReductionRow) -> ReductionRowPublic:
        """From an analytics row."""
        return cls.model_validate(row, from_attributes=True)
