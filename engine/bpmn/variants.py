"""Regional variants of a bundle: an overlay ``bundle.yaml`` checked against its base and merged onto it.

A province publishes a bundle; a city or district publishes a variant that overrides only what
the law lets it: shorter (or equal) time limits, extra exemptions, its offices' contacts, its own
baseline figures, and, where the base says ``extensible: true``, local items of its own (the
variant then brings a diagram holding every base task in its lane). The overlay names its base
(``variant_of``) and its division; every other key is refused, so nothing else can change.

A variant is materialized into an ordinary bundle (the merged ``bundle.yaml``, the base's
diagram unless the variant brings one) that goes through the full validation like any other,
plus the overlay itself as ``variant.yaml``: a new base version re-applies it from there.

May import: ``engine.bpmn`` (manifest, definitions, checks, xmlsafe, yaml_bounds), ``engine.errors``,
pydantic, yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import yaml
from pydantic import Field, ValidationError, field_validator

from engine.bpmn.checks.diagram import check_diagram
from engine.bpmn.checks.facts import problem
from engine.bpmn.definitions import MANIFEST_NAME
from engine.bpmn.manifest import (
    DIVISION_PATTERN,
    KEY_PATTERN,
    MAX_VERSION,
    Baseline,
    Exemption,
    Frozen,
    Item,
    Manifest,
    OfficeContact,
    Text,
    parse_model,
)
from engine.bpmn.xmlsafe import parse_xml
from engine.bpmn.yaml_bounds import load_bounded
from engine.errors import DefinitionError, Problem, UnsafeXml

VARIANTS_DIR = "variants"  # processes/<key>/variants/<division>/bundle.yaml
OVERLAY_NAME = "variant.yaml"  # the overlay as handed in, kept among a variant's deployed files


class ItemOverride(Frozen):
    """What a variant may change of a base item: its time limit (shorter or equal only)."""

    time_limit_days: float = Field(ge=0)


class VariantOverlay(Frozen):
    """A parsed variant ``bundle.yaml``: the base it overlays, the division it serves, its overrides."""

    variant_of: str
    division: str = Field(pattern=DIVISION_PATTERN)
    version: int = Field(ge=1, le=MAX_VERSION)
    name: Text | None = None
    items: dict[str, ItemOverride] = Field(default_factory=dict)
    exemptions: tuple[Exemption, ...] = ()
    offices: dict[str, OfficeContact] = Field(default_factory=dict)
    baseline: Baseline | None = None
    add_items: tuple[Item, ...] = ()

    @field_validator("variant_of")
    @classmethod
    def _bundle_key(cls, value: str) -> str:
        if not KEY_PATTERN.match(value):
            raise ValueError("variant_of must be a bundle key")
        return value


def overlay_text(files: Mapping[str, bytes]) -> bytes | None:
    """The ``bundle.yaml`` of these files when it is a variant overlay (it says ``variant_of``), else None."""
    text = files.get(MANIFEST_NAME)
    if text is None:
        return None
    try:
        raw = load_bounded(text)
    except yaml.YAMLError:
        return None  # not readable at all: the ordinary manifest checks say why
    return text if isinstance(raw, dict) and "variant_of" in raw else None


def parse_variant(text: str | bytes, filename: str = MANIFEST_NAME) -> VariantOverlay:
    """Read an overlay; every YAML or schema problem (an unknown key: an override the law does not allow)."""
    return parse_model(text, VariantOverlay, filename)


def variant_problems(
    base: Manifest,
    overlay: VariantOverlay,
    base_files: Mapping[str, bytes],
    variant_files: Mapping[str, bytes],
    *,
    known_division: Callable[[str], bool] | None = None,
) -> list[Problem]:
    """Everything the overlay overrides that the base does not allow, each with file, element and rule.

    ``known_division`` tells whether the division tree knows a code (not checked when None).
    """
    out: list[Problem] = []

    def add(element: str, rule: str, zh: str, en: str, file: str = MANIFEST_NAME) -> None:
        out.append(problem(file, element, rule, zh, en))

    if overlay.variant_of != base.key:
        add(
            "variant_of",
            "variant-of",
            f"变体所属事项包 {overlay.variant_of!r} 与基础事项包 {base.key!r} 不一致",
            f"the variant is of {overlay.variant_of!r}, the base is {base.key!r}",
        )
    if known_division is not None and not known_division(overlay.division):
        add(
            "division",
            "variant-division",
            f"行政区划代码 {overlay.division} 不在区划表中",
            f"division {overlay.division} is not in the division table",
        )
    base_items = {item.key: item for item in base.items}
    for key, override in overlay.items.items():
        where = f"items[{key}].time_limit_days"
        item = base_items.get(key)
        if item is None:
            add(
                f"items[{key}]",
                "variant-item",
                f"基础事项包中没有事项 {key!r}",
                f"the base has no item {key!r}",
            )
        elif override.time_limit_days > item.time_limit_days:
            add(
                where,
                "variant-time-limit",
                f"时限 {override.time_limit_days:g} 天长于基础版本的 {item.time_limit_days:g} 天："
                "变体只能缩短或保持时限",
                f"the time limit of {override.time_limit_days:g} days is longer than the base's "
                f"{item.time_limit_days:g}: a variant may only shorten it",
            )
    out.extend(_added_item_problems(base, overlay, base_items))
    asked = set(base.materials) | {m for item in overlay.add_items for m in item.materials}
    exempt = {e.material for e in base.exemptions}
    for index, exemption in enumerate(overlay.exemptions):
        where = f"exemptions[{index}].material"
        if exemption.material not in asked:
            add(
                where,
                "variant-exemption",
                f"材料 {exemption.material!r} 不是本事项包要求的材料，无从免交",
                f"{exemption.material!r} is not a material the bundle asks, so it cannot be exempted",
            )
        elif exemption.material in exempt:
            add(
                where,
                "variant-exemption",
                f"材料 {exemption.material!r} 在基础版本中已免交",
                f"{exemption.material!r} is already exempt in the base",
            )
        exempt.add(exemption.material)
    departments = set(base.departments) | {item.department for item in overlay.add_items}
    for department in overlay.offices:
        if department not in departments:
            add(
                f"offices.{department}",
                "variant-office",
                f"部门 {department!r} 不办理本事项包的任何事项",
                f"department {department!r} handles no item of this bundle",
            )
    out.extend(_file_problems(base, overlay, base_files, variant_files))
    return out


def _added_item_problems(
    base: Manifest, overlay: VariantOverlay, base_items: Mapping[str, Item]
) -> list[Problem]:
    """Local items: only on an extensible base, never reusing a base item's key or task."""
    out: list[Problem] = []
    if overlay.add_items and not base.extensible:
        out.append(
            problem(
                MANIFEST_NAME,
                "add_items",
                "variant-not-extensible",
                f"基础事项包 {base.key} 未声明 extensible: true，变体不能增加事项",
                f"the base {base.key} does not say extensible: true, so a variant cannot add items",
            )
        )
        return out
    tasks = {item.task for item in base.items}
    for item in overlay.add_items:
        if item.key in base_items or item.task in tasks:
            out.append(
                problem(
                    MANIFEST_NAME,
                    f"add_items[{item.key}]",
                    "variant-item-duplicate",
                    f"新增事项 {item.key!r} 的键或任务 {item.task!r} 已由基础事项包使用",
                    f"the added item {item.key!r} reuses a base item's key or task {item.task!r}",
                )
            )
    return out


def _file_problems(
    base: Manifest,
    overlay: VariantOverlay,
    base_files: Mapping[str, bytes],
    variant_files: Mapping[str, bytes],
) -> list[Problem]:
    """The variant's own files: a diagram only, on an extensible base only, with every base task and lane."""
    out: list[Problem] = []
    for name in sorted(set(variant_files) - {MANIFEST_NAME, base.process}):
        out.append(
            problem(
                name,
                "",
                "variant-file",
                f"变体只能包含 bundle.yaml 与流程图 {base.process}",
                f"a variant holds bundle.yaml and the diagram {base.process} only",
            )
        )
    diagram = variant_files.get(base.process)
    if diagram is None:
        if overlay.add_items:
            out.append(
                problem(
                    MANIFEST_NAME,
                    "add_items",
                    "variant-diagram-missing",
                    f"增加事项的变体须带上自己的流程图 {base.process}",
                    f"a variant that adds items brings its own diagram {base.process}",
                )
            )
        return out
    if not base.extensible:
        out.append(
            problem(
                base.process,
                "",
                "variant-diagram",
                f"基础事项包 {base.key} 未声明 extensible: true，变体不能更换流程图",
                f"the base {base.key} does not say extensible: true, so a variant cannot bring a diagram",
            )
        )
        return out
    out.extend(_diagram_keeps_base(base, base_files, diagram))
    return out


def _diagram_keeps_base(base: Manifest, base_files: Mapping[str, bytes], diagram: bytes) -> list[Problem]:
    """Every base item's task is in the variant's diagram, in the lane it has in the base's."""
    name = base.process
    try:
        facts = check_diagram(parse_xml(diagram, name), name)
        base_facts = check_diagram(parse_xml(base_files[name], name), name) if name in base_files else None
    except UnsafeXml:
        return []  # the merged bundle's validation names what is wrong with the file
    out: list[Problem] = []
    for item in base.items:
        task = facts.human_tasks.get(item.task) or facts.system_tasks.get(item.task)
        if task is None:
            out.append(
                problem(
                    name,
                    item.task,
                    "variant-task-missing",
                    f"变体流程图缺少基础事项 {item.key} 的任务 {item.task}：变体不能删减事项",
                    f"the variant's diagram lacks the task {item.task} of the base item {item.key}: "
                    "a variant cannot remove items",
                )
            )
            continue
        before = None
        if base_facts is not None:
            before = base_facts.human_tasks.get(item.task) or base_facts.system_tasks.get(item.task)
        if before is not None and before.lane != task.lane:
            out.append(
                problem(
                    name,
                    item.task,
                    "variant-lane",
                    f"任务 {item.task} 在基础流程图中位于泳道 {before.lane!r}，变体中为 {task.lane!r}",
                    f"the task {item.task} is in lane {before.lane!r} in the base, "
                    f"{task.lane!r} in the variant",
                )
            )
    return out


def apply_variant(
    base: Manifest,
    overlay: VariantOverlay,
    base_files: Mapping[str, bytes],
    variant_files: Mapping[str, bytes],
) -> tuple[Manifest, dict[str, bytes]]:
    """The merged manifest and the files to deploy: the overlay's overrides on the base, as one bundle.

    Call after ``variant_problems`` found nothing. The files are the base's (its diagram and
    decision tables) with the merged ``bundle.yaml``, the variant's diagram when it brings one,
    and the overlay as ``variant.yaml`` (so the variant can be re-applied onto a later base).
    """
    raw = base.model_dump(mode="json", exclude_defaults=True)
    limits = {key: override.time_limit_days for key, override in overlay.items.items()}
    raw["version"] = overlay.version
    if overlay.name is not None:
        raw["name"] = overlay.name.model_dump(mode="json")
    raw["items"] = [
        {**item, "time_limit_days": limits.get(item["key"], item["time_limit_days"])} for item in raw["items"]
    ] + [item.model_dump(mode="json", exclude_defaults=True) for item in overlay.add_items]
    if overlay.add_items:  # the base's declared routes cannot name the local items: not checked
        raw["examples"] = [{**example, "route": []} for example in raw.get("examples", [])]
    raw["exemptions"] = [e.model_dump(mode="json") for e in (*base.exemptions, *overlay.exemptions)]
    offices = {**base.offices, **overlay.offices}
    if offices:
        raw["offices"] = {department: c.model_dump(mode="json") for department, c in offices.items()}
    if overlay.baseline is not None:
        raw["baseline"] = overlay.baseline.model_dump(mode="json")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:  # the overrides are checked one by one; this is their sum
        problems = [
            problem(MANIFEST_NAME, ".".join(str(p) for p in err["loc"]), "schema", err["msg"], err["msg"])
            for err in exc.errors()
        ]
        raise DefinitionError(f"{len(problems)} problem(s) in the merged variant", problems) from exc
    header = f"# {base.key}: variant for {overlay.division}, merged from {OVERLAY_NAME} over the base.\n"
    text = header + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=120)
    files = {name: data for name, data in base_files.items() if name not in (MANIFEST_NAME, OVERLAY_NAME)}
    if base.process in variant_files:
        files[base.process] = variant_files[base.process]
    files[MANIFEST_NAME] = text.encode("utf-8")
    files[OVERLAY_NAME] = variant_files[MANIFEST_NAME]
    return manifest, files
