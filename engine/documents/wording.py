"""How dates and values are written on documents and the verification page, in both languages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.cases.views import Label
from forms.catalog import DataClass, Element, ElementType
from forms.checks import Format

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def day_label(day: dt.date) -> Label:
    """A date as printed: 2025年3月3日 / 3 March 2025."""
    return Label(f"{day.year}年{day.month}月{day.day}日", f"{day.day} {_MONTHS[day.month - 1]} {day.year}")


def moment_label(moment: dt.datetime) -> Label:
    """A local date and time as printed: 2025年3月3日 09:00 / 3 March 2025, 09:00."""
    day = day_label(moment.date())
    return Label(f"{day.zh} {moment:%H:%M}", f"{day.en}, {moment:%H:%M}")


def value_label(element: Element | None, value: Any) -> Label:
    """A field's value as a person reads it: yes/no, enum labels, dates written out, units."""
    if isinstance(value, bool):
        return Label("是" if value else "否", "Yes" if value else "No")
    if element is None:
        return Label(str(value), str(value))
    if isinstance(value, str) and element.enum:
        return Label(element.enum_label(value, "zh"), element.enum_label(value, "en"))
    if element.type is ElementType.DATE and isinstance(value, str):
        try:
            return day_label(dt.date.fromisoformat(value))
        except ValueError:
            return Label(value, value)
    zh = en = str(value)
    if element.unit is not None:
        zh = f"{zh} {element.unit.zh}"
        en = f"{en} {element.unit.en or element.unit.zh}"
    return Label(zh, en)


def masked(element: Element | None, shown: Label) -> Label:
    """A value for the public verification page: identity numbers and sensitive values partly hidden.

    Whoever holds the number sees that the certificate is genuine and whose it is, not a
    complete ID number to reuse elsewhere (a resident ID keeps its first and last four).
    """
    if element is None:
        return shown
    if element.format is Format.RESIDENT_ID or element.data_class is DataClass.SENSITIVE:
        return Label(_mask(shown.zh), _mask(shown.en))
    return shown


def _mask(text: str) -> str:
    if len(text) <= 2:
        return "*" * len(text)
    keep = 4 if len(text) >= 12 else 1
    return text[:keep] + "*" * (len(text) - 2 * keep) + text[-keep:]
