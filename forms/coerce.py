"""From an HTML form post (all strings) to typed answers the merged form validates.

A value that cannot be read as its type is kept as given, so validation reports it in the
catalog's words instead of it silently disappearing. Empty inputs count as unanswered, and
answers to fields the other answers do not ask (hidden conditional fields) are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from forms.catalog import ElementType
from forms.checks import Format
from forms.merge import MergedForm

_TRUE = frozenset({"true", "1", "yes", "on", "是"})
_FALSE = frozenset({"false", "0", "no", "off", "否"})
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_UPPER_FORMATS = frozenset({Format.RESIDENT_ID, Format.USCC})


def coerce_values(form: MergedForm, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed answers for the form's fields from posted strings (other posted keys are ignored)."""
    values: dict[str, Any] = {}
    for name in form.fields:
        given = raw.get(name)
        if isinstance(given, list | tuple):
            given = given[-1] if given else None
        if given is None:
            continue
        if not isinstance(given, str):
            values[name] = given
            continue
        text = given.strip()
        if text:
            values[name] = coerce_value(form, name, text)
    return form.relevant_data(values)


def coerce_value(form: MergedForm, name: str, text: str) -> Any:
    """One posted (stripped, non-empty) string as its field's type, or as given when it does not read.

    Numbers are plain decimal digits only (no ``nan``, ``inf``, ``1_000`` or exponents,
    which Python's ``int``/``float`` would take): the applicant's form and the clerk's
    decision fields read the same way.
    """
    element = form.element(name)
    if element.type is ElementType.BOOLEAN:
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else text
    if element.type is ElementType.INTEGER and _INTEGER.fullmatch(text):
        return int(text)
    if element.type is ElementType.NUMBER and _NUMBER.fullmatch(text):
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    if element.format in _UPPER_FORMATS:
        return text.upper()
    return text
