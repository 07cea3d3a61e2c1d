"""Sign-in and accounts over REST: the bearer token, an account as shown, and its creation and changes.

May import: api.schemas.common, engine.people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import DIVISION_CODE, EXAMPLE_AT, FromView, RequestBody, with_examples
from engine.people.actors import Role

DIVISION_HELP = (
    "行政区划代码：窗口人员与部门系统为其办理机构所在地（空：默认区划），分析员与管理员为其管辖范围"
    "（空：全平台），申请人无 (GB/T 2260 code: the office of a clerk or system, none = the default "
    "division; the reach of an analyst or admin, none = the whole platform; applicants have none)"
)


class TokenPublic(BaseModel):
    """A bearer token (OAuth2 password flow) and its lifetime in seconds."""

    model_config = with_examples(
        {"access_token": "eyJhbGciOiJIUzI1NiIs...", "token_type": "bearer", "expires_in": 3600}
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class AccountPublic(FromView):
    """An account as an admin or its owner sees it (never the password hash)."""

    model_config = with_examples(
        {
            "username": "clerk.market-regulation",
            "role": "clerk",
            "departments": ["market-regulation"],
            "display_name": "张三",
            "supervisor": False,
            "active": True,
            "created_at": EXAMPLE_AT,
            "division": None,
        },
        {
            "username": "clerk.market-regulation@310101",
            "role": "clerk",
            "departments": ["market-regulation"],
            "display_name": "李四",
            "supervisor": False,
            "active": True,
            "created_at": EXAMPLE_AT,
            "division": "310101",
        },
    )

    username: str
    role: Role
    departments: list[str]
    display_name: str
    supervisor: bool
    active: bool
    created_at: datetime
    division: str | None = Field(default=None, description=DIVISION_HELP)


class AccountCreate(RequestBody):
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
                    "division": "310115",
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
    division: str | None = Field(default=None, pattern=DIVISION_CODE, description=DIVISION_HELP)


class AccountUpdate(RequestBody):
    """Changes to an account (admins only); absent keys stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"active": False}, {"departments": ["tax", "customs"]}, {"division": "310104"}]
        },
    )

    role: Role | None = None
    departments: list[str] | None = Field(default=None, max_length=64)
    display_name: str | None = Field(default=None, max_length=128)
    supervisor: bool | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    # Absent: unchanged; null: none (the default division, or the whole platform).
    division: str | None = Field(default=None, pattern=DIVISION_CODE, description=DIVISION_HELP)
