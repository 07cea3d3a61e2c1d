"""Divisions (行政区划) and department offices over REST: the tree as read, and admins' edits.

May import: api.schemas.common, api.schemas.accounts (the code pattern), engine.regions.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import DIVISION_CODE, LabelPublic, RequestBody, with_examples
from engine.regions import Division, Level, OfficeView, Regions


class DivisionPublic(BaseModel):
    """One division: its code, names, level, parent and full name ("上海市黄浦区")."""

    model_config = with_examples(
        {
            "code": "310101",
            "name": {"zh": "黄浦区", "en": "Huangpu District"},
            "level": "county",
            "parent": "310000",
            "full_name": {"zh": "上海市黄浦区", "en": "Huangpu District, Shanghai"},
            "active": True,
        }
    )

    code: str
    name: LabelPublic
    level: Level
    parent: str | None
    full_name: LabelPublic
    active: bool = Field(default=True, description="false: 已撤销 (withdrawn from the tree)")

    @classmethod
    def of(cls, division: Division, regions: Regions, *, active: bool = True) -> DivisionPublic:
        """From the tree's division, with its full name from the tree (a withdrawn one: its own name)."""
        return cls(
            code=division.code,
            name=LabelPublic(zh=division.name_zh, en=division.name_en),
            level=division.level,
            parent=division.parent,
            full_name=LabelPublic(
                zh=regions.full_name(division.code, "zh") if active else division.name_zh,
                en=regions.full_name(division.code, "en") if active else division.name_en,
            ),
            active=active,
        )


class NameCreate(RequestBody):
    """A name in Chinese (required) with English beside it."""

    zh: str = Field(min_length=1, max_length=64)
    en: str = Field(default="", max_length=128)


class NameUpdate(RequestBody):
    """A new name: absent parts stay as they are."""

    zh: str | None = Field(default=None, min_length=1, max_length=64)
    en: str | None = Field(default=None, max_length=128)


class OfficeName(RequestBody):
    """An office's name; empty parts are derived (division full name and department name)."""

    zh: str | None = Field(default=None, max_length=128)
    en: str | None = Field(default=None, max_length=255)


class DivisionCreate(RequestBody):
    """A new division below ``parent`` (admins, inside their division; a root only platform-wide)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "310101002",
                    "name": {"zh": "南京东路街道", "en": "Nanjing East Road Subdistrict"},
                    "level": "township",
                    "parent": "310101",
                }
            ]
        },
    )

    code: str = Field(pattern=DIVISION_CODE, description="GB/T 2260 代码 (6, 9 or 12 digits)")
    name: NameCreate
    level: Level
    parent: str | None = Field(default=None, pattern=DIVISION_CODE)


class DivisionUpdate(RequestBody):
    """A division's new names, or its withdrawal or return (admins, inside their division)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": {"zh": "黄浦区", "en": "Huangpu"}}, {"active": False}]},
    )

    name: NameUpdate | None = None
    active: bool | None = Field(
        default=None,
        description="false 撤销（其下须无在用区划），true 恢复；不可与改名同时撤销 "
        "(false withdraws it, once nothing in force is below it; true brings it back; not with a rename)",
    )

    @model_validator(mode="after")
    def _rename_or_withdraw(self) -> Self:
        if self.active is False and self.name is not None:
            raise ValueError("撤销时不能同时改名 (withdraw or rename, not both at once)")
        return self


class OfficePublic(BaseModel):
    """A department's office in a division; ``id`` is null for the default division's implicit office."""

    model_config = with_examples(
        {
            "id": 12,
            "department": "market-regulation",
            "department_name": {"zh": "市场监督管理局", "en": "Market Regulation"},
            "division": "310101",
            "division_name": {"zh": "上海市黄浦区", "en": "Huangpu District, Shanghai"},
            "name": {
                "zh": "上海市黄浦区市场监督管理局",
                "en": "Market Regulation, Huangpu District, Shanghai",
            },
            "phone": "021-12345678",
            "address": "上海市黄浦区某路 1 号",
            "hours": "周一至周五 9:00-17:00",
        }
    )

    id: int | None
    department: str
    department_name: LabelPublic
    division: str
    division_name: LabelPublic
    name: LabelPublic
    phone: str
    address: str
    hours: str

    @classmethod
    def of(cls, office: OfficeView, regions: Regions) -> OfficePublic:
        """From the engine's office, with the department's and division's names."""
        zh, en = regions.departments().get(office.department, (office.department, office.department))
        return cls(
            id=office.id,
            department=office.department,
            department_name=LabelPublic(zh=zh, en=en),
            division=office.division,
            division_name=LabelPublic(
                zh=regions.full_name(office.division, "zh"), en=regions.full_name(office.division, "en")
            ),
            name=LabelPublic(zh=office.name_zh, en=office.name_en),
            phone=office.phone,
            address=office.address,
            hours=office.hours,
        )


class OfficeCreate(RequestBody):
    """A new office of a department in a division (admins, inside their division)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "department": "market-regulation",
                    "division": "310115",
                    "phone": "021-12345678",
                    "hours": "周一至周五 9:00-17:00",
                }
            ]
        },
    )

    department: str = Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")
    division: str = Field(pattern=DIVISION_CODE)
    name: OfficeName | None = Field(
        default=None, description="空则由区划全称与部门名组成 (derived from the division and department)"
    )
    phone: str = Field(default="", max_length=64)
    address: str = Field(default="", max_length=255)
    hours: str = Field(default="", max_length=128)


class OfficeUpdate(RequestBody):
    """An office's new names or contacts (admins, inside their division); absent keys stay."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"phone": "021-87654321"}]})

    name: OfficeName | None = None
    phone: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=255)
    hours: str | None = Field(default=None, max_length=128)
