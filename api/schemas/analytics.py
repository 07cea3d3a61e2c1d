"""Analytics over REST: bottlenecks, departments, reductions (减环节、减时间、减材料、减跑动), offices ranked.

Rows grouped by division (``by=division`` or ``level=``) carry the group's ``division`` code
and full ``division_name``; ungrouped rows leave both null.

May import: api.schemas.common, engine.analytics.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.common import FromView, LabelPublic, with_examples
from engine.analytics.views import BottleneckRow, DepartmentRow, OfficeRow, ReductionRow

DIVISION_FIELD = Field(
    default=None, description="行政区划代码，按区划分组时 (division code of the group; null when ungrouped)"
)
DIVISION_NAME_FIELD = Field(default=None, description="行政区划全称 (full name of the group's division)")


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
            "division": "310101",
            "division_name": {"zh": "上海市黄浦区", "en": "Huangpu District, Shanghai"},
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
    division: str | None = DIVISION_FIELD
    division_name: LabelPublic | None = DIVISION_NAME_FIELD
    sent_back: int = Field(
        0,
        description="退回其他部门的次数：本事项将办件退回到其他部门的前序环节 "
        "(returns to another department: this item sent the case back to another department's earlier step; "
        "not counted in returns, which are returns to the applicant)",
    )
    reopened: int = Field(
        0,
        description="被其他部门退回重新办理的次数 (this item's decision was reopened by another department's "
        "send-back)",
    )

    @classmethod
    def from_row(cls, row: BottleneckRow) -> BottleneckPublic:
        """From an analytics row."""
        return cls.model_validate(row, from_attributes=True)


class SuspensionFigures(BaseModel):
    """Suspended (挂起) cases and time of a bundle's or a department's row: the same four figures."""

    suspended_now: int = Field(0, description="当前暂停办理（挂起）的办件数 (cases suspended now)")
    suspended_cases: int = Field(0, description="曾暂停办理的办件数 (cases suspended at least once)")
    suspended_seconds: float = Field(
        0.0,
        description="累计暂停的工作时间（秒，不计入办理时限） (suspended working seconds, not waiting)",
    )
    suspended_mean_seconds: float | None = Field(
        None,
        description="每个暂停办件的平均暂停工作时间（秒） (mean suspended working seconds per case)",
    )


class DepartmentStatsPublic(SuspensionFigures):
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
    division: str | None = DIVISION_FIELD
    division_name: LabelPublic | None = DIVISION_NAME_FIELD
    sent_back: int = Field(
        0,
        description="退回其他部门的次数：本事项将办件退回到其他部门的前序环节 "
        "(returns to another department: this item sent the case back to another department's earlier step; "
        "not counted in returns, which are returns to the applicant)",
    )
    reopened: int = Field(
        0,
        description="被其他部门退回重新办理的次数 (this item's decision was reopened by another department's "
        "send-back)",
    )

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


class ReductionRowPublic(SuspensionFigures):
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
            "division": None,
            "division_name": None,
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
    division: str | None = DIVISION_FIELD
    division_name: LabelPublic | None = DIVISION_NAME_FIELD

    @classmethod
    def from_row(cls, row: ReductionRow) -> ReductionRowPublic:
        """From an analytics row."""
        return cls.model_validate(row, from_attributes=True)


class OfficeRankPublic(BaseModel):
    """One office (department at a division) in the ranking by on-time rate, then mean rating.

    ``on_time_rate`` = tasks finished not overdue / tasks finished. ``ratings`` are those of
    the cases its tasks served: a rating of the whole case counts for every office that
    completed one of its tasks, a rating of one department for that department's offices.
    """

    model_config = with_examples(
        {
            "rank": 1,
            "department": "market-regulation",
            "division": "310101",
            "name": {
                "zh": "上海市黄浦区市场监督管理局",
                "en": "Market Regulation, Huangpu District, Shanghai",
            },
            "division_name": {"zh": "上海市黄浦区", "en": "Huangpu District, Shanghai"},
            "finished": 120,
            "on_time": 117,
            "on_time_rate": 0.975,
            "overdue": 3,
            "returns": 9,
            "wait": {"median": 5400.0, "p90": 14400.0, "mean": 6100.5},
            "work": {"median": 1800.0, "p90": 3600.0, "mean": 2000.0},
            "ratings": {"counts": [0, 1, 2, 30, 80], "total": 113, "mean": 4.68, "satisfied_rate": 0.97},
        }
    )

    rank: int = Field(description="名次，从 1 起 (1-based rank)")
    department: str
    division: str = Field(description="办理机构所在行政区划 (the office's division code)")
    name: LabelPublic = Field(description="办理机构名称 (office name)")
    division_name: LabelPublic
    finished: int = Field(description="办结任务数 (tasks finished)")
    on_time: int = Field(description="按时办结数 (finished not overdue)")
    on_time_rate: float | None = Field(description="按时办结率 (on time / finished)")
    overdue: int
    returns: int
    wait: DurationsPublic
    work: DurationsPublic
    ratings: RatingsPublic

    @classmethod
    def from_row(cls, row: OfficeRow) -> OfficeRankPublic:
        """From an analytics row."""
        return cls.model_validate(row, from_attributes=True)
