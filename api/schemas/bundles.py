"""Bundles (一件事) over REST: the catalogue entry, its reductions, checklist and merged form, deployments.

May import: api.schemas.common, engine.bpmn.deployments (the ``Deployed`` result), engine.cases.views.
"""

from __future__ import annotations

import builtins
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FromView, LabelPublic, fields_of, with_examples
from engine.bpmn.deployments import Deployed
from engine.cases.views import BundleDetail


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


class BundleVariantPublic(BaseModel):
    """A regional variant in force: the division it serves (its subtree), its version, the division's name."""

    model_config = with_examples(
        {"division": "310104", "version": 2, "name": {"zh": "上海市徐汇区", "en": "Shanghai Xuhui District"}}
    )

    division: str
    version: int
    name: LabelPublic


class OfficeContactPublic(BaseModel):
    """How applicants reach a department's office: phone, address, opening hours (empty when not given)."""

    model_config = with_examples(
        {"phone": "12345", "address": "上海市徐汇区漕溪北路336号", "hours": "周一至周五 9:00-17:00"}
    )

    phone: str = ""
    address: str = ""
    hours: str = ""


class CatalogSourcePublic(BaseModel):
    """Where a bundle comes from: the published list, its document and date, and its departments."""

    list: str = Field(
        description="清单 (national-2024-1 … national-2025-2: the State Council's batches; local: a region's)"
    )
    document: str | None = Field(description="发布清单的文件文号 (the document number; null: not confirmed)")
    published: date | None = Field(description="文件发布日期 (the document's date; null: not confirmed)")
    item_source: str = Field(description="事项清单的出处 (where the item list comes from)")
    lead: str = Field(description="牵头部门 (the lead department key)")
    # ``builtins.list``: inside this class ``list`` names the field above.
    cooperating: builtins.list[str] = Field(description="配合部门 (the cooperating department keys)")


class BundlePublic(FromView):
    """A deployed bundle (its newest version) as the catalogue lists it."""

    model_config = with_examples(
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
    division: str | None = Field(
        default=None, description="地区变体所适用的行政区划 (the division a variant serves; null: the base)"
    )
    variants: list[BundleVariantPublic] = Field(
        default_factory=list, description="现行的地区变体 (the regional variants in force, on a base)"
    )
    catalog: CatalogSourcePublic | None = Field(
        default=None, description="出处与牵头、配合部门 (the list the bundle comes from; null: not stated)"
    )


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
    offices: dict[str, OfficeContactPublic] = Field(
        default_factory=dict, description="各部门窗口联系方式 (office contacts by department)"
    )

    @classmethod
    def from_detail(cls, detail: BundleDetail) -> BundleDetailPublic:
        """From the engine's bundle detail (the summary's fields, then the detail's own)."""
        return cls.model_validate({**fields_of(detail.summary), **fields_of(detail)}, from_attributes=True)


class RedeployedVariantPublic(BaseModel):
    """A division's variant re-applied onto a new base version: its new version (or the same one)."""

    division: str
    version: int
    created: bool


class SkippedVariantPublic(BaseModel):
    """A division's variant that no longer passes on the new base: not re-applied, and why."""

    division: str
    problems: list[dict[str, Any]]


class DeployedPublic(BaseModel):
    """A deployment: which bundle, which version, and whether this upload made a new version.

    A variant says its ``division``. A new base version re-applies each division's variant:
    ``variants`` lists the versions made, ``skipped`` the variants that no longer pass.
    ``status`` is ``published``, or ``draft`` when deployed with ``?draft=true`` (four-eyes review).
    """

    model_config = with_examples(
        {
            "key": "enterprise-startup",
            "version": 2,
            "created": True,
            "division": None,
            "variants": [],
            "skipped": [],
            "status": "published",
        }
    )

    key: str
    version: int
    created: bool
    division: str | None = None
    variants: list[RedeployedVariantPublic] = Field(default_factory=list)
    skipped: list[SkippedVariantPublic] = Field(default_factory=list)
    status: str = "published"

    @classmethod
    def from_deployed(cls, deployed: Deployed) -> DeployedPublic:
        """From the engine's deployment result."""
        return cls(
            key=deployed.key,
            version=deployed.version,
            created=deployed.created,
            division=deployed.division,
            status=deployed.status,
            variants=[
                RedeployedVariantPublic(division=v.division or "", version=v.version, created=v.created)
                for v in deployed.variants
            ],
            skipped=[
                SkippedVariantPublic(division=s.division, problems=[p.as_dict() for p in s.problems])
                for s in deployed.skipped
            ],
        )
