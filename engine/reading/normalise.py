"""Normal forms of what is read and what is typed, so that equal things compare equal.

OCR and applicants write the same value differently: full-width digits and letters, spaces inside
names and numbers, ``2024年3月5日`` for ``2024-03-05``, ``壹佰万元`` or ``100万元`` for a capital of
100 (万元), a lower-case ``x`` at the end of an ID number. Each function returns the normal form, or
``None`` when the text holds no value of that kind.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

_SPACES = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"[\s,.;:!?'\"()\[\]{}<>、，。；：！？“”‘’（）【】《》·\-—_/\\]+")
_DATE = re.compile(r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})")
# Characters GB 32100 leaves out of the credit code alphabet, read as the digits they resemble.
_CODE_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "Z": "2", "S": "5"})
_ID_LOOKALIKES = str.maketrans(
    {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8"}
)
_CHINESE_DIGITS = {
    **dict.fromkeys("零〇", 0),
    **dict.fromkeys("一壹", 1),
    **dict.fromkeys("二贰两", 2),
    **dict.fromkeys("三叁", 3),
    **dict.fromkeys("四肆", 4),
    **dict.fromkeys("五伍", 5),
    **dict.fromkeys("六陆", 6),
    **dict.fromkeys("七柒", 7),
    **dict.fromkeys("八捌", 8),
    **dict.fromkeys("九玖", 9),
}
_CHINESE_UNITS = {**dict.fromkeys("十拾", 10), **dict.fromkeys("百佰", 100), **dict.fromkeys("千仟", 1000)}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def half_width(text: str) -> str:
    """Full-width letters, digits and signs as their ASCII forms (NFKC), ideographic space as a space."""
    return unicodedata.normalize("NFKC", text)


def compact(text: str) -> str:
    """Half-width, without any whitespace (OCR and typing put spaces in different places)."""
    return _SPACES.sub("", half_width(text))


def name(text: str) -> str | None:
    """A person's or a company's name: half-width, no spaces, the middle dot unified."""
    value = compact(text).replace("•", "·").replace("・", "·")
    return value or None


def address(text: str) -> str | None:
    """An address for comparison: half-width, without whitespace or punctuation."""
    value = _PUNCTUATION.sub("", half_width(text))
    return value or None


def iso_date(text: str) -> str | None:
    """A date as ``YYYY-MM-DD`` from ``2024年3月5日``, ``2024.03.05`` or ``2024-3-5`` (``None``: none)."""
    found = _DATE.search(compact(text))
    if found is None:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3])).isoformat()
    except ValueError:
        return None


def credit_code(text: str) -> str | None:
    """A unified social credit code: 18 upper-case characters, OCR's look-alike letters as digits."""
    value = compact(text).upper().translate(_CODE_LOOKALIKES)
    value = re.sub(r"[^0-9A-Z]", "", value)
    return value if len(value) == 18 else None


def id_number(text: str) -> str | None:
    """A resident ID number: 17 digits and a digit or ``X`` (OCR's look-alike letters as digits)."""
    value = re.sub(r"[^0-9A-Z]", "", compact(text).upper())
    if len(value) != 18:
        return None
    value = value[:17].translate(_ID_LOOKALIKES) + value[17].replace("O", "0")
    return value if value[:17].isdigit() and (value[17].isdigit() or value[17] == "X") else None


def sex(text: str) -> str | None:
    """``male`` or ``female`` from 男 / 女 (or the English words)."""
    value = compact(text).lower()
    if value.startswith(("男", "male")):
        return "male"
    if value.startswith(("女", "female")):
        return "female"
    return None


def serial(text: str) -> str | None:
    """A certificate number: half-width, upper case, letters and digits only."""
    value = re.sub(r"[^0-9A-Z]", "", compact(text).upper())
    return value or None


def _chinese_integer(text: str) -> int | None:
    """An integer written in Chinese numerals below 10^8 (万 and 亿 are units the callers strip)."""
    total, section, digit = 0, 0, None
    for char in text:
        if char in _CHINESE_DIGITS:
            digit = _CHINESE_DIGITS[char]
        elif char in _CHINESE_UNITS:
            section += (digit if digit is not None else 1) * _CHINESE_UNITS[char]
            digit = None
        elif char == "万":
            total += (section + (digit or 0)) * 10_000
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def capital_wan(text: str) -> str | None:
    """Registered capital in 万元 as a decimal string: ``人民币100万元`` and ``壹佰万元整`` give ``100``."""
    value = compact(text).replace("人民币", "").replace("(", "").replace(")", "").replace(",", "")
    value = value.removesuffix("整").removesuffix("元")
    in_wan = value.endswith("万")
    value = value.removesuffix("万")
    found = _NUMBER.fullmatch(value)
    if found is not None:
        amount = Decimal(found[0])
    else:
        integer = _chinese_integer(value)
        if integer is None or not value:
            return None
        amount = Decimal(integer)
    if not in_wan:
        amount = amount / 10_000
    return number(str(amount))


def number(text: str) -> str | None:
    """A number as its shortest decimal string (``100.00`` and ``100`` are both ``100``)."""
    try:
        amount = Decimal(compact(text))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    normal = amount.normalize()
    return format(normal, "f")
