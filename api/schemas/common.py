"""What every schema module shares: the request and view bases, text checks, the common answers.

``RequestBody`` is the base of request bodies: unknown keys are refused (a typo is a 422, not a
silent no-op) and so is text no database can store (NUL, lone surrogates, non-finite numbers,
nesting deeper than ``MAX_NESTING``). ``FromView`` is the base of answers that mirror one of
the engine's frozen views. The answers every route may give live here too: labels, errors,
problems (一次性告知) and the health check.

May import: pydantic, engine.cases.views (``Label``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, model_validator

from engine.cases.views import Label

# The times the examples of the OpenAPI document show.
EXAMPLE_AT = "2026-03-02T09:30:00Z"
EXAMPLE_DUE = "2026-03-03T09:30:00Z"


def with_examples(*examples: dict[str, Any]) -> ConfigDict:
    """A model config that shows these examples in the OpenAPI document."""
    return ConfigDict(json_schema_extra={"examples": list(examples)})


def fields_of(view: Any) -> dict[str, Any]:
    """A frozen view's fields by name, to merge with another view's or add derived ones.

    Models validate such a mapping ``from_attributes``, so nested views (labels, tasks)
    are read by attribute like the top-level ones; keys a model does not declare are ignored.
    """
    return {f.name: getattr(view, f.name) for f in dataclasses.fields(view)}


MAX_NESTING = 32
# A GB/T 2260 division code: 6 digits (province, city, county), 9 (township) or 12 (village);
# the one pattern of every division in a request (engine.storage.settings checks the same).
DIVISION_CODE = r"^(\d{6}|\d{9}|\d{12})$"


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


class RequestBody(BaseModel):
    """Base of request bodies: unknown keys are refused, and so is text no database can store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        _check_tree(data)
        return data


class FromView(BaseModel):
    """Base of answers that mirror one engine view field by field (the view's own names)."""

    @classmethod
    def from_view(cls, view: Any) -> Self:
        """From the engine's view (a frozen dataclass), read by attribute."""
        return cls.model_validate(view, from_attributes=True)


class LabelPublic(BaseModel):
    """A name in Chinese, with English beside it."""

    model_config = with_examples({"zh": "企业开办一件事", "en": "Enterprise startup"})

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

    model_config = with_examples({"detail": "没有这个办件 (no case 42)"})

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

    model_config = with_examples({"status": "ok"})

    status: Literal["ok"]
