"""The quantile sketch: durations counted into log-sized buckets, so medians cost no history scan.

A sketch is a JSON-ready dict (bucket -> count) stored in a column of the aggregate rows.
Every estimate is within ``RELATIVE_ACCURACY`` (1 %) of the exact value, or within 1 second
for values under a second; sketches of disjoint samples merge exactly, so per-task rows add
up to per-department or per-bundle figures without going back to the tasks.

May import: nothing of ``engine``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_ZERO = "z"  # values under one second


def sketch_add(sketch: dict[str, int], value: float, count: int = 1) -> None:
    """Count ``value`` (seconds) into a sketch (a JSON-ready dict bucket -> count)."""
    key = _ZERO if value < 1.0 else str(math.ceil(math.log(value) / _LOG_GAMMA))
    sketch[key] = sketch.get(key, 0) + count


def sketch_merge(into: dict[str, int], other: Mapping[str, int]) -> None:
    """Add another sketch's counts (sketches of disjoint samples merge exactly)."""
    for key, count in other.items():
        into[key] = into.get(key, 0) + int(count)


def bucket_value(key: str) -> float:
    """The value a bucket stands for (within the relative accuracy of every value in it)."""
    if key == _ZERO:
        return 0.0
    return 2 * _GAMMA ** int(key) / (_GAMMA + 1)


def _sorted_buckets(sketch: Mapping[str, int]) -> list[tuple[float, int]]:
    return sorted((bucket_value(k), int(c)) for k, c in sketch.items() if int(c) > 0)


def sketch_count(sketch: Mapping[str, int]) -> int:
    """How many values a sketch holds."""
    return sum(int(c) for c in sketch.values())


def _order_statistics(buckets: list[tuple[float, int]], ranks: Sequence[int]) -> list[float]:
    """The k-th smallest values (1-based ranks, ascending) estimated from sorted buckets."""
    out: list[float] = []
    seen = 0
    index = 0
    for rank in ranks:
        while seen + buckets[index][1] < rank:
            seen += buckets[index][1]
            index += 1
        out.append(buckets[index][0])
    return out


def sketch_median(sketch: Mapping[str, int]) -> float | None:
    """The sample median (mean of the two middle values for an even count); None when empty."""
    n = sketch_count(sketch)
    if n == 0:
        return None
    buckets = _sorted_buckets(sketch)
    if n % 2:
        return _order_statistics(buckets, [(n + 1) // 2])[0]
    low, high = _order_statistics(buckets, [n // 2, n // 2 + 1])
    return (low + high) / 2


def sketch_quantile(sketch: Mapping[str, int], q: float) -> float | None:
    """The nearest-rank ``q`` quantile: the ⌈q·n⌉-th smallest value; None when empty."""
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    n = sketch_count(sketch)
    if n == 0:
        return None
    return _order_statistics(_sorted_buckets(sketch), [max(1, math.ceil(q * n))])[0]
