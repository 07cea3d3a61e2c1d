"""Webhooks over REST (admins): subscriptions, their secrets (shown once), deliveries and replays.

May import: api.schemas.common, engine.integration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import EXAMPLE_AT, FromView, RequestBody, with_examples

Format = Literal["events", "banjian"]
DeliveryState = Literal["pending", "delivered", "dead"]

_EXAMPLE = {
    "id": 1,
    "name": "税务系统",
    "url": "https://tax.example.gov.cn/onething/events",
    "kinds": ["submitted", "completed"],
    "bundles": ["enterprise-startup"],
    "departments": ["tax"],
    "format": "events",
    "active": True,
    "created_at": EXAMPLE_AT,
    "created_by": "admin",
    "updated_at": EXAMPLE_AT,
    "pending": 0,
    "delivered": 12,
    "dead": 1,
}


class WebhookPublic(FromView):
    """A subscription (never its secret), with how many deliveries are pending, delivered, dead."""

    model_config = with_examples(_EXAMPLE)

    id: int
    name: str
    url: str
    kinds: list[str]
    bundles: list[str]
    departments: list[str]
    format: Format
    active: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    pending: int
    delivered: int
    dead: int


class WebhookCreatedPublic(BaseModel):
    """A new subscription and its signing secret: shown this once (``null`` when a retry answers)."""

    model_config = with_examples(
        {"webhook": _EXAMPLE, "secret": "3q2-7wEXAMPLEqJ7cD9xg0Jk1yZp_4eF8sVt2hN6bQo"}
    )

    webhook: WebhookPublic
    secret: str | None


class WebhookCreate(RequestBody):
    """A receiver to register: where, which events, and the secret (generated when absent)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "省政务服务平台 办件汇聚",
                    "url": "https://zwfw.example.gov.cn/banjian",
                    "format": "banjian",
                },
                {
                    "name": "税务系统",
                    "url": "https://tax.example.gov.cn/onething/events",
                    "kinds": ["submitted", "completed"],
                    "departments": ["tax"],
                },
            ]
        },
    )

    url: str = Field(min_length=8, max_length=2048, description="http 或 https 地址 (an http or https URL)")
    name: str = Field(default="", max_length=128)
    kinds: list[str] = Field(
        default_factory=list, max_length=100, description="事件类型，空为全部 (event kinds; none: all)"
    )
    bundles: list[str] = Field(default_factory=list, max_length=100)
    departments: list[str] = Field(default_factory=list, max_length=100)
    format: Format = "events"
    secret: str | None = Field(
        default=None, min_length=16, max_length=255, description="签名密钥，不填则生成"
    )
    active: bool = True


class WebhookUpdate(RequestBody):
    """Changes to a subscription; absent keys stay as they are (the secret: ``POST .../secret``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    url: str | None = Field(default=None, min_length=8, max_length=2048)
    name: str | None = Field(default=None, max_length=128)
    kinds: list[str] | None = Field(default=None, max_length=100)
    bundles: list[str] | None = Field(default=None, max_length=100)
    departments: list[str] | None = Field(default=None, max_length=100)
    format: Format | None = None
    active: bool | None = None


class SecretRotate(RequestBody):
    """A new secret for a subscription (generated when absent)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})

    secret: str | None = Field(default=None, min_length=16, max_length=255)


class SecretPublic(BaseModel):
    """The subscription's new secret, shown this once."""

    model_config = with_examples({"secret": "3q2-7wEXAMPLEqJ7cD9xg0Jk1yZp_4eF8sVt2hN6bQo"})

    secret: str


class DeliveryPublic(FromView):
    """One event on its way to one subscription."""

    model_config = with_examples(
        {
            "id": 7,
            "subscription_id": 1,
            "event_id": "0b7f8e64-8f7e-4c53-9a55-0f3f8f1c2d11",
            "kind": "completed",
            "case_id": 42,
            "case_code": "2026030200000042",
            "state": "dead",
            "attempts": 8,
            "next_attempt_at": EXAMPLE_AT,
            "last_status": 503,
            "last_error": "HTTP 503: ",
            "created_at": EXAMPLE_AT,
            "delivered_at": None,
            "replays": 0,
        }
    )

    id: int
    subscription_id: int
    event_id: str
    kind: str
    case_id: int | None
    case_code: str | None
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    replays: int


class ReplayedPublic(BaseModel):
    """How many dead deliveries were put back to pending."""

    model_config = with_examples({"replayed": 3})

    replayed: int
