"""The data-element catalog: shared form fields, material kinds and field groups.

Every ``*.yaml`` file in ``forms/catalog/`` is read (the format is described at the top of
``common.yaml``) and joined into one ``Catalog``. A key defined twice, in one file or in
two, is refused with both places named, so one key always means one thing in every bundle.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import field as dataclass_field
from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from forms.checks import Format
from forms.errors import CatalogError, SpecProblem
from forms.layouts import DOCUMENT_LAYOUTS

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
DEFAULT_ACCEPT = ("application/pdf", "image/jpeg", "image/png")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class ElementType(StrEnum):
    """The value types of data elements (a date is an ISO ``YYYY-MM-DD`` string)."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"


class DataClass(StrEnum):
    """Personal-data class of an element: how carefully it is shown and shared."""

    PUBLIC = "public"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Text(_Entry):
    """A text in Chinese, with English beside it."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Group(_Entry):
    """A group of fields on the merged form, ordered as an applicant thinks."""

    key: str
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    order: int = 1000
    source: str = ""


class Element(_Entry):
    """One data element: a form field that means the same in every bundle."""

    key: str
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    type: ElementType
    format: Format | None = None
    enum: tuple[str, ...] = ()
    enum_labels: Mapping[str, Text] = Field(default_factory=dict)
    minimum: float | date | None = Field(default=None, alias="min")
    maximum: float | date | None = Field(default=None, alias="max")
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    pattern: str | None = None
    unit: Text | None = None
    data_class: DataClass = Field(alias="class")
    group: str
    help: Text | None = None
    source: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Element:
        is_string = self.type is ElementType.STRING
        if not is_string and (self.format or self.enum or self.pattern):
            raise ValueError("format, enum and pattern apply to string elements only")
        if not is_string and (self.min_length is not None or self.max_length is not None):
            raise ValueError("min_length and max_length apply to string elements only")
        if self.type in (ElementType.STRING, ElementType.BOOLEAN) and (
            self.minimum is not None or self.maximum is not None
        ):
            raise ValueError("min and max apply to numbers and dates only")
        for bound in (self.minimum, self.maximum):
            if bound is None:
                continue
            if self.type is ElementType.DATE and not isinstance(bound, date):
                raise ValueError("min and max of a date are ISO dates")
            if self.type is not ElementType.DATE and isinstance(bound, date):
                raise ValueError("min and max of a number are numbers")
        if self.enum and len(set(self.enum)) != len(self.enum):
            raise ValueError("enum values repeat")
        if set(self.enum_labels) - set(self.enum):
            raise ValueError("enum_labels name values that are not in enum")
        if self.enum and set(self.enum) - set(self.enum_labels):
            raise ValueError("every enum value needs a label in enum_labels")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return self

    def label(self, lang: str = "zh") -> str:
        """The label in the given language."""
        return self.en if lang == "en" else self.zh

    def enum_label(self, value: str, lang: str = "zh") -> str:
        """The label of one enum value (the value itself if unlabelled)."""
        text = self.enum_labels.get(value)
        if text is None:
            return value
        return text.en if lang == "en" else text.zh


class RuleKind(StrEnum):
    """The kinds of cross-field plausibility rules (``forms.plausibility`` checks them)."""

    NOT_FUTURE = "not_future"  # dates: not after today (China time)
    ID_SEX = "id_sex"  # a resident ID's sex digit against the person's role or a sex field
    DISTINCT = "distinct"  # two or more ID fields name different people
    AGE = "age"  # the age of a person (from an ID or a date) within bounds, today or by a day of the year
    ID_BIRTH_DATE = "id_birth_date"  # a birth date field equals the birth date inside an ID


Sex = Literal["male", "female"]
_DAY_OF_YEAR = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


class Rule(_Entry):
    """A cross-field plausibility rule: what no single field's check can see.

    ``fields``: the fields it reads; the problem is shown at the first. A rule applies only
    when the form asks every one of them, each has a valid value, and ``when`` holds.
    """

    key: str
    kind: RuleKind
    fields: tuple[str, ...] = Field(min_length=1)
    sex: Sex | None = None
    sex_from: str | None = None
    sexes: Mapping[str, Sex] = Field(default_factory=dict)
    min_years: int | None = Field(default=None, ge=0, le=150)
    max_years: int | None = Field(default=None, ge=0, le=150)
    # "MM-DD": the age on the next such day (today included), e.g. 08-31 for school entry.
    by: str | None = None
    when: Mapping[str, Any] = Field(default_factory=dict)
    source: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        count = len(self.fields)
        if len(set(self.fields)) != count:
            raise ValueError("fields repeat")
        kind = self.kind
        if kind in (RuleKind.ID_SEX, RuleKind.AGE) and count != 1:
            raise ValueError(f"{kind.value} reads exactly one field")
        if kind in (RuleKind.DISTINCT, RuleKind.ID_BIRTH_DATE) and count < 2:
            raise ValueError(f"{kind.value} reads at least two fields")
        if kind is RuleKind.ID_BIRTH_DATE and count != 2:
            raise ValueError("id_birth_date reads a date field and an ID field")
        if kind is RuleKind.ID_SEX and (self.sex is None) == (self.sex_from is None):
            raise ValueError("id_sex needs either sex or sex_from (with sexes)")
        if self.sex_from is not None and not self.sexes:
            raise ValueError("sex_from needs sexes: {value: male|female}")
        if kind is not RuleKind.ID_SEX and (self.sex or self.sex_from or self.sexes):
            raise ValueError("sex, sex_from and sexes belong to id_sex rules")
        if kind is RuleKind.AGE and self.min_years is None and self.max_years is None:
            raise ValueError("age needs min_years or max_years")
        if kind is not RuleKind.AGE and (
            self.min_years is not None or self.max_years is not None or self.by is not None
        ):
            raise ValueError("min_years, max_years and by belong to age rules")
        if self.min_years is not None and self.max_years is not None and self.min_years > self.max_years:
            raise ValueError("min_years is above max_years")
        if self.by is not None and not _DAY_OF_YEAR.match(self.by):
            raise ValueError("by is a day of the year, MM-DD")
        return self


class Identity(_Entry):
    """The data that names what an application is about (a company, a newborn ...).

    Two open cases of one bundle with the same values are likely the same application made
    twice; the applicant is warned before submitting (``engine.cases.duplicates``).
    """

    key: str
    fields: tuple[str, ...] = Field(min_length=1)
    zh: str = Field(min_length=1)  # what is the same, e.g. 企业名称相同
    en: str = Field(min_length=1)
    source: str = ""


class Certificate(_Entry):
    """The electronic certificate (电子证照) that a material kind can be: who issues it, what it carries."""

    issuer: str = Field(min_length=1)
    fields: tuple[str, ...] = Field(min_length=1)


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class MaterialReading:
    """What can be read from a material kind (``engine.reading``) and which form element each field is.

    ``fields`` maps a document field of the layout (``forms.layouts.DOCUMENT_LAYOUTS``) to a form
    element key; ``blocking`` names the document fields whose mismatch blocks submission (default
    none: pre-review is advice).
    """

    layout: str
    fields: Mapping[str, str]
    blocking: frozenset[str] = dataclass_field(default_factory=frozenset)

    def __post_init__(self) -> None:
        known = DOCUMENT_LAYOUTS.get(self.layout)
        if known is None:
            raise ValueError(f"unknown layout {self.layout!r} (known: {', '.join(DOCUMENT_LAYOUTS)})")
        if not self.fields:
            raise ValueError("fields maps at least one document field to a form element")
        unknown = sorted(set(self.fields) - set(known))
        if unknown:
            raise ValueError(f"layout {self.layout} has no document field {', '.join(unknown)}")
        stray = sorted(self.blocking - set(self.fields))
        if stray:
            raise ValueError(f"blocking names fields that fields does not map: {', '.join(stray)}")
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def __hash__(self) -> int:
        return hash((self.layout, tuple(sorted(self.fields.items())), self.blocking))


class MaterialKind(_Entry):
    """A kind of document an applicant may hand in, checked by its bytes."""

    key: str
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    accept: tuple[str, ...] = Field(default=DEFAULT_ACCEPT, min_length=1)
    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=1)
    certificate: Certificate | None = None
    reads: MaterialReading | None = None
    help: Text | None = None
    source: str = ""


class Catalog:
    """The joined catalog: elements, material kinds and groups by key (read-only)."""

    def __init__(
        self,
        elements: Mapping[str, Element],
        materials: Mapping[str, MaterialKind],
        groups: Mapping[str, Group],
        rules: Mapping[str, Rule] | None = None,
        identities: Mapping[str, Identity] | None = None,
    ) -> None:
        self.elements: Mapping[str, Element] = MappingProxyType(dict(elements))
        self.materials: Mapping[str, MaterialKind] = MappingProxyType(dict(materials))
        self.groups: Mapping[str, Group] = MappingProxyType(dict(groups))
        #: Cross-field plausibility rules (``forms.plausibility``).
        self.rules: Mapping[str, Rule] = MappingProxyType(dict(rules or {}))
        #: What names the subject of an application, for the duplicate-case warning.
        self.identities: Mapping[str, Identity] = MappingProxyType(dict(identities or {}))

    def __repr__(self) -> str:
        counts = f"{len(self.elements)} elements, {len(self.materials)} materials, {len(self.groups)} groups"
        return f"Catalog({counts})"

    def group_order(self, key: str) -> tuple[int, str]:
        """Sort key of a group (unknown groups last)."""
        group = self.groups.get(key)
        return (group.order if group else 10**9, key)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a mapping key written twice (PyYAML keeps the last)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Hashable] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
            )
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)

_M = TypeVar("_M", bound=BaseModel)
_E = TypeVar("_E", Element, MaterialKind, Group, Rule, Identity)

_SECTIONS = ("groups", "elements", "materials", "rules", "identities")


def _problem(where: str, message: str, message_en: str, rule: str) -> SpecProblem:
    return SpecProblem(where=where, message=message, message_en=message_en, rule=rule)


def _read_file(path: Path, problems: list[SpecProblem]) -> dict[str, dict[str, Any]]:
    """The sections of one catalog file (empty sections on any problem, which is recorded)."""
    name = path.name
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(
            _problem(name, f"{name}: 不是有效的 YAML: {exc}", f"{name}: not valid YAML: {exc}", "yaml")
        )
        return {}
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(
            _problem(name, f"{name}: 顶层必须是映射", f"{name}: the top level must be a mapping", "schema")
        )
        return {}
    out: dict[str, dict[str, Any]] = {}
    for section, entries in raw.items():
        if section not in _SECTIONS:
            problems.append(
                _problem(
                    f"{name}: {section}",
                    f"{name}: 未知的部分 {section!r}(可用: {', '.join(_SECTIONS)})",
                    f"{name}: unknown section {section!r} (known: {', '.join(_SECTIONS)})",
                    "schema",
                )
            )
        elif entries is not None and not isinstance(entries, dict):
            problems.append(
                _problem(
                    f"{name}: {section}",
                    f"{name}: {section} 必须是映射",
                    f"{name}: {section} must be a mapping",
                    "schema",
                )
            )
        else:
            out[section] = entries or {}
    return out


def _parse_entries(
    model: type[_M], section: str, name: str, entries: Mapping[str, Any], problems: list[SpecProblem]
) -> dict[str, _M]:
    parsed: dict[str, _M] = {}
    for key, body in entries.items():
        where = f"{name}: {section}.{key}"
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            problems.append(
                _problem(
                    where,
                    f"{where}: 键须为小写字母、数字和下划线",
                    f"{where}: keys are lower-case letters, digits and underscores",
                    "key",
                )
            )
            continue
        if not isinstance(body, dict):
            problems.append(_problem(where, f"{where}: 必须是映射", f"{where}: must be a mapping", "schema"))
            continue
        try:
            parsed[key] = model.model_validate({**body, "key": key, "source": name})
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                detail = f"{loc}: {err['msg']}" if loc else err["msg"]
                problems.append(_problem(where, f"{where}: {detail}", f"{where}: {detail}", "schema"))
    return parsed


def _join(into: dict[str, _E], new: Mapping[str, _E], section: str, problems: list[SpecProblem]) -> None:
    for key, entry in new.items():
        if key in into:
            first = into[key].source
            problems.append(
                _problem(
                    f"{entry.source}: {section}.{key}",
                    f"{section}.{key} 重复定义: {first} 与 {entry.source}",
                    f"{section}.{key} is defined twice: in {first} and in {entry.source}",
                    "duplicate",
                )
            )
        else:
            into[key] = entry


def _cross_check(catalog: Catalog, problems: list[SpecProblem]) -> None:
    for key, element in catalog.elements.items():
        if element.group not in catalog.groups:
            problems.append(
                _problem(
                    f"{element.source}: elements.{key}",
                    f"elements.{key}: 未知的分组 {element.group!r}",
                    f"elements.{key}: unknown group {element.group!r}",
                    "group",
                )
            )
        if key in catalog.materials:
            problems.append(
                _problem(
                    f"{element.source}: elements.{key}",
                    f"{key} 既是数据项又是材料({element.source}, {catalog.materials[key].source})",
                    f"{key} is both an element and a material "
                    f"({element.source}, {catalog.materials[key].source})",
                    "duplicate",
                )
            )
    _cross_check_rules(catalog, problems)
    for key, kind in catalog.materials.items():
        for field in kind.certificate.fields if kind.certificate else ():
            if field not in catalog.elements:
                problems.append(
                    _problem(
                        f"{kind.source}: materials.{key}",
                        f"materials.{key}: 证照字段 {field!r} 不是已知数据项",
                        f"materials.{key}: certificate field {field!r} is not a known element",
                        "unknown_field",
                    )
                )
        for field in kind.reads.fields.values() if kind.reads else ():
            if field not in catalog.elements:
                problems.append(
                    _problem(
                        f"{kind.source}: materials.{key}",
                        f"materials.{key}: 可识读字段对应的 {field!r} 不是已知数据项",
                        f"materials.{key}: reads maps a field to {field!r}, which is not a known element",
                        "unknown_field",
                    )
                )


def _rule_field_problem(rule: Rule, field: str, zh: str, en: str) -> SpecProblem:
    where = f"{rule.source}: rules.{rule.key}"
    return _problem(where, f"rules.{rule.key}: {field} {zh}", f"rules.{rule.key}: {field} {en}", "rule_field")


def _cross_check_rules(catalog: Catalog, problems: list[SpecProblem]) -> None:
    """Every field a rule or identity names is an element of the kind the rule reads."""
    elements = catalog.elements
    for rule in catalog.rules.values():
        named = (*rule.fields, *rule.when, *((rule.sex_from,) if rule.sex_from else ()))
        unknown = [name for name in named if name not in elements]
        for name in unknown:
            problems.append(_rule_field_problem(rule, name, "不是已知数据项", "is not a known element"))
        if unknown:
            continue
        first = elements[rule.fields[0]]
        is_id = [elements[name].format is Format.RESIDENT_ID for name in rule.fields]
        if rule.kind is RuleKind.NOT_FUTURE:
            for name in rule.fields:
                if elements[name].type is not ElementType.DATE:
                    problems.append(_rule_field_problem(rule, name, "不是日期", "is not a date"))
        elif rule.kind in (RuleKind.ID_SEX, RuleKind.DISTINCT) and not all(is_id):
            for name, ok in zip(rule.fields, is_id, strict=True):
                if not ok:
                    problems.append(_rule_field_problem(rule, name, "不是身份证号", "is not a resident ID"))
        elif rule.kind is RuleKind.AGE and not (is_id[0] or first.type is ElementType.DATE):
            problems.append(
                _rule_field_problem(
                    rule, first.key, "不是身份证号或日期", "is neither a resident ID nor a date"
                )
            )
        elif rule.kind is RuleKind.ID_BIRTH_DATE and (first.type is not ElementType.DATE or not is_id[1]):
            problems.append(
                _rule_field_problem(
                    rule, first.key, "须为日期，其后为身份证号", "must be a date followed by a resident ID"
                )
            )
        if rule.sex_from is not None:
            choices = set(elements[rule.sex_from].enum)
            for value in rule.sexes:
                if value not in choices:
                    problems.append(
                        _rule_field_problem(
                            rule, rule.sex_from, f"没有取值 {value!r}", f"has no value {value!r}"
                        )
                    )
    for identity in catalog.identities.values():
        for name in identity.fields:
            if name not in elements:
                where = f"{identity.source}: identities.{identity.key}"
                problems.append(
                    _problem(
                        where,
                        f"identities.{identity.key}: {name} 不是已知数据项",
                        f"identities.{identity.key}: {name} is not a known element",
                        "unknown_field",
                    )
                )


def _signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    files = sorted(directory.glob("*.yaml"))
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)


@lru_cache(maxsize=8)
def _load(directory: Path, _signature: tuple[tuple[str, int, int], ...]) -> Catalog:
    problems: list[SpecProblem] = []
    elements: dict[str, Element] = {}
    materials: dict[str, MaterialKind] = {}
    groups: dict[str, Group] = {}
    rules: dict[str, Rule] = {}
    identities: dict[str, Identity] = {}
    files = sorted(directory.glob("*.yaml"))
    if not files:
        problems.append(
            _problem(str(directory), "目录中没有目录文件(*.yaml)", "no catalog files (*.yaml) found", "empty")
        )
    for path in files:
        sections = _read_file(path, problems)
        name = path.name
        _join(
            groups,
            _parse_entries(Group, "groups", name, sections.get("groups", {}), problems),
            "groups",
            problems,
        )
        _join(
            elements,
            _parse_entries(Element, "elements", name, sections.get("elements", {}), problems),
            "elements",
            problems,
        )
        _join(
            materials,
            _parse_entries(MaterialKind, "materials", name, sections.get("materials", {}), problems),
            "materials",
            problems,
        )
        _join(
            rules, _parse_entries(Rule, "rules", name, sections.get("rules", {}), problems), "rules", problems
        )
        _join(
            identities,
            _parse_entries(Identity, "identities", name, sections.get("identities", {}), problems),
            "identities",
            problems,
        )
    catalog = Catalog(elements, materials, groups, rules, identities)
    _cross_check(catalog, problems)
    if problems:
        raise CatalogError(problems)
    return catalog


def load_catalog(directory: Path | None = None) -> Catalog:
    """Load and check every catalog file of a folder (default: the shipped one), cached until one changes."""
    folder = (directory or CATALOG_DIR).resolve()
    return _load(folder, _signature(folder))
