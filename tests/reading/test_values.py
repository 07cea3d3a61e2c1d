"""Value kinds: check digits make a misread number unreadable; comparison by kind; findings."""

from __future__ import annotations

from datetime import date

from engine.reading.review import compare
from engine.reading.values import ValueKind, form_value, read_value, same
from forms.catalog import MaterialReading
from forms.checks import resident_id_check_char, uscc_check_char

USCC = "91310115MA1K3YXB5" + uscc_check_char("91310115MA1K3YXB5")
RESIDENT_ID = "11010519491231002" + resident_id_check_char("11010519491231002")


def wrong_check(value: str, alphabet: str) -> str:
    return value[:17] + next(ch for ch in alphabet if ch != value[17])


def test_a_number_with_its_check_digit_is_read() -> None:
    assert read_value(ValueKind.CREDIT_CODE, USCC.lower()) == USCC
    assert read_value(ValueKind.ID_NUMBER, RESIDENT_ID) == RESIDENT_ID


def test_a_number_failing_its_check_digit_is_not_read() -> None:
    assert read_value(ValueKind.CREDIT_CODE, wrong_check(USCC, "0123456789")) is None
    assert read_value(ValueKind.ID_NUMBER, wrong_check(RESIDENT_ID, "0123456789X")) is None
    assert read_value(ValueKind.ID_NUMBER, "99" + RESIDENT_ID[2:]) is None  # no such province


def test_form_values_of_every_type_become_text() -> None:
    assert form_value(100) == "100" and form_value(100.0) == "100" and form_value(12.50) == "12.5"
    assert form_value(date(2024, 3, 5)) == "2024-03-05"
    assert form_value(" ") is None and form_value(None) is None and form_value(True) is None


def test_values_compare_by_kind() -> None:
    assert same(ValueKind.NAME, "张 三", "张三") and not same(ValueKind.NAME, "张三", "张山")
    assert same(ValueKind.ADDRESS, "上海市浦东新区张江路1号", "上海市 浦东新区张江路1号。")
    assert not same(ValueKind.ADDRESS, "上海市浦东新区张江路1号", "上海市浦东新区张江路2号")
    assert same(ValueKind.DATE, "2024-03-05", "2024-03-05") and not same(
        ValueKind.DATE, "2024-03-05", "2024-03-06"
    )
    assert same(ValueKind.CAPITAL, "100", "100") and same(ValueKind.CAPITAL, "100.0", "100")
    assert same(ValueKind.ID_NUMBER, RESIDENT_ID.lower(), RESIDENT_ID)
    assert same(ValueKind.SEX, "male", "male") and not same(ValueKind.SEX, "female", "male")
    assert same(ValueKind.SERIAL, "p440012345", "P440012345")


def test_findings_say_match_mismatch_or_unreadable_per_form_element() -> None:
    reads = MaterialReading(
        "resident-id-card", {"name": "applicant_name", "id_number": "applicant_id", "birth_date": "born"}
    )
    read = {"name": "张三", "birth_date": "1949-12-31"}  # the number failed its check digit: not read
    form = {"applicant_name": "李四", "applicant_id": RESIDENT_ID, "born": date(1949, 12, 31)}
    findings = compare(reads, read, form)
    assert [(f.field, f.form_value, f.document_value, f.verdict) for f in findings] == [
        ("applicant_name", "李四", "张三", "mismatch"),
        ("applicant_id", RESIDENT_ID, None, "unreadable"),
        ("born", "1949-12-31", "1949-12-31", "match"),
    ]
