"""The bundle manifest (``bundle.yaml``): what a bundle joins, and the promises it makes.

The keys of design.md are the contract; the extensions here are all optional. A manifest
is read into frozen pydantic models so every later step works on checked, typed values.

May import: ``engine.bpmn.yaml_bounds``, ``engine.errors``, ``forms.spec``, pydantic, yaml.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.bpmn.yaml_bounds import YamlRefused, load_bounded
from engine.errors import DefinitionError, Problem
from forms.spec import FormItem, FormRequest

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
MAX_VERSION = 2**31 - 1  # versions live in INTEGER columns (4 bytes on PostgreSQL)


class Frozen(BaseModel):
    """Base of manifest models: immutable, unknown keys refused (typos are problems)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(Frozen):
    """A text in Chinese first, English beside it."""

    zh: str
    en: str = ""


class Item(Frozen):
    """One administrative item (事项) of the bundle, owned by one department.

    ``handled_by: system`` means the department's own back-office system decides the item:
    ``task`` then names a BPMN service task, which becomes an external task fetched by
    ``topic`` (the department key when not given). ``clerk`` (the default) is a user task
    in the department's queue.
    """

    key: str
    name: Text
    department: str
    task: str
    time_limit_days: float = Field(ge=0)
    fields: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    # Data the clerk enters when deciding (e.g. the credit code assigned at registration).
    decision_fields: tuple[str, ...] = ()
    legal_basis: str = ""
    handled_by: Literal["clerk", "system"] = "clerk"
    topic: str | None = Field(default=None, min_length=1, max_length=128)

    @property
    def system_topic(self) -> str | None:
        """The topic the department's system fetches this item by; None when a clerk handles it."""
        if self.handled_by != "system":
            return None
        return self.topic or self.department


class Baseline(Frozen):
    """The same items handled one by one, before the bundle (for the reductions)."""

    steps: int = Field(ge=0)
    days: float = Field(ge=0)
    materials: int = Field(ge=0)
    trips: int = Field(ge=0)
    source: str = ""


class Exemption(Frozen):
    """A material the applicant need not bring, and why (shared data, a certificate)."""

    material: str
    why: Text


class Promise(Frozen):
    """容缺受理: a material that may come later on the applicant's promise."""

    material: str
    days: int = Field(ge=1, le=365)


class FollowOn(Frozen):
    """免申即享: a finished case starts another bundle by itself when ``when`` holds."""

    bundle: str
    when: str = "True"
    data: dict[str, str] = {}
    why: Text | None = None


class Example(Frozen):
    """A complete valid application, with the clerks' decisions, for trying the bundle."""

    name: Text
    data: dict[str, Any]
    materials: tuple[str, ...] = ()
    decisions: dict[str, dict[str, Any]] = {}
    route: tuple[str, ...] = ()


class Escalation(Frozen):
    """When to warn and when to escalate, as fractions of an item's time limit."""

    notify_at: float = Field(default=0.8, gt=0, le=1)
    escalate_at: float = Field(default=1.0, gt=0)


class Manifest(Frozen):
    """A parsed ``bundle.yaml``."""

    key: str
    version: int = Field(ge=1, le=MAX_VERSION)
    name: Text
    process: str = "process.bpmn"
    description: Text | None = None
    items: tuple[Item, ...]
    baseline: Baseline
    # Fields and materials asked only on some routes: key -> {field: value or [values]};
    # asked when every listed field has (one of) the values. Declarative on purpose: the
    # server, the JSON Schema (if/then) and the browser all evaluate it the same way.
    conditions: dict[str, dict[str, Any]] = {}
    exemptions: tuple[Exemption, ...] = ()
    accept_with_promise: tuple[Promise, ...] = ()
    follow_on: tuple[FollowOn, ...] = ()
    examples: tuple[Example, ...] = ()
    escalation: Escalation = Escalation()
    audience: str = "enterprise"

    @field_validator("key")
    @classmethod
    def _url_safe(cls, value: str) -> str:
        if not KEY_PATTERN.match(value):
            raise ValueError("key must be lower-case letters, digits and hyphens (url-safe)")
        return value

    def item(self, key: str) -> Item:
        """The item with this key (KeyError when absent)."""
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    def item_for_task(self, task_name: str) -> Item | None:
        """The item a BPMN user (or service) task performs, if any."""
        for item in self.items:
            if item.task == task_name:
                return item
        return None

    def system_topic(self, task_name: str) -> str | None:
        """The topic of the item that binds this task with ``handled_by: system``; None otherwise.

        The diagram's ``camunda:topic`` comes first: ``BundleDefinition.external_topic``
        gives the effective topic of a task.
        """
        item = self.item_for_task(task_name)
        return item.system_topic if item is not None else None

    @property
    def departments(self) -> tuple[str, ...]:
        """Departments of the bundle in the order their items appear."""
        return tuple(dict.fromkeys(item.department for item in self.items))

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field the applicant may be asked, each once, in item order."""
        return tuple(dict.fromkeys(f for item in self.items for f in item.fields))

    @property
    def materials(self) -> tuple[str, ...]:
        """Every material any item needs, each once, in item order."""
        return tuple(dict.fromkeys(m for item in self.items for m in item.materials))


def outcome_key(item_key: str) -> str:
    """The workflow variable the engine sets when a clerk approves an item (gateways test it).

    ``business-registration`` -> ``business_registration_outcome``.
    """
    return item_key.replace("-", "_") + "_outcome"


def form_request(manifest: Manifest) -> FormRequest:
    """What the forms package needs to merge a bundle's items into one form."""
    return FormRequest(
        items=tuple(
            FormItem(
                key=item.key,
                name_zh=item.name.zh,
                name_en=item.name.en,
                department=item.department,
                fields=item.fields,
                materials=item.materials,
                decision_fields=item.decision_fields,
                outputs=item.outputs,
            )
            for item in manifest.items
        ),
        conditions={key: dict(rule) for key, rule in manifest.conditions.items()},
        exemptions={e.material: (e.why.zh, e.why.en) for e in manifest.exemptions},
        promises={p.material: p.days for p in manifest.accept_with_promise},
    )


_SCHEMA_MESSAGES_ZH = {
    "missing": "缺少必填项",
    "extra_forbidden": "不认识的字段（拼写错误？）",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "greater_than": "数值太小",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "value_error": "取值无效",
    "string_pattern_mismatch": "格式不符",
}


def _schema_message_zh(error_type: str) -> str:
    """A Chinese message for a pydantic error type, so analysts read the problem first in Chinese."""
    if error_type in _SCHEMA_MESSAGES_ZH:
        return _SCHEMA_MESSAGES_ZH[error_type]
    if error_type.endswith("_type") or error_type.endswith("_parsing"):
        return "类型错误"
    return "不符合清单格式"


def parse_manifest(text: str | bytes, filename: str = "bundle.yaml") -> Manifest:
    """Read a manifest; every problem (YAML or schema) is reported, with its location.

    The YAML is read within bounds (engine.yaml_bounds): too large, too deep or with aliases,
    it is refused before any value is built.
    """
    try:
        raw = load_bounded(text)
    except YamlRefused as exc:
        raise DefinitionError(
            f"{filename}: {exc.message_en}",
            [
                Problem(
                    f"{filename} {exc.message}",
                    file=filename,
                    rule="yaml",
                    message_en=f"{filename} {exc.message_en}",
                )
            ],
        ) from exc
    except yaml.YAMLError as exc:
        raise DefinitionError(
            f"{filename}: not valid YAML",
            [
                Problem(
                    f"不是有效的 YAML: {exc}", file=filename, rule="yaml", message_en=f"not valid YAML: {exc}"
                )
            ],
        ) from exc
    if not isinstance(raw, dict):
        raise DefinitionError(
            f"{filename}: not a mapping",
            [
                Problem(
                    "清单必须是映射",
                    file=filename,
                    rule="schema",
                    message_en="the manifest must be a mapping",
                )
            ],
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            problems.append(
                Problem(
                    f"{where}: {_schema_message_zh(err['type'])}",
                    where=where,
                    file=filename,
                    rule="schema",
                    message_en=f"{where}: {err['msg']}",
                )
            )
        raise DefinitionError(f"{filename}: {len(problems)} problem(s)", problems) from exc
