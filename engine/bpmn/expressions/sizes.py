"""Sizes of values as they are stored: every element and character, shared references each time.

``[[1] * 8000] * 8000`` holds two lists, but it is stored, copied, printed and compared as
64 million elements. Measuring it object by object, with a memo by identity, tells that
size in time proportional to the objects (two lists here), before anything expands it.

A value's stored size: a string its characters, a number or date one element (an integer
wider than 64 bits its decimal digits), a non-empty collection the sizes of its elements
(a dict's keys and values), an empty one 1. A collection's size never exceeds the length
of its ``str()``, so a text refused for its size could never have fitted either.

May import: ``expressions.run``, ``engine.errors``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from typing import Any, TypeVar

from engine.bpmn.expressions.run import Run, failed
from engine.errors import ExpressionFailed

# Values that count as one element, by exact type (bool, int and str are handled apart).
_ONE = frozenset({float, type(None), Decimal, date, datetime})
# Subclasses too: the copy of a result descends into every one of these.
_COLLECTIONS = (list, tuple, dict, set, frozenset)
_C = TypeVar("_C")

# Elements measured between two readings of the clock.
_CLOCK_EVERY = 8_192
# Collections up to this length are summed at each appearance instead of remembered.
_SMALL = 16
# Large collections whose sizes a run remembers (the most recent ones).
_REMEMBERED = 32
# Integers up to this width count as one element, wider ones their decimal digits.
_NARROW_BITS = 64


def stored_size(value: Any, run: Run, limit: int) -> int:
    """The stored size of ``value``, or ``limit + 1`` as soon as it is known to exceed ``limit``.

    Nests deeper than ``max_value_depth`` (cycles among them) fail; the clock is read as it goes.
    """
    if not isinstance(value, _COLLECTIONS):
        return _scalar_size(value)
    large = len(value) > _SMALL
    if large or run.sizes:
        known = run.sizes.get(id(value))
        if known is not None and known[0] is value:
            return min(known[1], limit + 1)
    size = _flat_size(value) if run.limits.max_value_depth > 0 else None
    if size is not None:
        if large:
            _keep(value, size, run)
    else:
        size = _Measure(run, limit).size(value, 0)
        if size <= limit:
            _keep(value, size, run)
    return min(size, limit + 1)


def remember(value: Any, size: int, run: Run) -> None:
    """Keep the exact size of a large collection: ``l = l + [i]`` in a loop measures ``l`` again."""
    if len(value) > _SMALL:
        _keep(value, size, run)


def _keep(value: Any, size: int, run: Run) -> None:
    # Nested values are kept whatever their length: a row built and then appended is measured once.
    if len(run.sizes) >= _REMEMBERED:
        del run.sizes[next(iter(run.sizes))]
    run.sizes[id(value)] = (value, size)


def _flat_size(value: Any) -> int | None:
    """The size of a collection of strings and plain numbers (most are), else None."""
    total = 0
    for item in chain.from_iterable(value.items()) if isinstance(value, dict) else value:
        kind = type(item)
        if kind is str:
            total += len(item) or 1
        elif kind is bool or kind in _ONE or (kind is int and item.bit_length() <= _NARROW_BITS):
            total += 1
        else:
            return None
    return total or 1


def _scalar_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value) or 1
    if isinstance(value, int):
        bits = value.bit_length()
        # 77/256 is just under log10(2): a lower bound on the digits.
        return 1 if bits <= _NARROW_BITS else bits * 77 // 256
    if isinstance(value, Decimal):
        digits = len(value.as_tuple().digits)
        return 1 if digits <= _NARROW_BITS else digits
    return 1


def nested_too_deeply(limit: int) -> ExpressionFailed:
    """The failure for a value (or a cycle) nested deeper than the limit."""
    return failed(f"结果嵌套超过 {limit} 层", f"result nested more than {limit} levels deep")


class _Measure:
    """One measurement: the memo of collections already sized, and the running clock count."""

    __slots__ = ("limit", "max_depth", "memo", "next_clock", "reach", "run", "seen")

    def __init__(self, run: Run, limit: int) -> None:
        self.run = run
        self.limit = limit
        self.max_depth = run.limits.max_value_depth
        # id -> (size, height); the measured values stay alive for the whole measurement.
        self.memo: dict[int, tuple[int, int]] = {}
        self.seen = 0
        self.next_clock = _CLOCK_EVERY
        # The deepest collection depth reached so far.
        self.reach = 0

    def size(self, value: Any, depth: int) -> int:
        if depth >= self.max_depth:
            raise nested_too_deeply(self.max_depth)
        if len(value) <= _SMALL:
            # Summed again at each appearance: never more work than the size it adds.
            total = self._sum(value, depth)
            self.reach = max(self.reach, depth)
            return total
        known = self.memo.get(id(value))
        if known is not None:
            size, height = known
            self.reach = max(self.reach, depth + height - 1)
            if self.reach >= self.max_depth:
                raise nested_too_deeply(self.max_depth)
            return size
        self.seen += len(value)
        if self.seen >= self.next_clock:
            self.next_clock = self.seen + _CLOCK_EVERY
            self.run.check_clock()
        reach, self.reach = self.reach, depth
        total = self._sum(value, depth)
        if total <= self.limit:
            self.memo[id(value)] = (total, self.reach - depth + 1)
        self.reach = max(reach, self.reach)
        return total

    def _sum(self, value: Any, depth: int) -> int:
        """The sizes of the elements (a dict's keys and values), or ``limit + 1`` once over it."""
        total = 0
        limit = self.limit
        for item in chain.from_iterable(value.items()) if isinstance(value, dict) else value:
            kind = type(item)
            if kind is str:
                total += len(item) or 1
            elif kind is bool or kind in _ONE or (kind is int and item.bit_length() <= _NARROW_BITS):
                total += 1
            elif isinstance(item, _COLLECTIONS):
                total += self.size(item, depth + 1)
            else:
                total += _scalar_size(item)
            if total > limit:
                return limit + 1
        return total or 1


def charge(value: _C, run: Run) -> _C:
    """Charge a collection just built (references only, so far) at its stored size; refuse a large one."""
    limit = run.limits.max_size
    size = stored_size(value, run, limit)
    if size > limit:
        raise run.too_large()
    run.produce(size)
    return value
