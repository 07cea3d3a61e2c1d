"""Request and response schemas of the REST API (suffixes: ``...Create`` in, ``...Public`` out).

Every body the API takes or gives has a model here, so ``/openapi.json`` describes all of
them; only the free-form ``data`` objects (form answers, decisions, audit details) are
``dict[str, Any]``. Request models refuse unknown keys, so a typo is a 422, not a silent
no-op. ``from_view`` constructors turn the engine's frozen views into answers.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.analytics.views import BottleneckRow, DepartmentRow, ReductionRow
from engine.cases.states import CaseStatus, Outcome, WorkItemState
from engine.cases.views import BundleDetail, CaseView, Label, TaskDetail
from engine.deadlines.supervision import EntryState, Level, Subject
from engine.people.actors import Role

_AT = "2026-03-02T09:30:00Z"
_DUE = "2026-03-03T09:30:00Z"


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


def _fields(view: Any) -> dict[str, Any]:
    """A frozen view's fields by name, to merge with another view's or add derived ones.

    Models validate such a mapping ``from_attributes``, so nested views (labels, tasks)
    are read by attribute like the top-level ones; keys a model does not declare are ignored.
    """
    return {f.name: getattr(view, f.name) for f in dataclasses.fields(view)}


MAX_NESTING = 32


def check_text(value: str) -> str:
    """Refuse text no store can keep: NUL characters and lone surrogates (not UTF-8)."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from exc
    return value


def _check_tree(value: Any, depth: int = 0) -> None:
    if depth > MAX_NESTING:
        raise ValueError(f"nested deeper than {MAX_NESTING} levels")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (no NaN or Infinity)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_tree(key, depth + 1)
            _check_tree(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_tree(item, depth + 1)


class _In(BaseModel):
    """Base of request bodies: unknown keys are refused, and so is text no database can store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        _check_tree(data)
        return data


class _FromView(BaseModel):
    """Base of answers that mirror one engine view field by field (the view's own names)."""

    @classmethod
    def from_view(cls, view: Any) -> Self:
        """From the engine's view (a frozen dataclass), read by attribute."""
        return cls.model_validate(view, from_attributes=True)


# -- common ------------------------------------------------------------------------------
class LabelPublic(BaseModel):
    """A name in Chinese, with English beside it."""

    model_config = _examples({"zh": "企业开办一件事", "en": "Enterprise startup"})

    zh: str
    en: str

    @classmethod
    def from_view(cls, label: Label | dict[str, Any]) -> LabelPublic:
        """From an engine label or a ``{zh, en}`` mapping."""
        if isinstance(label, Label):
            return cls(zh=label.zh, en=label.en)
        return cls(zh=str(label.get("zh", "")), en=str(label.get("en", "")))


class ErrorPublic(BaseModel):
    """An error answer: what went wrong (Chinese first) and, for server faults, the request id."""

    model_config = _examples({"detail": "没有这个办件 (no case 42)"})

    detail: str
    request_id: str | None = None


class ProblemPublic(BaseModel):
    """One problem of an input: message (zh), where, the rule that failed, message in English."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "message": "统一社会信用代码校验位错误",
                    "where": "uscc",
                    "rule": "gb32100",
                    "message_en": "check digit of the unified social credit code is wrong",
                }
            ]
        },
    )

    message: str
    where: str | None = None
    rule: str | None = None
    message_en: str | None = None
    file: str | None = None
    element: str | None = None


class ProblemsPublic(BaseModel):
    """A 422 answer: every problem at once (一次性告知)."""

    detail: list[ProblemPublic]


class HealthPublic(BaseModel):
    """Liveness of the process."""

    model_config = _examples({"status": "ok"})

    status: Literal["ok"]


# -- auth and accounts ---------------------------------------------------------------------
class TokenPublic(BaseModel):
    """A bearer token (OAuth2 password flow) and its lifetime in seconds."""

    model_config = _examples(
        {"access_token": "eyJhbGciOiJIUzI1NiIs...", "token_type": "bearer", "expires_in": 3600}
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class AccountPublic(_FromView):
    """An account as an admin or its owner sees it (never the password hash)."""

    model_config = _examples(
        {
            "username": "clerk.market-regulation",
            "role": "clerk",
            "departments": ["market-regulation"],
            "display_name": "张三",
            "supervisor": False,
            "active": True,
            "created_at": _AT,
        }
    )

    username: str
    role: Role
    departments: list[str]
    display_name: str
    supervisor: bool
    active: bool
    created_at: datetime


class AccountCreate(_In):
    """A new account (admins only)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "clerk.tax.li",
                    "password": "a-long-passphrase",
                    "role": "clerk",
                    "departments": ["tax"],
                    "display_name": "李四",
                }
            ]
        },
    )

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Role
    departments: list[str] = Field(default_factory=list, max_length=64)
    display_name: str = Field(default="", max_length=128)
    supervisor: bool = False


class AccountUpdate(_In):
    """Changes to an account (admins only); absent keys stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"active": False}, {"departments": ["tax", "customs"]}]},
    )

    role: Role | None = None
    departments: list[str] | None = Field(default=None, max_length=64)
    display_name: str | None = Field(default=None, max_length=128)
    supervisor: bool | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)


# -- bundles -------------------------------------------------------------------------------
class BundleItemPublic(BaseModel):
    """One administrative item (事项) of a bundle and the department that handles it."""

    model_config = ConfigDict(extra="allow")

    key: str
    name: LabelPublic
    department: str
    department_name: LabelPublic
    time_limit_days: float


class ReductionFiguresPublic(BaseModel):
    """Steps, working days, materials and trips of one way of getting the thing done."""

    model_config = ConfigDict(extra="allow")

    steps: float
    days: float
    materials: float
    trips: float


class ReductionPercentPublic(BaseModel):
    """How much smaller "after" is than "before", in percent (null when "before" is zero)."""

    steps: float | None = None
    days: float | None = None
    materials: float | None = None
    trips: float | None = None


class ReductionsPublic(BaseModel):
    """Before (items one by one) and after (the bundle), as 减环节、减时间、减材料、减跑动."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "before": {"steps": 13, "days": 10, "materials": 20, "trips": 6},
                    "after": {"steps": 1, "days": 1, "materials": 5, "materials_max": 7, "trips": 0},
                    "percent": {"steps": 92.3, "days": 90.0, "materials": 75.0, "trips": 100.0},
                    "source": "",
                }
            ]
        },
    )

    before: ReductionFiguresPublic
    after: ReductionFiguresPublic
    percent: ReductionPercentPublic
    source: str = ""


class BundlePublic(_FromView):
    """A deployed bundle (its newest version) as the catalogue lists it."""

    model_config = _examples(
        {
            "key": "enterprise-startup",
            "version": 1,
            "name": {"zh": "企业开办一件事", "en": "Enterprise startup"},
            "departments": ["market-regulation", "public-security", "tax"],
            "items": [
                {
                    "key": "business-registration",
                    "name": {"zh": "设立登记", "en": "Business registration"},
                    "department": "market-regulation",
                    "department_name": {"zh": "市场监督管理局", "en": "Market regulation"},
                    "time_limit_days": 1,
                }
            ],
            "time_limit_days": 3,
            "reductions": {
                "before": {"steps": 13, "days": 10, "materials": 20, "trips": 6},
                "after": {"steps": 1, "days": 3, "materials": 5, "trips": 0},
                "percent": {"steps": 92.3, "days": 70.0, "materials": 75.0, "trips": 100.0},
            },
        }
    )

    key: str
    version: int
    name: LabelPublic
    departments: list[str]
    items: list[BundleItemPublic]
    time_limit_days: float
    reductions: ReductionsPublic


class ChecklistEntryPublic(BaseModel):
    """One material of the checklist (一套材料): asked or exempt, and why."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "kind": "lease_contract",
                    "name": {"zh": "住所使用证明", "en": "Proof of premises"},
                    "required": True,
                    "exempt": False,
                    "why": None,
                }
            ]
        },
    )

    kind: str
    name: LabelPublic
    required: bool
    exempt: bool
    why: LabelPublic | None = None
    promise_days: int | None = Field(
        default=None, description="容缺受理: 可承诺后补的天数 (days it may come later)"
    )
    condition: dict[str, list[Any]] | None = Field(
        default=None,
        description="仅当这些字段取这些值时才需要 (asked only when these fields hold these values)",
    )
    accept: list[str] = Field(default_factory=list, description="接受的文件类型 (accepted file types)")
    max_bytes: int | None = None
    items: list[str] = Field(default_factory=list, description="需要此材料的事项 (items that need it)")


class ApplicationExamplePublic(BaseModel):
    """A complete valid application for trying a bundle: form data and the material kinds to upload."""

    model_config = ConfigDict(extra="allow")

    data: dict[str, Any]
    materials: list[str]


class BundleDetailPublic(BundlePublic):
    """A bundle with what an applicant needs: the merged form (JSON Schema), checklist and an example."""

    form: dict[str, Any] = Field(description="合并后的表单 (the merged form, a JSON Schema)")
    layout: list[dict[str, Any]] = Field(description="表单分组与顺序 (groups and order of the form)")
    materials: list[ChecklistEntryPublic]
    example: ApplicationExamplePublic
    examples: list[ApplicationExamplePublic]

    @classmethod
    def from_detail(cls, detail: BundleDetail) -> BundleDetailPublic:
        """From the engine's bundle detail (the summary's fields, then the detail's own)."""
        return cls.model_validate({**_fields(detail.summary), **_fields(detail)}, from_attributes=True)


class DeployedPublic(BaseModel):
    """A deployment: which bundle, which version, and whether this upload made a new version."""

    model_config = _examples({"key": "enterprise-startup", "version": 2, "created": True})

    key: str
    version: int
    created: bool


# -- materials -----------------------------------------------------------------------------
class MaterialPublic(_FromView):
    """An uploaded material, stored once by content (same bytes, same id)."""

    model_config = _examples(
        {
            "id": "m_3f2a9c...",
            "sha256": "3f2a9c...",
            "kind": "lease_contract",
            "size": 48213,
            "mime": "application/pdf",
            "filename": "lease.pdf",
        }
    )

    id: str
    sha256: str
    kind: str
    size: int
    mime: str = ""
    filename: str = ""


# -- tasks ---------------------------------------------------------------------------------
class TaskProblemCreate(_In):
    """One reason for returning a task: which field or material, and what is wrong."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"material": "lease_contract", "message": "租赁合同缺少出租方签章"}]},
    )

    field: str | None = Field(default=None, max_length=64)
    material: str | None = Field(default=None, max_length=64)
    message: str = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _names_something(self) -> TaskProblemCreate:
        if not self.field and not self.material:
            raise ValueError("a problem names a field or a material")
        return self


class TaskProblemPublic(BaseModel):
    """A reason a clerk gave when returning a task."""

    model_config = ConfigDict(extra="allow")

    field: str | None = None
    material: str | None = None
    message: str = ""


class TaskPublic(_FromView):
    """A department task as a queue shows it."""

    model_config = _examples(
        {
            "id": 17,
            "case_id": 5,
            "bundle": "enterprise-startup",
            "version": 1,
            "item": "business-registration",
            "item_name": {"zh": "设立登记", "en": "Business registration"},
            "task_name": "register_business",
            "department": "market-regulation",
            "state": "ready",
            "assignee": None,
            "round": 1,
            "created_at": _AT,
            "due_at": _DUE,
            "claimed_at": None,
            "completed_at": None,
            "outcome": None,
            "comment": "",
            "problems": [],
            "overdue": False,
        }
    )

    id: int
    case_id: int
    bundle: str
    version: int
    item: str
    item_name: LabelPublic
    task_name: str
    department: str
    state: WorkItemState
    assignee: str | None
    round: int
    created_at: datetime
    due_at: datetime | None
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    outcome: Outcome | None = None
    comment: str = ""
    problems: list[TaskProblemPublic] = Field(default_factory=list)
    overdue: bool = False


class TaskListPublic(BaseModel):
    """One page of a queue, by due time, and the cursor of the next page (null at the end)."""

    items: list[TaskPublic]
    next: str | None


class TaskDetailPublic(TaskPublic):
    """A task with its department's view of the case: only its item's fields and materials."""

    data: dict[str, Any] = Field(description="本部门可见的表单数据 (the form data this department may see)")
    materials: dict[str, str] = Field(description="材料类型 -> 材料 id (material kind -> material id)")
    decision_fields: list[str]
    asked_decision_fields: list[str] = Field(
        description="本件须填写的办理字段 (the decision fields this case asks; the rest do not apply)"
    )
    example: dict[str, Any] = Field(
        description="示例办理数据 (example decision data, when the item asks for any)"
    )
    case_status: CaseStatus

    @classmethod
    def from_detail(cls, detail: TaskDetail) -> TaskDetailPublic:
        """From the engine's task detail: the task's fields, the detail's own, its ``fields`` as ``data``."""
        merged = {**_fields(detail.task), **_fields(detail), "data": detail.fields}
        return cls.model_validate(merged, from_attributes=True)


class TaskComplete(_In):
    """A clerk's decision: approve (with the item's decision data) or return (with every problem)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcome": "approve", "data": {"uscc": "91350100M000100Y43"}, "comment": "", "problems": []},
                {
                    "outcome": "return",
                    "data": {},
                    "comment": "请补正",
                    "problems": [{"material": "lease_contract", "message": "租赁合同缺少出租方签章"}],
                },
            ]
        },
    )

    outcome: Outcome
    data: dict[str, Any] = Field(default_factory=dict)
    comment: str = Field(default="", max_length=4000)
    problems: list[TaskProblemCreate] = Field(default_factory=list, max_length=200)


# -- cases ---------------------------------------------------------------------------------
class ProgressPublic(BaseModel):
    """How many of the case's items are done."""

    done: int
    total: int


class TimelineEntryPublic(_FromView):
    """One line of a case's audit trail."""

    id: int
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]
    work_item_id: int | None = None


class NoticePublic(BaseModel):
    """The one correction notice (一次性告知) of a round: every problem of every department."""

    model_config = ConfigDict(extra="allow")

    round: int
    issued_at: datetime
    items: list[dict[str, Any]]
    problems: list[dict[str, Any]]


class CaseSummaryPublic(BaseModel):
    """A case as a listing shows it."""

    model_config = _examples(
        {
            "id": 5,
            "bundle": "enterprise-startup",
            "version": 1,
            "applicant": "applicant1",
            "status": "running",
            "progress": {"done": 1, "total": 4},
            "tasks": [],
            "notice": None,
            "created_at": _AT,
            "updated_at": _AT,
            "finished_at": None,
            "due_at": _DUE,
        }
    )

    id: int
    bundle: str
    version: int
    applicant: str
    status: CaseStatus
    progress: ProgressPublic
    tasks: list[TaskPublic]
    notice: NoticePublic | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    due_at: datetime | None = None

    @classmethod
    def from_view(cls, view: CaseView) -> Self:
        """From the engine's case view (a subclass takes the further fields it declares)."""
        progress = {"done": view.done, "total": view.total}
        return cls.model_validate({**_fields(view), "progress": progress}, from_attributes=True)


class CasePublic(CaseSummaryPublic):
    """A case with its timeline; form data and materials only for those allowed to see them."""

    timeline: list[TimelineEntryPublic]
    data: dict[str, Any] | None = Field(
        default=None, description="申请数据 (null for clerks: they see their task)"
    )
    materials: dict[str, str] | None = None
    pending_materials: dict[str, dict[str, Any]] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    origin_case_id: int | None = None

    @classmethod
    def from_case(cls, view: CaseView) -> CasePublic:
        """From the engine's case view, with everything the caller may see."""
        return cls.from_view(view)


class CaseListPublic(BaseModel):
    """One page of cases, newest first, and the cursor of the next page (null at the end)."""

    items: list[CaseSummaryPublic]
    next: str | None


class CaseCreate(_In):
    """An application: one merged form, one set of materials (kind -> material id)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "bundle": "enterprise-startup",
                    "data": {"company_name": "福州一件事科技有限公司", "legal_rep_name": "王五"},
                    "materials": {"lease_contract": "m_3f2a9c..."},
                    "promised": [],
                }
            ]
        },
    )

    bundle: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    materials: dict[str, str] = Field(default_factory=dict)
    promised: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="容缺受理: 承诺后补的材料类型 (material kinds promised for later)",
    )


class SupplementCreate(_In):
    """The applicant's answer to a correction notice: changed fields and new materials."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"data": {"address": "福州市鼓楼区五四路 1 号"}, "materials": {"lease_contract": "m_9b1e..."}}
            ]
        },
    )

    data: dict[str, Any] = Field(default_factory=dict)
    materials: dict[str, str] = Field(default_factory=dict)


class RatingCreate(_In):
    """The applicant's rating (好差评) of a finished case: the whole service, or one department of it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"score": 5, "comment": "一次办好，很方便"}, {"score": 2, "department": "tax"}]
        },
    )

    score: int = Field(
        ge=1, le=5, description="1 非常不满意 … 5 非常满意 (1 very dissatisfied … 5 very satisfied)"
    )
    comment: str = Field(default="", max_length=1000)
    department: str | None = Field(
        default=None,
        max_length=64,
        description="评价某一部门；缺省为整个服务 (one department; the whole service when absent)",
    )


class RectificationPublic(_FromView):
    """A rectification (差评整改) a bad rating opened for the responsible department, and its reply."""

    model_config = _examples(
        {
            "id": 4,
            "case_id": 5,
            "rating_id": 3,
            "bundle": "school-enrollment",
            "department": "public-security",
            "state": "open",
            "created_at": _AT,
            "due_at": "2026-03-09T09:30:00Z",
            "overdue": False,
            "reply": "",
            "replied_by": "",
            "replied_at": None,
        }
    )

    id: int
    case_id: int
    rating_id: int
    bundle: str
    department: str
    state: Literal["open", "replied"]
    created_at: datetime
    due_at: datetime
    overdue: bool
    reply: str
    replied_by: str
    replied_at: datetime | None


class RatingPublic(_FromView):
    """A recorded rating, with the rectification it opened when it was bad (1 or 2)."""

    model_config = _examples(
        {
            "id": 3,
            "case_id": 5,
            "bundle": "enterprise-startup",
            "version": 1,
            "department": "",
            "score": 5,
            "level": {"zh": "非常满意", "en": "Very satisfied"},
            "comment": "一次办好，很方便",
            "created_at": _AT,
            "rectification": None,
        }
    )

    id: int
    case_id: int
    bundle: str
    version: int
    department: str
    score: int
    level: LabelPublic
    comment: str
    created_at: datetime
    rectification: RectificationPublic | None


# -- complaints, rectification replies, supervision -----------------------------------------
MAX_FEEDBACK_TEXT = 2000


class ComplaintCreate(_In):
    """办不成事反映: an applicant reports that they could not get something done, on a case or alone."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"case_id": 5, "text": "材料已补正三天，仍没有人处理", "department": "public-security"},
                {"text": "窗口说这件事不归他们管，不知道该找谁"},
            ]
        },
    )

    case_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="所涉办件 (the case, if any)")
    text: str = Field(min_length=1, max_length=MAX_FEEDBACK_TEXT, description="反映内容 (what went wrong)")
    department: str | None = Field(
        default=None,
        max_length=64,
        description="所涉部门；缺省为正在办理的部门或政务服务中心 "
        "(the department; when absent, the one holding the case, else the service centre)",
    )


class ComplaintPublic(_FromView):
    """A complaint, its supervisor queue and deadline, and the supervisor's answer once given."""

    model_config = _examples(
        {
            "id": 7,
            "case_id": 5,
            "bundle": "school-enrollment",
            "complainant": "applicant1",
            "department": "public-security",
            "text": "材料已补正三天，仍没有人处理",
            "state": "answered",
            "created_at": _AT,
            "due_at": "2026-03-09T09:30:00Z",
            "reply": "已督促户籍科当日办结，并向您致歉",
            "replied_by": "supervisor.public-security",
            "replied_at": _DUE,
        }
    )

    id: int
    case_id: int | None
    bundle: str
    complainant: str
    department: str
    text: str
    state: Literal["open", "answered"]
    created_at: datetime
    due_at: datetime
    reply: str
    replied_by: str
    replied_at: datetime | None


class ReplyCreate(_In):
    """An answer to a complaint (by its supervisor) or to a bad rating (by the department's clerk)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reply": "已督促户籍科当日办结，并向您致歉"}]},
    )

    reply: str = Field(min_length=1, max_length=MAX_FEEDBACK_TEXT, description="答复 (the answer)")


class ResolveCreate(_In):
    """A supervisor closes an entry of the supervisor queue, saying what was done."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"note": "已约谈经办人，任务当日办结"}]},
    )

    note: str = Field(min_length=1, max_length=MAX_FEEDBACK_TEXT, description="督办结果 (what was done)")

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class SupervisionEntryPublic(_FromView):
    """One entry of a supervisor queue (督办): an overdue task, a late rectification or a complaint.

    ``subject_id`` is the id of what it is about: the task, the rectification or the complaint
    (a complaint is closed by answering it, ``POST /api/complaints/{subject_id}/answer``).
    """

    model_config = _examples(
        {
            "id": 12,
            "subject": "complaint",
            "subject_id": 7,
            "level": "filed",
            "state": "open",
            "department": "public-security",
            "title": {"zh": "办不成事反映", "en": "Complaint"},
            "case_id": 5,
            "bundle": "school-enrollment",
            "item": "",
            "opened_at": _AT,
            "due_at": "2026-03-09T09:30:00Z",
            "resolved_at": None,
            "resolved_by": "",
            "note": "",
            "detail": {"complainant": "applicant1"},
        }
    )

    id: int
    subject: Subject
    subject_id: int
    level: Level
    state: EntryState
    department: str
    title: LabelPublic
    case_id: int | None
    bundle: str
    item: str
    opened_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str
    note: str
    detail: dict[str, Any]


# -- analytics -----------------------------------------------------------------------------
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


class RatingsPublic(_FromView):
    """Ratings 1..5 (好差评): counts per score, total, mean and the share of 4 and 5."""

    counts: list[int] = Field(min_length=5, max_length=5)
    total: int
    mean: float | None
    satisfied_rate: float | None


class BottleneckPublic(BaseModel):
    """One task of one bundle version: waits, work times, late steps, returns and their reasons."""

    model_config = _examples(
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

    model_config = _examples(
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
