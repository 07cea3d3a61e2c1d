"""What one evaluation shares with the operations and functions it calls: budget and clock.

Every node evaluated, every element iterated and every character or element produced is
charged here, so a run stops at the first bound it crosses — before a large value is
allocated, not after.

May import: ``expressions.limits``, ``engine.errors``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from engine.bpmn.expressions.limits import Limits
from engine.errors import ExpressionFailed

# How often (in steps) the wall clock is read; reading it every step would cost more than
# most steps do.
_CLOCK_EVERY = 64

_T = TypeVar("_T")


class Lazy:
    """A generator expression handed to a function (the only place one may appear)."""

    __slots__ = ("items",)

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items


def failed(zh: str, en: str) -> ExpressionFailed:
    """A run-time failure with its Chinese and English wording."""
    return ExpressionFailed(f"{zh} ({en})")


def type_name(value: Any) -> str:
    """The language's name for a value's type, as shown in messages."""
    if isinstance(value, Lazy):
        return "generator"
    return type(value).__name__


def need_mapping(names: Any) -> Mapping[str, Any]:
    """The names an expression reads must be a mapping (task data, a message payload)."""
    if not isinstance(names, Mapping):
        raise failed(
            "表达式的数据必须是键值映射",
            f"the data of an expression must be a mapping, not {type_name(names)}",
        )
    return names


class Run:
    """Budget, size accounting and the clock of one evaluation or script run."""

    def __init__(self, limits: Limits, today: Callable[[], date]) -> None:
        self.limits = limits
        self.steps = 0
        self.allocated = 0
        self.handed_back = 0
        # Stored sizes of the last large collections measured, by identity (see ``sizes``);
        # holding the value keeps its identity from being reused while it is remembered.
        self.sizes: dict[int, tuple[Any, int]] = {}
        self._today_source = today
        self._today: date | None = None
        self._deadline = time.monotonic() + limits.max_seconds
        self._next_clock_check = _CLOCK_EVERY

    def tick(self, count: int = 1) -> None:
        """Charge evaluation steps; stop when the step budget or the wall-time backstop is spent."""
        self.steps += count
        if self.steps > self.limits.max_steps:
            raise failed(
                f"超过计算步数上限 {self.limits.max_steps}",
                f"step budget of {self.limits.max_steps} exceeded; loops and comprehensions are bounded",
            )
        if self.steps >= self._next_clock_check:
            self._next_clock_check = self.steps + _CLOCK_EVERY
            self.check_clock()

    def check_clock(self) -> None:
        """Stop when the wall-time backstop is spent (also read while measuring and copying values)."""
        if time.monotonic() > self._deadline:
            raise failed(
                f"超过运行时间上限 {self.limits.max_seconds} 秒",
                f"time limit of {self.limits.max_seconds} s exceeded",
            )

    def too_large(self, size: int | None = None) -> ExpressionFailed:
        """The failure for a value over ``max_size`` (``size`` when known exactly, else "more than")."""
        limit = self.limits.max_size
        if size is None:
            return failed(
                f"结果过大: 超过 {limit} 个字符或元素",
                f"value too large: more than {limit} characters or elements",
            )
        return failed(
            f"结果过大: {size} 个字符或元素, 上限 {limit}",
            f"value too large: {size} characters or elements, the limit is {limit}",
        )

    def produce(self, size: int, added: int | None = None) -> None:
        """Vet a value of ``size`` characters/elements before it is built; ``added`` of them are new."""
        if size > self.limits.max_size:
            raise self.too_large(size)
        self.allocated += size if added is None else added
        if self.allocated > self.limits.max_allocated:
            raise failed(
                f"本次计算产生的数据超过上限 {self.limits.max_allocated}",
                f"more than {self.limits.max_allocated} characters or elements produced in one run",
            )

    def hand_back(self, size: int) -> None:
        """Charge a result of ``size`` (as stored) to the case; all results of one run share the bound."""
        self.handed_back += size
        if self.handed_back > self.limits.max_result_size:
            limit = self.limits.max_result_size
            raise failed(
                f"交回办件的数据超过 {limit} 个字符或元素 (重复引用的值按每次出现计算)",
                f"the result is larger than {limit} characters or elements as stored"
                " (a value repeated by reference counts every time it appears)",
            )

    def forget_sizes(self, changed: Any = None, size: int | None = None) -> None:
        """A script changed a collection in place: remembered sizes may be stale, but for the
        changed collection's own new ``size`` when its method knows it (``seen.append(x)``)."""
        self.sizes.clear()
        if size is not None:
            self.sizes[id(changed)] = (changed, size)

    def check_number(self, value: _T) -> _T:
        """Refuse integers wider than the limit and complex results; pass other numbers on."""
        if isinstance(value, int) and value.bit_length() > self.limits.max_int_bits:
            raise failed(
                f"整数过大 (超过 {self.limits.max_int_bits} 位)",
                f"integer too large (more than {self.limits.max_int_bits} bits)",
            )
        if isinstance(value, complex):
            raise failed("不支持复数", "complex numbers are not supported")
        return value

    def iterate(self, value: Any) -> Iterator[Any]:
        """The elements of a data value, one step each; only data collections can be iterated."""
        if isinstance(value, Lazy):
            source: Iterator[Any] = value.items
        elif isinstance(value, str | list | tuple | dict | set | frozenset | range):
            source = iter(value)
        else:
            raise failed(f"{type_name(value)} 类型的值不能遍历", f"a {type_name(value)} cannot be iterated")
        for item in source:
            self.tick()
            yield item

    def materialize(self, value: Any) -> list[Any]:
        """All elements of a data value as a new list, charged to the budget."""
        items = list(self.iterate(value))
        self.produce(len(items))
        return items

    def today(self) -> date:
        """The injected date, asked for at most once per run."""
        if self._today is None:
            self._today = self._today_source()
        return self._today


NUMBER_TYPES = (int, float, Decimal)
