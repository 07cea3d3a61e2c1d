"""Camunda 7's typed variable values, in and out of onething's case data.

A department system talks to ``/engine-rest`` in Camunda's form: every variable is
``{"value": ..., "type": "String", "valueInfo": {...}}``. Case data in onething is plain
JSON, so decoding turns each typed value into a JSON value and encoding picks the Camunda
type a JSON value reads back as. What does not fit JSON case data is refused with a 400 in
Camunda's own words (``Cannot convert value ...``, ``Unsupported value type ...``), never
stored half-understood:

* ``String``, ``Boolean``, ``Short``, ``Integer``, ``Long``, ``Double`` and ``Null`` as
  Camunda converts them (a numeric string is a number, as Jackson reads it; a number out of
  the type's range is refused).
* ``Date`` in Camunda's format ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (``2015-10-05T13:48:05.000+0200``),
  stored as ISO 8601 text and sent back as a ``String`` (case data has no date type).
* ``Json``, and ``Object`` serialised as ``application/json``: the value is JSON *text*,
  stored parsed.
* A value without ``type`` is untyped: stored as sent, as Camunda does.
* ``Bytes``, ``File``, ``Xml`` and Java-serialised ``Object`` values are refused: documents
  travel as materials, not as variables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# Camunda's REST date format (SimpleDateFormat "yyyy-MM-dd'T'HH:mm:ss.SSSZ").
CAMUNDA_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
JSON_FORMAT = "application/json"
INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
SHORT_RANGE = (-(2**15), 2**15 - 1)
# The Java class each primitive type converts to, as Camunda names it in its refusals.
JAVA_TYPES = {
    "String": "java.lang.String",
    "Boolean": "java.lang.Boolean",
    "Short": "java.lang.Short",
    "Integer": "java.lang.Integer",
    "Long": "java.lang.Long",
    "Double": "java.lang.Double",
    "Date": "java.util.Date",
}
REFUSED_TYPES = ("Bytes", "File", "Xml")

Json = Any  # a value JSON can hold: None, bool, int, float, str, list, dict


class VariableRefused(Exception):
    """A typed value onething cannot take; ``kind`` is the Camunda exception class it answers as."""

    def __init__(self, message: str, kind: str = "InvalidRequestException") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def format_date(moment: datetime) -> str:
    """A moment in Camunda's date format: milliseconds and a ``+hhmm`` offset (UTC when naive)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    offset = moment.strftime("%z") or "+0000"
    return text + offset


def parse_date(text: str) -> datetime:
    """A date in Camunda's format (``+hhmm``, ``+hh:mm`` or ``Z``); ValueError otherwise."""
    moment = datetime.strptime(text, CAMUNDA_DATE_FORMAT)
    if moment.tzinfo is None:  # pragma: no cover - %z always sets one or fails
        raise ValueError("no offset")
    return moment


def _unconvertible(value: object, type_name: str) -> VariableRefused:
    shown = "null" if value is None else value
    return VariableRefused(
        f"Cannot convert value '{shown}' of type '{type_name}' to java type {JAVA_TYPES[type_name]}"
    )


def _integer(value: object, type_name: str, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool):
        raise _unconvertible(value, type_name)
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip(), 10)
        except ValueError as exc:
            raise _unconvertible(value, type_name) from exc
    else:
        raise _unconvertible(value, type_name)
    if not bounds[0] <= number <= bounds[1]:
        raise _unconvertible(value, type_name)
    return number


def _double(value: object) -> float:
    if isinstance(value, bool):
        raise _unconvertible(value, "Double")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError as exc:
            raise _unconvertible(value, "Double") from exc
    else:
        raise _unconvertible(value, "Double")
    if not math.isfinite(number):
        raise _unconvertible(value, "Double")  # JSON case data has no NaN or infinity
    return number


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise _unconvertible(value, "Boolean")


def _serialized(name: str, type_name: str, value: object, info: Mapping[str, Any]) -> Json:
    """A Json or Object value: JSON text, parsed (``None`` stays ``None``)."""
    if value is not None and not isinstance(value, str):
        raise VariableRefused(
            f"Must provide 'null' or String value for value of SerializableValue type '{type_name}'."
        )
    if type_name == "Object":
        data_format = info.get("serializationDataFormat")
        if data_format != JSON_FORMAT:
            raise VariableRefused(
                f"Cannot set variable '{name}': serialization data format '{data_format}' is not "
                f"supported, only '{JSON_FORMAT}' (Java serialisation is refused)",
                kind="ProcessEngineException",
            )
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise VariableRefused(
            f"Cannot set variable '{name}': the {type_name} value is not valid JSON text",
            kind="ProcessEngineException",
        ) from exc


def decode_value(name: str, typed: Mapping[str, Any]) -> Json:
    """One typed value as a JSON value for the case data; VariableRefused when it cannot be."""
    type_name = typed.get("type")
    value = typed.get("value")
    raw_info = typed.get("valueInfo")
    info: Mapping[str, Any] = raw_info if isinstance(raw_info, Mapping) else {}
    if type_name is None:
        return value  # untyped: Camunda keeps the JSON value as it came
    if not isinstance(type_name, str) or not type_name:
        raise VariableRefused(f"Unsupported value type '{type_name}'", kind="RestException")
    # Camunda resolves the name with its first letter lower-cased: "integer" is "Integer".
    type_name = type_name[0].upper() + type_name[1:]
    if type_name in REFUSED_TYPES:
        raise VariableRefused(
            f"Cannot set variable '{name}': value type '{type_name}' is not supported; "
            "documents travel as materials (材料), not as variables",
            kind="RestException",
        )
    if type_name == "Null":
        return None
    if type_name in ("Json", "Object"):
        return _serialized(name, type_name, value, info)
    if type_name not in JAVA_TYPES:
        raise VariableRefused(f"Unsupported value type '{typed.get('type')}'", kind="RestException")
    if value is None:
        return None  # Camunda: a typed null of any primitive type
    if type_name == "String":
        if isinstance(value, dict | list):
            raise _unconvertible(value, type_name)
        return value if isinstance(value, str) else json.dumps(value)
    if type_name == "Boolean":
        return _boolean(value)
    if type_name == "Short":
        return _integer(value, type_name, SHORT_RANGE)
    if type_name == "Integer":
        return _integer(value, type_name, INT_RANGE)
    if type_name == "Long":
        return _integer(value, type_name, LONG_RANGE)
    if type_name == "Double":
        return _double(value)
    # Date
    if not isinstance(value, str):
        raise _unconvertible(value, type_name)
    try:
        return parse_date(value).isoformat()
    except ValueError as exc:
        raise _unconvertible(value, type_name) from exc


def decode_variables(variables: Mapping[str, Any] | None) -> dict[str, Json]:
    """A map of typed values (``None`` is none) as case data; the first refusal is raised."""
    decoded: dict[str, Json] = {}
    for name, typed in (variables or {}).items():
        if not isinstance(typed, Mapping):
            raise VariableRefused(f"Cannot set variable '{name}': a typed value is an object")
        decoded[name] = decode_value(name, typed)
    return decoded


def encode_value(value: Json) -> dict[str, Any]:
    """A case data value as Camunda's typed value: the type it reads back as."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        if INT_RANGE[0] <= value <= INT_RANGE[1]:
            return {"type": "Integer", "value": value, "valueInfo": {}}
        if LONG_RANGE[0] <= value <= LONG_RANGE[1]:
            return {"type": "Long", "value": value, "valueInfo": {}}
        return {"type": "String", "value": str(value), "valueInfo": {}}  # beyond Java's long
    if isinstance(value, float):
        return {"type": "Double", "value": value, "valueInfo": {}}
    if isinstance(value, str):
        return {"type": "String", "value": value, "valueInfo": {}}
    return {"type": "Json", "value": json.dumps(value, ensure_ascii=False), "valueInfo": {}}


def encode_variables(data: Mapping[str, Json]) -> dict[str, dict[str, Any]]:
    """Case data as a map of typed values (what a fetched task's ``variables`` carries)."""
    return {name: encode_value(value) for name, value in data.items()}
