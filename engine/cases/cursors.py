"""Keyset-page cursors of case lists and queues: opaque to the client, checked when they come back.

A cursor is the sort key of the last row of a page (JSON, base64url). It comes back from the
client, so it is input like any other: anything but the exact shape this engine made is an
``InvalidInput``, never a value handed on to a query.

May import: ``engine.errors``.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from engine.errors import InvalidInput, Problem

MAX_PAGE = 200
CURSOR_MAX_CHARS = 512
ID_MAX = 2**63 - 1  # the largest id a BIGINT (and an SQLite INTEGER) holds


def encode_cursor(values: list[Any]) -> str:
    """A cursor for the sort key ``values`` of a page's last row."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _bad_cursor() -> InvalidInput:
    return InvalidInput(
        "无效的翻页游标，请从第一页重新打开 (invalid cursor: open the first page again)",
        [Problem("无效的翻页游标", where="cursor", rule="cursor", message_en="invalid cursor")],
    )


def _cursor_value(value: Any, kind: type[int] | type[datetime]) -> int | datetime:
    """One value of a cursor as ``kind`` (``InvalidInput`` when this engine could not have made it)."""
    if kind is int:
        if type(value) is int and 1 <= value <= ID_MAX:
            return value
        raise _bad_cursor()
    if isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:  # the engine's cursors carry UTC; the store refuses naive times
                return moment.astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            raise _bad_cursor() from exc
    raise _bad_cursor()


def decode_cursor(cursor: str, *shape: type[int] | type[datetime]) -> list[Any]:
    """The values of a cursor this engine made, one per ``shape`` entry and of its type.

    Anything but the exact shape (a string where an id was, an id no column holds, too few
    or too many values) is an ``InvalidInput``.
    """
    if len(cursor) > CURSOR_MAX_CHARS:
        raise _bad_cursor()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(values, list) or len(values) != len(shape):
        raise _bad_cursor()
    return [_cursor_value(value, kind) for value, kind in zip(values, shape, strict=True)]
