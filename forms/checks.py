"""The catalog's own validators: check digits and shapes JSON Schema cannot express.

Each check returns ``None`` when the value passes, or a ``Failure`` naming the rule and
saying what is wrong in Chinese and English. The generators (``resident_id_check_char``,
``uscc_check_char``) are public because tests and demo data build valid identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum


class Format(StrEnum):
    """String formats the catalog knows."""

    RESIDENT_ID = "resident-id"
    USCC = "uscc"
    MOBILE = "mobile"
    DIVISION_CODE = "division-code"
    PERSON_NAME = "person-name"
    EMAIL = "email"


@dataclass(frozen=True)
class Failure:
    """Why a value fails a check."""

    rule: str
    message: str
    message_en: str


# Regular expressions for the shape of each format, handed to JSON Schema (``pattern``) and
# to the browser, and used by the checks below; the check digits themselves are checked here only.
SHAPE_PATTERNS: dict[Format, str] = {
    Format.RESIDENT_ID: "^[0-9]{17}[0-9X]$",
    Format.USCC: "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    Format.MOBILE: "^1[3-9][0-9]{9}$",
    Format.DIVISION_CODE: "^[0-9]{6}$",
}

# GB 11643-1999: weights of the 17 body digits, and the check character for sum mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(SHAPE_PATTERNS[Format.RESIDENT_ID])

# GB 32100-2015: 31 characters (no I, O, Z, S, V) and the weights of the 17 body characters.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(SHAPE_PATTERNS[Format.USCC])

# GB/T 2260 province-level prefixes (the first two digits of a division code).
PROVINCE_PREFIXES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82",
    }
)  # fmt: skip
_DIVISION_SHAPE = re.compile(SHAPE_PATTERNS[Format.DIVISION_CODE])
_MOBILE_SHAPE = re.compile(SHAPE_PATTERNS[Format.MOBILE])
# Chinese names (with the middle dot of minority and transliterated names), or Latin names.
_CHINESE_NAME = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff][\u3400-\u4dbf\u4e00-\u9fff·]{0,28}[\u3400-\u4dbf\u4e00-\u9fff]"
)
_LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z .'\-]{0,58}[A-Za-z.]")
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)


def resident_id_check_char(body: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID."""
    if len(body) != 17 or not body.isascii() or not body.isdigit():
        raise ValueError("a resident ID body is 17 digits")
    total = sum(int(ch) * weight for ch, weight in zip(body, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def uscc_check_char(body: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    if len(body) != 17 or any(ch not in USCC_ALPHABET for ch in body):
        raise ValueError("a credit code body is 17 characters of the GB 32100 alphabet")
    total = sum(USCC_ALPHABET.index(ch) * weight for ch, weight in zip(body, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


# Government service dates are China Standard Time (UTC+8, no daylight saving).
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_today(now: datetime | None = None) -> date:
    """The date in China at ``now`` (default: this moment).

    Applicants' dates (births, the birth date inside an ID number) are Chinese dates; a
    server on UTC is still on the day before for the first eight hours of every Chinese day.
    """
    return (now or datetime.now(UTC)).astimezone(CHINA_TZ).date()


def check_resident_id(value: str, today: date | None = None) -> Failure | None:
    """GB 11643: 18 characters, a known province, a real birth date not in the future, the check digit."""
    if not _ID_SHAPE.fullmatch(value):
        return Failure(
            "format",
            "身份证号应为18位：17位数字加1位校验码(数字或X)",
            "an ID number is 17 digits and a check digit (0-9 or X)",
        )
    if value[:2] not in PROVINCE_PREFIXES:
        return Failure(
            "division",
            "身份证号前两位不是有效的省级行政区划代码",
            "the ID number does not start with a province code",
        )
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return Failure(
            "birth_date", "身份证号中的出生日期不存在", "the birth date inside the ID number does not exist"
        )
    if born.year < 1900 or born > (today or china_today()):
        return Failure(
            "birth_date", "身份证号中的出生日期不合理", "the birth date inside the ID number is implausible"
        )
    if resident_id_check_char(value[:17]) != value[17]:
        return Failure(
            "check_digit",
            "身份证号校验码错误，请核对号码",
            "the ID number's check digit is wrong; please check it",
        )
    return None


def check_uscc(value: str) -> Failure | None:
    """GB 32100: 18 characters of the code alphabet, a division code inside, the check character."""
    if not _USCC_SHAPE.fullmatch(value):
        return Failure(
            "format",
            "统一社会信用代码应为18位数字或大写字母(不含I、O、Z、S、V)",
            "a credit code is 18 digits or capital letters (without I, O, Z, S, V)",
        )
    if uscc_check_char(value[:17]) != value[17]:
        return Failure(
            "check_digit",
            "统一社会信用代码校验码错误，请核对代码",
            "the credit code's check character is wrong; please check it",
        )
    return None


def check_mobile(value: str) -> Failure | None:
    """Mainland mobile numbers: 11 digits starting 13-19."""
    if not _MOBILE_SHAPE.fullmatch(value):
        return Failure(
            "format", "手机号码应为以1开头的11位数字", "a mobile number is 11 digits starting with 1"
        )
    return None


def check_division_code(value: str) -> Failure | None:
    """GB/T 2260: six digits whose first two name a province-level division."""
    if not _DIVISION_SHAPE.fullmatch(value):
        return Failure("format", "行政区划代码应为6位数字", "a division code is 6 digits")
    if value[:2] not in PROVINCE_PREFIXES:
        return Failure(
            "division",
            "行政区划代码的前两位不是有效的省级代码",
            "the division code does not start with a province code",
        )
    return None


def check_person_name(value: str) -> Failure | None:
    """A person's name as written on an ID card: Chinese characters (· allowed) or Latin letters."""
    if _CHINESE_NAME.fullmatch(value) or _LATIN_NAME.fullmatch(value):
        return None
    return Failure(
        "format",
        "姓名应为2至30个汉字(可含·)或拉丁字母",
        "a name is 2 to 30 Chinese characters (· allowed) or Latin letters",
    )


def check_email(value: str) -> Failure | None:
    """An address of the usual user@domain.tld shape."""
    if not _EMAIL.fullmatch(value):
        return Failure("format", "电子邮箱格式不正确", "not a valid email address")
    return None


_CHECKS: dict[Format, Callable[[str], Failure | None]] = {
    Format.RESIDENT_ID: check_resident_id,
    Format.USCC: check_uscc,
    Format.MOBILE: check_mobile,
    Format.DIVISION_CODE: check_division_code,
    Format.PERSON_NAME: check_person_name,
    Format.EMAIL: check_email,
}


def check_format(fmt: Format, value: str) -> Failure | None:
    """Run the validator of a format on a string value."""
    return _CHECKS[fmt](value)
