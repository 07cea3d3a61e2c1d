"""The bundle manifest (``bundle.yaml``): what a bundle joins, and the promises it makes.

The keys of design.md are the contract; the extensions here are all optional. A manifest
is read into frozen pydantic models so every later step works on checked, typed values.

May import: ``engine.bpmn.yaml_bounds``, ``engine.errors``, ``forms.spec``, pydantic, yaml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, TypeVar, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from engine.bpmn.yaml_bounds import YamlRefused, load_bounded
from engine.errors import DefinitionError, Problem
from forms.spec import FormItem, FormRequest

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
# A GB/T 2260 division code: 6 digits (province, city, county), 9 (township) or 12 (village).
DIVISION_PATTERN = r"^(\d{6}|\d{9}|\d{12})$"
DIVISION_FORMAT = "division-code"  # the catalog format of a field holding a division code
MAX_VERSION = 2**31 - 1  # versions live in INTEGER columns (4 bytes on PostgreSQL)


M = TypeVar("M", bound=BaseModel)


class Frozen(BaseModel):
    """Base of manifest models: immutable, unknown keys refused (typos are problems)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(Frozen):
    """A text in Chinese first, English beside it."""

    zh: str
    en: str = ""


class DivisionSource(Frozen):
    """Where an item is decided when not in the case's own division: a field's value or a fixed code.

    多地联办: ``field`` names another division field (e.g. the new address of a company that
    moves), so one bundle's items run in two divisions; ``fixed`` pins an item to one office
    (a province-level item whatever the applicant's district). Exactly one of the two.
    """

    field: str | None = Field(default=None, min_length=1, max_length=64)
    fixed: str | None = Field(default=None, pattern=DIVISION_PATTERN)

    @model_validator(mode="after")
    def _exactly_one(self) -> DivisionSource:
        if (self.field is None) == (self.fixed is None):
            raise ValueError("give exactly one of field and fixed")
        return self


class Item(Frozen):
    """One administrative item (事项) of the bundle, owned by one department.

    ``handled_by: system`` means the department's own back-office system decides the item:
    ``task`` then names a BPMN service task, which becomes an external task fetched by
    ``topic`` (the department key when not given). ``clerk`` (the default) is a user task
    in the department's queue.

    ``decided_at`` is the level whose office decides the item (区县, 地市 or 省级); the task
    goes up from the item's division to that level (``engine.regions`` routes it).
    ``division`` says where that division comes from when not the case's own.
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
    decided_at: Literal["county", "city", "province"] = "county"
    division: DivisionSource | None = None

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


# A search word (智能导办): a few characters to a short phrase, as people say it.
SearchWord = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


def _distinct(words: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse a word given twice: a duplicate says the list was not read through."""
    seen = [w for i, w in enumerate(words) if w in words[:i]]
    if seen:
        raise ValueError(f"duplicate words: {', '.join(dict.fromkeys(seen))}")
    return words


class Example(Frozen):
    """A complete valid application, with the clerks' decisions, for trying the bundle.

    An example is also one of the bundle's 情形 (situations): search ranks it by its name and
    its ``keywords`` (the words people use for that case, e.g. 简易注销: 没有经营).
    """

    name: Text
    data: dict[str, Any]
    materials: tuple[str, ...] = ()
    decisions: dict[str, dict[str, Any]] = {}
    route: tuple[str, ...] = ()
    keywords: tuple[SearchWord, ...] = Field(default=(), max_length=64)

    _distinct_keywords = field_validator("keywords")(_distinct)


class OfficeContact(Frozen):
    """How applicants reach a department's office (咨询电话、窗口地址、办公时间); a variant gives its own."""

    phone: str = Field(default="", max_length=64)
    address: str = Field(default="", max_length=255)
    hours: str = Field(default="", max_length=128)


class Escalation(Frozen):
    """When to warn and when to escalate, as fractions of an item's time limit."""

    notify_at: float = Field(default=0.8, gt=0, le=1)
    escalate_at: float = Field(default=1.0, gt=0)


# The published lists a bundle may come from: the State Council's batches of key items
# (国发〔2024〕3号 and the later notices) or a region's own list (``local``).
CatalogList = Literal[
    "national-2024-1", "national-2024-2", "national-2024-3", "national-2025-1", "national-2025-2", "local"
]
CATALOG_LISTS: tuple[str, ...] = get_args(CatalogList)


class CatalogSource(Frozen):
    """Where a bundle comes from: the list that publishes it, and its lead and cooperating departments.

    国办发〔2025〕24号 asks every key item to land with a lead (牵头) department and cooperating
    (配合) ones; the validator checks that each department owning an item is one of them, so the
    manifest cannot name an item list that its own departments contradict.
    """

    list: CatalogList
    # None when the publishing document could not be confirmed: the manifest says so rather
    # than invent a number; ``item_source`` must then say what is known and what is not.
    document: str | None = Field(min_length=1, max_length=200)
    published: date | None
    item_source: str = Field(min_length=1, max_length=2000)
    lead: str = Field(min_length=1, max_length=64)
    cooperating: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unconfirmed_is_said(self) -> CatalogSource:
        if (self.document is None or self.published is None) and "NOT CONFIRMED" not in self.item_source:
            raise ValueError("a catalog block without its document or date says NOT CONFIRMED in item_source")
        return self

    @property
    def departments(self) -> tuple[str, ...]:
        """The lead department first, then the cooperating ones."""
        return (self.lead, *self.cooperating)


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
    # The field holding the applicant's division; None: the first division-code field of the form.
    division_field: str | None = Field(default=None, min_length=1, max_length=64)
    # Whether a region's variant may add local items (it then brings its own diagram).
    extensible: bool = False
    # Office contacts per department (a variant's, merged over the base's).
    offices: dict[str, OfficeContact] = {}
    # The list the bundle comes from and its lead/cooperating departments (every shipped bundle has one).
    catalog: CatalogSource | None = None
    # 智能导办: the words people use for this thing (小饭馆, 开店), kept whole by the segmenter.
    keywords: tuple[SearchWord, ...] = Field(default=(), max_length=128)
    # A word of the bundle -> the other ways people say it (餐饮: [饭馆, 饭店]); both are searched.
    synonyms: dict[SearchWord, tuple[SearchWord, ...]] = Field(default={}, max_length=128)

    _distinct_keywords = field_validator("keywords")(_distinct)

    @field_validator("synonyms")
    @classmethod
    def _distinct_synonyms(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for word, others in value.items():
            _distinct(others)
            if word in others:
                raise ValueError(f"{word} is listed as its own synonym")
        return value

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

    def item_division(self, item: Item, data: Mapping[str, Any], case_division: str | None) -> str | None:
        """The division an item is decided in: its fixed code, its field's value, else the case's.

        A division field left empty (an optional field not asked on this route) falls back to
        the case's division; None when none is known (routing then uses the default).
        """
        source = item.division
        if source is not None and source.fixed is not None:
            return source.fixed
        if source is not None and source.field is not None:
            value = data.get(source.field)
            if isinstance(value, str) and re.match(DIVISION_PATTERN, value):
                return value
        return case_division

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
    return parse_model(text, Manifest, filename)


def parse_model(text: str | bytes, model: type[M], filename: str = "bundle.yaml") -> M:
    """Read bounded YAML into ``model``; every YAML or schema problem reported with its location."""
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
        return model.model_validate(raw)
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
