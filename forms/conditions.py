"""Declarative conditions: ``{field: value or [values]}``, true when every field has one of its values.

The same rule is evaluated here (server), in the JSON Schema (``if``/``then``) and in the
browser (``data-show-when``), so the three always agree on what is asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from forms.catalog import Element

Condition = Mapping[str, tuple[Any, ...]]


def normalize(raw: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """A condition with every right-hand side as a tuple of allowed values."""
    return {
        name: tuple(values) if isinstance(values, list | tuple | set | frozenset) else (values,)
        for name, values in raw.items()
    }


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from numbers (``True`` is not ``1`` in a form)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def holds(condition: Condition | None, data: Mapping[str, Any]) -> bool:
    """Whether every field of the condition has one of its allowed values in ``data``."""
    if not condition:
        return True
    return all(
        name in data and any(same_value(data[name], value) for value in values)
        for name, values in condition.items()
    )


def show_when(condition: Condition | None) -> dict[str, list[Any]] | None:
    """The condition as JSON (for ``data-show-when`` and the layout)."""
    return {name: list(values) for name, values in condition.items()} if condition else None


def describe(condition: Condition, elements: Mapping[str, Element], lang: str = "zh") -> str:
    """A condition in words, e.g. ``户籍类型为随迁子女(非本地户籍)``."""
    parts: list[str] = []
    for name, values in condition.items():
        element = elements.get(name)
        label = element.label(lang) if element else name
        shown = _values(values, element, lang)
        parts.append(f"{label}为{shown}" if lang == "zh" else f"{label} is {shown}")
    return ("且" if lang == "zh" else " and ").join(parts)


def _values(values: Iterable[Any], element: Element | None, lang: str) -> str:
    words: list[str] = []
    for value in values:
        if isinstance(value, bool):
            words.append(("是" if value else "否") if lang == "zh" else ("yes" if value else "no"))
        elif isinstance(value, str) and element is not None:
            words.append(element.enum_label(value, lang))
        else:
            words.append(str(value))
    return ("或" if lang == "zh" else " or ").join(words)
