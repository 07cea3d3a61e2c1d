"""What kind of value each document field holds, how it is read from text and how it compares.

A value is read into its normal form (``engine.reading.normalise``); numbers with a check digit
(GB 32100 credit codes, GB 11643 resident IDs) are checked with the catalog's own validators, and a
number that fails its check is not a value at all: OCR misread it, so the field is ``unreadable``
rather than a mismatch the applicant would be asked to explain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from engine.reading import normalise
from forms.checks import check_resident_id, check_uscc


class ValueKind(StrEnum):
    """The kinds of document values, each with its reading and its comparison."""

    NAME = "name"  # exact after normalisation
    ADDRESS = "address"  # whitespace and punctuation do not count
    DATE = "date"  # by value
    CREDIT_CODE = "credit_code"  # GB 32100, by characters
    ID_NUMBER = "id_number"  # GB 11643, by characters
    CAPITAL = "capital"  # 万元, by value
    SEX = "sex"  # male | female
    SERIAL = "serial"  # letters and digits


def _credit_code(text: str) -> str | None:
    value = normalise.credit_code(text)
    return value if value is not None and check_uscc(value) is None else None


def _id_number(text: str) -> str | None:
    value = normalise.id_number(text)
    return value if value is not None and check_resident_id(value) is None else None


_READERS: dict[ValueKind, Callable[[str], str | None]] = {
    ValueKind.NAME: normalise.name,
    ValueKind.ADDRESS: lambda text: normalise.half_width(text).strip() or None,
    ValueKind.DATE: normalise.iso_date,
    ValueKind.CREDIT_CODE: _credit_code,
    ValueKind.ID_NUMBER: _id_number,
    ValueKind.CAPITAL: normalise.capital_wan,
    ValueKind.SEX: normalise.sex,
    ValueKind.SERIAL: normalise.serial,
}


def read_value(kind: ValueKind, text: str) -> str | None:
    """The normal form of a value read from a document (``None``: unreadable, or a failed check digit)."""
    return _READERS[kind](text)


def _form_text(value: object) -> str | None:
    """A form value as text (dates as ISO, numbers without exponent); ``None`` when empty."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        try:
            return format(Decimal(str(value)).normalize(), "f")
        except InvalidOperation:
            return None
    text = str(value).strip()
    return text or None


def _comparable(kind: ValueKind, text: str) -> str | None:
    """The key two values of one kind are compared by."""
    if kind is ValueKind.ADDRESS:
        return normalise.address(text)
    if kind is ValueKind.NAME:
        return normalise.name(text)
    if kind is ValueKind.DATE:
        return normalise.iso_date(text)
    if kind is ValueKind.CREDIT_CODE:
        return normalise.compact(text).upper() or None
    if kind is ValueKind.ID_NUMBER:
        return normalise.compact(text).upper() or None
    if kind is ValueKind.CAPITAL:
        return normalise.number(text) or normalise.capital_wan(text)
    if kind is ValueKind.SEX:
        return normalise.sex(text)
    return normalise.serial(text)


def form_value(value: object) -> str | None:
    """The form's value as the text shown beside the document's (``None`` when the form holds none)."""
    return _form_text(value)


def same(kind: ValueKind, form_text: str, document_value: str) -> bool:
    """Whether a form value and a document value of one kind say the same thing."""
    left = _comparable(kind, form_text)
    right = _comparable(kind, document_value)
    return left is not None and left == right
