"""Reading the shipped division files (``processes/divisions/*.yaml``) and the department names.

A file is one province-level area as a nested tree::

    {code: "310000", zh: 上海市, en: Shanghai, level: province,
     children: [{code: "310101", zh: 黄浦区, en: Huangpu District, level: county}, ...]}

Every problem of a file is reported at once (``DefinitionError``): a typo in a shipped file
stops the start instead of routing tasks to the wrong office. The files are small and
trusted, but read with a size cap and ``yaml.safe_load`` all the same (regions sits below
``engine.bpmn`` and its bounded YAML reader).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from engine.errors import DefinitionError, Problem
from engine.regions.tree import Division, Level

MAX_FILE_BYTES = 2 * 1024 * 1024
CODE_PATTERN = re.compile(r"[0-9]{6}|[0-9]{9}|[0-9]{12}")
NAME_ZH_MAX = 64
NAME_EN_MAX = 128
_KEYS = frozenset({"code", "zh", "en", "level", "children"})


def valid_code(code: str) -> bool:
    """Whether the text is a GB/T 2260 code: 6 digits, or 9/12 for 乡镇/街道 and below."""
    return CODE_PATTERN.fullmatch(code) is not None


def _read_yaml(path: Path) -> Any:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DefinitionError(
            f"{path.name}: 文件过大 ({size} > {MAX_FILE_BYTES} bytes) (file too large)",
            [Problem("文件过大", file=path.name, rule="size", message_en="file too large")],
        )
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DefinitionError(
            f"{path.name}: 不是有效的 YAML (not valid YAML): {exc}",
            [Problem("不是有效的 YAML", file=path.name, rule="yaml", message_en=f"not valid YAML: {exc}")],
        ) from exc


def _walk(node: Any, parent: Division | None, where: str, problems: list[str]) -> Iterator[Division]:
    if not isinstance(node, dict):
        problems.append(f"{where}: expected a mapping with code, zh, en, level")
        return
    unknown = sorted(str(k) for k in node if k not in _KEYS)
    if unknown:
        problems.append(f"{where}: unknown keys {unknown}")
    code = str(node.get("code", ""))
    name_zh = str(node.get("zh", "")).strip()
    name_en = str(node.get("en", "") or "").strip()
    here = f"{where}/{code}" if code else where
    if not valid_code(code):
        problems.append(f"{here}: code must be 6, 9 or 12 digits (GB/T 2260), as a quoted string")
    if not name_zh or len(name_zh) > NAME_ZH_MAX:
        problems.append(f"{here}: zh name is required, at most {NAME_ZH_MAX} characters")
    if len(name_en) > NAME_EN_MAX:
        problems.append(f"{here}: en name longer than {NAME_EN_MAX} characters")
    try:
        level = Level(str(node.get("level", "")))
    except ValueError:
        problems.append(f"{here}: level must be one of {[lv.value for lv in Level]}")
        return
    if parent is not None and level.rank <= parent.level.rank:
        problems.append(f"{here}: level {level} is not below its parent's ({parent.level})")
    division = Division(code, name_zh, name_en, level, parent.code if parent else None)
    yield division
    children = node.get("children") or []
    if not isinstance(children, list):
        problems.append(f"{here}: children must be a list")
        return
    for child in children:
        yield from _walk(child, division, here, problems)


def read_division_file(path: Path) -> list[Division]:
    """The divisions of one file, parents before children; ``DefinitionError`` listing every problem."""
    problems: list[str] = []
    divisions = list(_walk(_read_yaml(path), None, path.name, problems))
    seen: set[str] = set()
    for division in divisions:
        if division.code in seen:
            problems.append(f"{path.name}: code {division.code} appears twice")
        seen.add(division.code)
    if problems:
        raise DefinitionError(
            f"{path.name}: 行政区划文件有误 (division file has problems): {'; '.join(problems)}",
            [Problem(p, file=path.name, rule="divisions", message_en=p) for p in problems],
        )
    return divisions


def read_divisions_dir(directory: Path) -> list[Division]:
    """Every division of every ``*.yaml`` in the folder (none when it does not exist)."""
    if not directory.is_dir():
        return []
    divisions: list[Division] = []
    for path in sorted(directory.glob("*.yaml")):
        divisions.extend(read_division_file(path))
    return divisions


def read_department_names(processes_dir: Path) -> dict[str, tuple[str, str]]:
    """Department key -> (zh, en) from ``processes/departments.yaml`` (empty when absent)."""
    path = processes_dir / "departments.yaml"
    if not path.is_file():
        return {}
    raw = _read_yaml(path) or {}
    names: dict[str, tuple[str, str]] = {}
    for key, value in raw.items():
        entry = value if isinstance(value, dict) else {}
        names[str(key)] = (str(entry.get("zh", key)), str(entry.get("en", key)))
    return names
