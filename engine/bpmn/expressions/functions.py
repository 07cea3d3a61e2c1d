"""The functions and methods an expression may call — the whole list, nothing from Python.

Names in call position resolve only here, never to case data or to Python's builtins, so a
case field called ``date`` or ``type`` is still an ordinary value. Every function takes the
run (budget, clock) and plain data values, iterates through the run's step-counted
iterator and vets sizes before building a result.

Dates: ``today()`` is the injected date; ``date(...)``, ``days_between(a, b)`` (b - a in
days), ``add_days(d, n)``, ``year/month/day(d)`` and ``age(birth_or_resident_id, on=None)``
accept ``date`` values and ISO texts (``"2024-01-31"``); ``age`` also reads the birth date
out of an 18-digit (GB 11643-1999, check character verified) or 15-digit resident ID.

May import: ``expressions.operations``, ``expressions.run``, ``expressions.sizes``, ``forms.checks``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.bpmn.expressions.operations import binary, compare, to_str, truth, within_reach
from engine.bpmn.expressions.run import NUMBER_TYPES, Run, failed, type_name
from engine.bpmn.expressions.sizes import charge, stored_size
from forms.checks import SHAPE_PATTERNS, Format, resident_id_check_char

_MAX_DATE_TEXT = 40
_RESIDENT_ID_SHAPE = re.compile(SHAPE_PATTERNS[Format.RESIDENT_ID])

Impl = Callable[..., Any]


@dataclass(frozen=True)
class FunctionSpec:
    """A callable name: its implementation, how many positional arguments, which keywords."""

    impl: Impl
    min_args: int
    max_args: int
    keywords: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MethodSpec:
    """A method on one receiver type; ``mutates`` methods are for scripts only.

    A method that changes its receiver calls ``run.forget_sizes`` after the change: sizes the
    run remembers (see ``sizes``) may include the receiver.
    """

    receiver: type | tuple[type, ...]
    impl: Impl
    min_args: int
    max_args: int
    mutates: bool = False


# --- helpers -----------------------------------------------------------------------------


def _need_number(name: str, value: Any) -> Any:
    if not isinstance(value, NUMBER_TYPES):
        raise failed(
            f"{name}() 需要数字, 得到 {type_name(value)}", f"{name}() needs a number, got {type_name(value)}"
        )
    return value


def _need_int(name: str, value: Any) -> int:
    if not isinstance(value, int):
        raise failed(
            f"{name}() 需要整数, 得到 {type_name(value)}",
            f"{name}() needs an integer, got {type_name(value)}",
        )
    return value


def _need_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise failed(
            f"{name}() 需要字符串, 得到 {type_name(value)}",
            f"{name}() needs a string, got {type_name(value)}",
        )
    return value


def to_date(name: str, value: Any) -> date:
    """A ``date`` from a date, a datetime or an ISO text; anything else fails clearly."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) <= _MAX_DATE_TEXT:
        text = value.strip()
        try:
            if len(text) > 10:
                return datetime.fromisoformat(text).date()
            return date.fromisoformat(text)
        except ValueError:
            pass
    shown = repr(value)[:_MAX_DATE_TEXT] if isinstance(value, str) else type_name(value)
    raise failed(
        f"{name}() 需要日期 (date 或 'YYYY-MM-DD'), 得到 {shown}",
        f"{name}() needs a date (a date value or 'YYYY-MM-DD'), got {shown}",
    )


def birth_date_of_resident_id(text: str) -> date | None:
    """The birth date in a resident ID (18 digits with a verified check character, or 15 digits)."""
    code = text.strip().upper()
    if _RESIDENT_ID_SHAPE.fullmatch(code):
        if resident_id_check_char(code[:17]) != code[17]:
            raise failed("公民身份号码校验位错误", "resident ID check character does not match")
        digits = code[6:14]
    elif len(code) == 15 and code.isdigit():
        digits = "19" + code[6:12]
    else:
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise failed(
            "公民身份号码中的出生日期无效", "the birth date inside the resident ID is not a date"
        ) from None


# --- general functions -------------------------------------------------------------------


def _len(run: Run, value: Any) -> int:
    if not isinstance(value, str | list | tuple | dict | set | frozenset | range):
        raise failed(f"len() 不支持 {type_name(value)}", f"len() of a {type_name(value)} is not defined")
    return len(value)


def _extreme(name: str, pick_greater: bool) -> Impl:
    def impl(run: Run, *args: Any, default: Any = ...) -> Any:
        items = run.materialize(args[0]) if len(args) == 1 else list(args)
        if not items:
            if default is not ...:
                return default
            raise failed(f"{name}() 的参数为空", f"{name}() of an empty sequence")
        best = items[0]
        for item in items[1:]:
            run.tick()
            if compare(run, ast.Gt() if pick_greater else ast.Lt(), item, best):
                best = item
        return best

    return impl


def _sum(run: Run, values: Any, start: Any = 0) -> Any:
    if isinstance(start, str):
        raise failed("sum() 不能连接字符串, 请用 ''.join(...)", "sum() can't sum strings; use ''.join(...)")
    total = start
    add = ast.Add()
    for value in run.iterate(values):
        total = binary(run, add, total, value)
    return total


def _any(run: Run, values: Any) -> bool:
    return any(truth(value) for value in run.iterate(values))


def _all(run: Run, values: Any) -> bool:
    return all(truth(value) for value in run.iterate(values))


def _round(run: Run, value: Any, ndigits: Any = None) -> Any:
    _need_number("round", value)
    if ndigits is None:
        return round(value)
    return run.check_number(round(value, _need_int("round", ndigits)))


def _abs(run: Run, value: Any) -> Any:
    return abs(_need_number("abs", value))


def _int(run: Run, value: Any = 0, base: Any = None) -> int:
    if base is not None:
        return run.check_number(int(_need_str("int", value), _need_int("int", base)))
    if not isinstance(value, str | int | float | Decimal):
        raise failed(f"int() 不支持 {type_name(value)}", f"int() of a {type_name(value)} is not supported")
    return run.check_number(int(value))


def _float(run: Run, value: Any = 0.0) -> float:
    if not isinstance(value, str | int | float | Decimal):
        raise failed(
            f"float() 不支持 {type_name(value)}", f"float() of a {type_name(value)} is not supported"
        )
    return float(value)


def _str(run: Run, value: Any = "") -> str:
    return to_str(run, value)


def _bool(run: Run, value: Any = False) -> bool:
    return truth(value)


def _sorted(run: Run, values: Any, reverse: Any = False) -> list[Any]:
    items = charge(list(run.iterate(values)), run)
    run.tick(len(items))
    return sorted(items, reverse=truth(reverse))


def _range(run: Run, *args: Any) -> range:
    return range(*(_need_int("range", arg) for arg in args))


# Collections built from elements are charged at their stored size (see ``sizes``).


def _list(run: Run, values: Any = ()) -> list[Any]:
    return charge(list(run.iterate(values)), run)


def _tuple(run: Run, values: Any = ()) -> tuple[Any, ...]:
    return charge(tuple(run.iterate(values)), run)


def _set(run: Run, values: Any = ()) -> set[Any]:
    return charge(set(run.iterate(values)), run)


def _dict(run: Run, values: Any = ()) -> dict[Any, Any]:
    if isinstance(values, dict):
        return charge(dict(values), run)
    result: dict[Any, Any] = {}
    for pair in run.iterate(values):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise failed("dict() 需要由 (键, 值) 组成的序列", "dict() needs a sequence of (key, value) pairs")
        result[pair[0]] = pair[1]
    return charge(result, run)


# --- dates -------------------------------------------------------------------------------


def _today(run: Run) -> date:
    return run.today()


def _date(run: Run, *args: Any) -> date:
    if len(args) == 3:
        year, month, day = (_need_int("date", arg) for arg in args)
        return date(year, month, day)
    if len(args) == 1:
        return to_date("date", args[0])
    raise failed("date() 需要一个日期文本或 年, 月, 日", "date() takes one date text or year, month, day")


def _days_between(run: Run, start: Any, end: Any) -> int:
    return (to_date("days_between", end) - to_date("days_between", start)).days


def _add_days(run: Run, day: Any, count: Any) -> date:
    return to_date("add_days", day) + timedelta(days=_need_int("add_days", count))


def _year(run: Run, day: Any) -> int:
    return to_date("year", day).year


def _month(run: Run, day: Any) -> int:
    return to_date("month", day).month


def _day(run: Run, day: Any) -> int:
    return to_date("day", day).day


def _age(run: Run, who: Any, on: Any = None) -> int:
    born = birth_date_of_resident_id(who) if isinstance(who, str) else None
    if born is None:
        born = to_date("age", who)
    when = run.today() if on is None else to_date("age", on)
    if born > when:
        raise failed(
            f"出生日期 {born.isoformat()} 晚于计算日期 {when.isoformat()}",
            f"birth date {born.isoformat()} is after {when.isoformat()}",
        )
    return when.year - born.year - ((when.month, when.day) < (born.month, born.day))


FUNCTIONS: Mapping[str, FunctionSpec] = {
    "len": FunctionSpec(_len, 1, 1),
    "min": FunctionSpec(_extreme("min", pick_greater=False), 1, 50, frozenset({"default"})),
    "max": FunctionSpec(_extreme("max", pick_greater=True), 1, 50, frozenset({"default"})),
    "sum": FunctionSpec(_sum, 1, 2, frozenset({"start"})),
    "any": FunctionSpec(_any, 1, 1),
    "all": FunctionSpec(_all, 1, 1),
    "round": FunctionSpec(_round, 1, 2, frozenset({"ndigits"})),
    "abs": FunctionSpec(_abs, 1, 1),
    "int": FunctionSpec(_int, 0, 2, frozenset({"base"})),
    "float": FunctionSpec(_float, 0, 1),
    "str": FunctionSpec(_str, 0, 1),
    "bool": FunctionSpec(_bool, 0, 1),
    "sorted": FunctionSpec(_sorted, 1, 1, frozenset({"reverse"})),
    "range": FunctionSpec(_range, 1, 3),
    "list": FunctionSpec(_list, 0, 1),
    "tuple": FunctionSpec(_tuple, 0, 1),
    "set": FunctionSpec(_set, 0, 1),
    "dict": FunctionSpec(_dict, 0, 1),
    "today": FunctionSpec(_today, 0, 0),
    "date": FunctionSpec(_date, 1, 3),
    "days_between": FunctionSpec(_days_between, 2, 2),
    "add_days": FunctionSpec(_add_days, 2, 2),
    "age": FunctionSpec(_age, 1, 2, frozenset({"on"})),
    "year": FunctionSpec(_year, 1, 1),
    "month": FunctionSpec(_month, 1, 1),
    "day": FunctionSpec(_day, 1, 1),
}


# --- methods -----------------------------------------------------------------------------


def _strip_kind(kind: str) -> Impl:
    def impl(run: Run, text: str, chars: Any = None) -> str:
        if chars is not None:
            _need_str(kind, chars)
        if kind == "strip":
            return text.strip(chars)
        return text.lstrip(chars) if kind == "lstrip" else text.rstrip(chars)

    return impl


def _affix(kind: str) -> Impl:
    def impl(run: Run, text: str, affix: Any) -> bool:
        if not (
            isinstance(affix, str) or (isinstance(affix, tuple) and all(isinstance(a, str) for a in affix))
        ):
            raise failed(f"{kind}() 需要字符串或字符串元组", f"{kind}() needs a string or a tuple of strings")
        return text.startswith(affix) if kind == "startswith" else text.endswith(affix)

    return impl


def _lower(run: Run, text: str) -> str:
    result = text.lower()
    run.produce(len(result))
    return result


def _upper(run: Run, text: str) -> str:
    result = text.upper()
    run.produce(len(result))
    return result


def _split(run: Run, text: str, sep: Any = None, maxsplit: Any = -1) -> list[str]:
    if sep is not None:
        _need_str("split", sep)
    parts = text.split(sep, _need_int("split", maxsplit))
    run.produce(len(parts))
    return parts


def _join(run: Run, separator: str, values: Any) -> str:
    parts = run.materialize(values)
    if not all(isinstance(part, str) for part in parts):
        raise failed("join() 只能连接字符串", "join() joins strings only")
    run.produce(sum(len(part) for part in parts) + len(separator) * max(len(parts) - 1, 0))
    return separator.join(parts)


def _count(run: Run, receiver: Any, item: Any) -> int:
    if isinstance(receiver, str):
        return receiver.count(_need_str("count", item))
    within_reach(run, ".count()", receiver)
    return int(receiver.count(item))


def _get(run: Run, mapping: dict[Any, Any], key: Any, default: Any = None) -> Any:
    return mapping.get(key, default)


def _keys(run: Run, mapping: dict[Any, Any]) -> list[Any]:
    run.produce(len(mapping))
    return list(mapping)


def _values(run: Run, mapping: dict[Any, Any]) -> list[Any]:
    run.produce(len(mapping))
    return list(mapping.values())


def _items(run: Run, mapping: dict[Any, Any]) -> list[tuple[Any, Any]]:
    run.produce(len(mapping))
    return list(mapping.items())


# What a script adds to a collection is charged at its stored size: appending the same
# row a thousand times adds its elements a thousand times.


def _append(run: Run, items: list[Any], value: Any) -> None:
    added = stored_size(value, run, run.limits.max_allocated)
    run.produce(len(items) + 1, added=added)
    known = run.sizes.get(id(items))
    # A plain value (no collection, so no cycle and no deeper nest) adds exactly its size.
    plain = not isinstance(value, list | tuple | dict | set | frozenset)
    size = (known[1] if items else 0) + added if plain and known is not None and known[0] is items else None
    try:
        items.append(value)
    finally:
        run.forget_sizes(items, size)


def _extend(run: Run, items: list[Any], values: Any) -> None:
    more = list(run.iterate(values))
    run.produce(len(items) + len(more), added=stored_size(more, run, run.limits.max_allocated))
    try:
        items.extend(more)
    finally:
        run.forget_sizes()


def _list_pop(run: Run, items: list[Any], index: Any = -1) -> Any:
    try:
        return items.pop(_need_int("pop", index))
    finally:
        run.forget_sizes()


def _dict_pop(run: Run, mapping: dict[Any, Any], key: Any, *default: Any) -> Any:
    if key in mapping:
        run.forget_sizes()
        return mapping.pop(key)
    if default:
        return default[0]
    raise failed(f"键 {key!r} 不存在", f"key {key!r} not found")


def _update(run: Run, mapping: dict[Any, Any], other: Any) -> None:
    if not isinstance(other, dict):
        raise failed("update() 需要一个字典", "update() needs a dict")
    run.produce(len(mapping) + len(other), added=stored_size(other, run, run.limits.max_allocated))
    try:
        mapping.update(other)
    finally:
        run.forget_sizes()


METHODS: Mapping[str, tuple[MethodSpec, ...]] = {
    "lower": (MethodSpec(str, _lower, 0, 0),),
    "upper": (MethodSpec(str, _upper, 0, 0),),
    "strip": (MethodSpec(str, _strip_kind("strip"), 0, 1),),
    "lstrip": (MethodSpec(str, _strip_kind("lstrip"), 0, 1),),
    "rstrip": (MethodSpec(str, _strip_kind("rstrip"), 0, 1),),
    "startswith": (MethodSpec(str, _affix("startswith"), 1, 1),),
    "endswith": (MethodSpec(str, _affix("endswith"), 1, 1),),
    "split": (MethodSpec(str, _split, 0, 2),),
    "join": (MethodSpec(str, _join, 1, 1),),
    "count": (MethodSpec((str, list, tuple), _count, 1, 1),),
    "get": (MethodSpec(dict, _get, 1, 2),),
    "keys": (MethodSpec(dict, _keys, 0, 0),),
    "values": (MethodSpec(dict, _values, 0, 0),),
    "items": (MethodSpec(dict, _items, 0, 0),),
    "append": (MethodSpec(list, _append, 1, 1, mutates=True),),
    "extend": (MethodSpec(list, _extend, 1, 1, mutates=True),),
    "pop": (MethodSpec(list, _list_pop, 0, 1, mutates=True), MethodSpec(dict, _dict_pop, 1, 2, mutates=True)),
    "update": (MethodSpec(dict, _update, 1, 1, mutates=True),),
}


def find_method(name: str, receiver: Any) -> MethodSpec:
    """The method ``name`` for this receiver's type, or a failure naming what is allowed."""
    for spec in METHODS[name]:
        if isinstance(receiver, spec.receiver):
            return spec
    raise failed(
        f"{type_name(receiver)} 类型的值没有方法 .{name}()",
        f"a {type_name(receiver)} has no method .{name}() in this language",
    )
