"""Sign-in and accounts over REST: the bearer token, an account as shown, and its creation and changes.

May import: api.schemas.common, engine.people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import EXAMPLE_AT, FromView, RequestBody, with_examples
from engine.people.actors import Role


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
        }
    )

    username: str
    role: Role
    departments: list[str]
    display_name: str
    supervisor: bool
    active: bool
    created_at: datetime


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


class AccountUpdate(RequestBody):
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
