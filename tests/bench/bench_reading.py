"""Pre-review reading on a larger generated corpus: field accuracy, mismatch recall and precision, OCR time.

The corpus of ``tests/reading/corpus.py`` (licences, ID cards, birth certificates drawn from
generated values, then rotated, blurred, JPEG-compressed, scanned-looking or wrapped in a PDF),
``ONETHING_BENCH_READING_DOCS`` documents (default 4) of each kind under each condition, with a
seed other than the test's. Printed per kind and condition: field accuracy, unreadable fields,
recall and precision of mismatch detection; then over all pages the OCR seconds per page (wall
clock, p50 and p95, which a loaded machine stretches) and the process's CPU seconds per page.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable

from tests.reading.corpus import CONDITIONS, KINDS, uploads
from tests.reading.measure import Tally, measure

Report = Callable[[str, float, str], None]


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def run(report: Report) -> None:
    """Measure the reader on the corpus and print its figures."""
    per_kind = int(os.environ.get("ONETHING_BENCH_READING_DOCS", "4"))
    tallies = measure(uploads(KINDS, CONDITIONS, per_kind=per_kind, seed=2026))
    total = Tally()
    for (kind, condition), tally in sorted(tallies.items()):
        total.add(tally)
        name = f"{kind} {condition}"
        report(f"{name}: field accuracy ({tally.fields} fields)", 100 * tally.accuracy, "%")
        report(f"{name}: unreadable fields", tally.unreadable, "fields")
        report(f"{name}: mismatch recall", 100 * tally.recall, "%")
        report(f"{name}: mismatch precision", 100 * tally.precision, "%")
    report(f"all: field accuracy ({total.fields} fields)", 100 * total.accuracy, "%")
    report("all: mismatch recall", 100 * total.recall, "%")
    report("all: mismatch precision", 100 * total.precision, "%")
    report(
        f"OCR wall seconds per page, p50 ({len(total.seconds)} pages)", statistics.median(total.seconds), "s"
    )
    report("OCR wall seconds per page, p95", _p95(total.seconds), "s")
    report("OCR CPU seconds per page, p50", statistics.median(total.cpu_seconds), "s")
    report("OCR CPU seconds per page, p95", _p95(total.cpu_seconds), "s")
