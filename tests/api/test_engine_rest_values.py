"""Camunda's typed variable values: every type both ways, and every refusal in Camunda's words."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from api.camunda_values import (
    VariableRefused,
    decode_value,
    decode_variables,
    encode_value,
    encode_variables,
    format_date,
    parse_date,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ({"type": "String", "value": "张三"}, "张三"),
        ({"type": "String", "value": 42}, "42"),
        ({"type": "string", "value": "lower-case type name"}, "lower-case type name"),
        ({"type": "Boolean", "value": True}, True),
        ({"type": "Boolean", "value": "false"}, False),
        ({"type": "Short", "value": -32768}, -32768),
        ({"type": "Integer", "value": 2147483647}, 2147483647),
        ({"type": "Integer", "value": "17"}, 17),
        ({"type": "Long", "value": 2**40}, 2**40),
        ({"type": "Double", "value": 1.5}, 1.5),
        ({"type": "Double", "value": 2}, 2.0),
        ({"type": "Double", "value": "2.25"}, 2.25),
        ({"type": "Null", "value": None}, None),
        ({"type": "Null"}, None),
        ({"type": "Integer", "value": None}, None),
        ({"type": "Json", "value": '{"a": [1, 2]}'}, {"a": [1, 2]}),
        ({"type": "Json", "value": None}, None),
        (
            {
                "type": "Object",
                "value": '{"name": "李四"}',
                "valueInfo": {
                    "objectTypeName": "com.example.Person",
                    "serializationDataFormat": "application/json",
                },
            },
            {"name": "李四"},
        ),
        ({"value": {"untyped": True}}, {"untyped": True}),
        ({"type": "Date", "value": "2015-10-05T13:48:05.000+0200"}, "2015-10-05T13:48:05+02:00"),
        ({"type": "Date", "value": "2015-10-05T11:48:05.123Z"}, "2015-10-05T11:48:05.123000+00:00"),
    ],
)
def test_decode_accepts_every_supported_type(typed: dict[str, Any], expected: Any) -> None:
    decoded = decode_value("v", typed)
    assert decoded == expected
    assert type(decoded) is type(expected)


@pytest.mark.parametrize(
    ("typed", "kind", "message"),
    [
        ({"type": "Integer", "value": 2**31}, "InvalidRequestException", "to java type java.lang.Integer"),
        ({"type": "Integer", "value": "x"}, "InvalidRequestException", "Cannot convert value 'x' of type"),
        ({"type": "Integer", "value": 1.5}, "InvalidRequestException", "java.lang.Integer"),
        ({"type": "Integer", "value": True}, "InvalidRequestException", "java.lang.Integer"),
        ({"type": "Short", "value": 40000}, "InvalidRequestException", "java.lang.Short"),
        ({"type": "Long", "value": 2**63}, "InvalidRequestException", "java.lang.Long"),
        ({"type": "Double", "value": "abc"}, "InvalidRequestException", "java.lang.Double"),
        ({"type": "Double", "value": "NaN"}, "InvalidRequestException", "java.lang.Double"),
        ({"type": "Double", "value": False}, "InvalidRequestException", "java.lang.Double"),
        ({"type": "Boolean", "value": "yes"}, "InvalidRequestException", "java.lang.Boolean"),
        ({"type": "Boolean", "value": 1}, "InvalidRequestException", "java.lang.Boolean"),
        ({"type": "String", "value": {"a": 1}}, "InvalidRequestException", "java.lang.String"),
        ({"type": "Date", "value": "2015-10-05"}, "InvalidRequestException", "java.util.Date"),
        ({"type": "Date", "value": "2015-10-05T13:48:05.000"}, "InvalidRequestException", "java.util.Date"),
        ({"type": "Date", "value": 1444045685000}, "InvalidRequestException", "java.util.Date"),
        ({"type": "Json", "value": {"a": 1}}, "InvalidRequestException", "Must provide 'null' or String"),
        ({"type": "Json", "value": "{not json"}, "ProcessEngineException", "not valid JSON text"),
        (
            {"type": "Object", "value": "rO0ABXQ=", "valueInfo": {"objectTypeName": "java.lang.String"}},
            "ProcessEngineException",
            "serialization data format 'None' is not supported",
        ),
        (
            {
                "type": "Object",
                "value": "rO0ABXQ=",
                "valueInfo": {"serializationDataFormat": "application/x-java-serialized-object"},
            },
            "ProcessEngineException",
            "'application/x-java-serialized-object' is not supported",
        ),
        ({"type": "Bytes", "value": "AAEC"}, "RestException", "value type 'Bytes' is not supported"),
        (
            {"type": "File", "value": "AAEC", "valueInfo": {"filename": "a.pdf"}},
            "RestException",
            "value type 'File' is not supported",
        ),
        ({"type": "Xml", "value": "<a/>"}, "RestException", "value type 'Xml' is not supported"),
        ({"type": "Frobnicate", "value": 1}, "RestException", "Unsupported value type 'Frobnicate'"),
        ({"type": "", "value": 1}, "RestException", "Unsupported value type ''"),
        ({"type": 7, "value": 1}, "RestException", "Unsupported value type '7'"),
    ],
)
def test_decode_refuses_in_camunda_words(typed: dict[str, Any], kind: str, message: str) -> None:
    with pytest.raises(VariableRefused) as refused:
        decode_value("v", typed)
    assert refused.value.kind == kind
    assert message in refused.value.message


def test_decode_variables_maps_names_and_refuses_a_bare_value() -> None:
    assert decode_variables(None) == {}
    assert decode_variables({"a": {"type": "Integer", "value": 1}, "b": {"value": "x"}}) == {"a": 1, "b": "x"}
    with pytest.raises(VariableRefused, match="Cannot set variable 'a'"):
        decode_variables({"a": 5})


@pytest.mark.parametrize(
    ("value", "typed"),
    [
        (None, {"type": "Null", "value": None, "valueInfo": {}}),
        (True, {"type": "Boolean", "value": True, "valueInfo": {}}),
        (7, {"type": "Integer", "value": 7, "valueInfo": {}}),
        (-(2**31), {"type": "Integer", "value": -(2**31), "valueInfo": {}}),
        (2**31, {"type": "Long", "value": 2**31, "valueInfo": {}}),
        (2**64, {"type": "String", "value": str(2**64), "valueInfo": {}}),
        (0.5, {"type": "Double", "value": 0.5, "valueInfo": {}}),
        ("税务登记", {"type": "String", "value": "税务登记", "valueInfo": {}}),
        ({"a": [1, "二"]}, {"type": "Json", "value": '{"a": [1, "二"]}', "valueInfo": {}}),
        ([1, 2], {"type": "Json", "value": "[1, 2]", "valueInfo": {}}),
    ],
)
def test_encode_picks_the_type_a_value_reads_back_as(value: Any, typed: dict[str, Any]) -> None:
    assert encode_value(value) == typed
    assert decode_value("v", typed) == value or typed["type"] == "String"


def test_round_trip_of_case_data() -> None:
    data = {"name": "王五", "age": 30, "big": 2**40, "ratio": 0.25, "ok": False, "none": None, "tags": ["a"]}
    encoded = encode_variables(data)
    assert json.loads(json.dumps(encoded)) == encoded  # plain JSON on the wire
    assert decode_variables(encoded) == data


def test_camunda_date_format_both_ways() -> None:
    moment = datetime(2015, 10, 5, 13, 48, 5, 7000, tzinfo=timezone(timedelta(hours=2)))
    assert format_date(moment) == "2015-10-05T13:48:05.007+0200"
    assert format_date(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000+0000"
    assert format_date(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000+0000"
    assert parse_date("2015-10-05T13:48:05.007+0200") == moment
    assert parse_date("2015-10-05T13:48:05.007+02:00") == moment
    with pytest.raises(ValueError):
        parse_date("2015-10-05 13:48:05")
