"""Operators of the language, on data values only, with sizes checked before allocating.

Numbers are ``int``, ``float`` and ``Decimal`` (``bool`` counts as ``int``, as in Python);
``+`` also joins two strings, lists or tuples, and ``*`` repeats one by an integer. Printf
style ``%`` on strings, bit operators and date arithmetic are outside the language (dates
have helper functions instead).

May import: ``expressions.run``, ``expressions.sizes``.
"""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from typing import Any

from engine.bpmn.expressions.run import NUMBER_TYPES, Lazy, Run, failed, type_name
from engine.bpmn.expressions.sizes import remember, stored_size

SYMBOLS: dict[type[ast.AST], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.USub: "-",
    ast.UAdd: "+",
    ast.Not: "not",
}

_SEQUENCES = (str, list, tuple)
# Compared element by element (a set or dict answers ``in`` by hashing the left side).
_COLLECTIONS = (list, tuple, dict, set, frozenset)
_CONTAINERS = (str, list, tuple, dict, set, frozenset, range)
_ORDERED = ((int, float, Decimal), (str,), (date,), (list,), (tuple,))


def _unsupported(symbol: str, left: Any, right: Any) -> Exception:
    return failed(
        f"运算 {symbol} 不支持 {type_name(left)} 与 {type_name(right)}",
        f"unsupported operand types for {symbol}: {type_name(left)} and {type_name(right)}",
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, NUMBER_TYPES)


def _repeat(run: Run, sequence: Any, count: Any) -> Any:
    """``sequence * count``, sized as stored: ``[row] * n`` counts every element of ``row`` ``n`` times."""
    if not isinstance(count, int):
        raise _unsupported("*", sequence, count)
    if count <= 0 or not sequence:
        return sequence * count
    limit = run.limits.max_size // count
    each = stored_size(sequence, run, limit)
    if each > limit:
        # A collection's measure stops at the limit; a string's length is exact.
        raise run.too_large(len(sequence) * count if isinstance(sequence, str) else None)
    run.produce(each * count)
    return sequence * count


def _power(run: Run, base: Any, exponent: Any) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        # |base| >= 2, so the result has at least exponent * (bits(base) - 1) bits.
        bits = abs(base).bit_length()
        if exponent > run.limits.max_int_bits or exponent * (bits - 1) > run.limits.max_int_bits:
            raise failed(
                f"乘方结果过大 (超过 {run.limits.max_int_bits} 位)",
                f"exponent too large: the result would exceed {run.limits.max_int_bits} bits",
            )
    return run.check_number(base**exponent)


def binary(run: Run, op: ast.operator, left: Any, right: Any) -> Any:
    """``left op right`` for the arithmetic operators of the language."""
    kind = type(op)
    symbol = SYMBOLS.get(kind, kind.__name__)
    if _is_number(left) and _is_number(right):
        if kind is ast.Add:
            return run.check_number(left + right)
        if kind is ast.Sub:
            return run.check_number(left - right)
        if kind is ast.Mult:
            too_wide = run.limits.max_int_bits + 1
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > too_wide
            ):
                raise failed(
                    f"整数过大 (超过 {run.limits.max_int_bits} 位)",
                    f"integer too large (more than {run.limits.max_int_bits} bits)",
                )
            return run.check_number(left * right)
        if kind is ast.Div:
            return run.check_number(left / right)
        if kind is ast.FloorDiv:
            return run.check_number(left // right)
        if kind is ast.Mod:
            return run.check_number(left % right)
        if kind is ast.Pow:
            return _power(run, left, right)
        raise failed(f"不允许的运算符 {symbol}", f"operator {symbol} is not allowed")
    if kind is ast.Add and isinstance(left, _SEQUENCES) and type(left) is type(right):
        joined: Any = left
        if isinstance(left, str):
            run.produce(len(left) + len(right))
            return joined + right
        # Sized as stored: what the two sides hold counts, not just how many references.
        limit = run.limits.max_size
        size = stored_size(left, run, limit)
        size += stored_size(right, run, limit - size) if size <= limit else 0
        if size > limit:
            raise run.too_large()
        run.produce(size)
        result = joined + right
        remember(result, size, run)
        return result
    if kind is ast.Mult:
        if isinstance(left, _SEQUENCES):
            return _repeat(run, left, right)
        if isinstance(right, _SEQUENCES):
            return _repeat(run, right, left)
    if kind is ast.Mod and isinstance(left, str):
        raise failed(
            "不允许用 % 格式化字符串, 请用 + 与 str()",
            "printf-style % formatting of strings is not allowed; use + and str()",
        )
    raise _unsupported(symbol, left, right)


def unary(op: ast.unaryop, operand: Any) -> Any:
    """``op operand`` for ``not``, unary minus and unary plus."""
    if isinstance(op, ast.Not):
        return not truth(operand)
    if _is_number(operand):
        if isinstance(op, ast.USub):
            return -operand
        if isinstance(op, ast.UAdd):
            return +operand
    symbol = SYMBOLS.get(type(op), type(op).__name__)
    raise failed(
        f"一元运算 {symbol} 不支持 {type_name(operand)}",
        f"bad operand type for unary {symbol}: {type_name(operand)}",
    )


def within_reach(run: Run, symbol: str, *values: Any) -> None:
    """Refuse a comparison that Python would run element by element, in C, past the clock.

    Comparing two collections costs up to the smaller one's stored size, ``in`` up to the
    container's: a script can alias one list a million times and then grow it in place.
    """
    limit = run.limits.max_allocated
    for value in values if len(values) == 1 else sorted(values, key=len):
        if stored_size(value, run, limit) <= limit:
            return
    raise failed(
        f"{symbol} 比较的数据过大 (超过 {limit} 个字符或元素)",
        f"'{symbol}' compares values larger than {limit} characters or elements as stored",
    )


def compare(run: Run, op: ast.cmpop, left: Any, right: Any) -> bool:
    """One link of a (possibly chained) comparison."""
    kind = type(op)
    if kind is ast.Is:
        return left is right
    if kind is ast.IsNot:
        return left is not right
    if kind is ast.In or kind is ast.NotIn:
        if isinstance(right, list | tuple):
            within_reach(run, SYMBOLS[kind], right)
    elif isinstance(right, _COLLECTIONS) and isinstance(left, _COLLECTIONS):
        within_reach(run, SYMBOLS.get(kind, kind.__name__), left, right)
    if kind is ast.Eq:
        return bool(left == right)
    if kind is ast.NotEq:
        return bool(left != right)
    symbol = SYMBOLS.get(kind, kind.__name__)
    if kind is ast.In or kind is ast.NotIn:
        if not isinstance(right, _CONTAINERS) or (isinstance(right, str) and not isinstance(left, str)):
            raise failed(
                f"{type_name(right)} 不支持 {symbol} 判断 {type_name(left)}",
                f"'{symbol}' needs a collection or a string on the right, got {type_name(right)}"
                f" for {type_name(left)}",
            )
        found = left in right
        return found if kind is ast.In else not found
    if not any(isinstance(left, group) and isinstance(right, group) for group in _ORDERED):
        raise failed(
            f"{type_name(left)} 与 {type_name(right)} 不能用 {symbol} 比较",
            f"'{symbol}' is not supported between {type_name(left)} and {type_name(right)}",
        )
    if kind is ast.Lt:
        return bool(left < right)
    if kind is ast.LtE:
        return bool(left <= right)
    if kind is ast.Gt:
        return bool(left > right)
    return bool(left >= right)


def truth(value: Any) -> bool:
    """Python truthiness, for data values."""
    if isinstance(value, Lazy):
        return True
    return bool(value)


def to_str(run: Run, value: Any) -> str:
    """``str(value)`` for data values, with the result's size charged."""
    if isinstance(value, Lazy):
        raise failed("生成器表达式不能转成字符串", "a generator expression cannot be turned into a string")
    if not isinstance(value, str) and stored_size(value, run, run.limits.max_size) > run.limits.max_size:
        # The text is at least as long as the stored size: refuse before building it.
        raise run.too_large()
    text = str(value)
    run.produce(len(text))
    return text
