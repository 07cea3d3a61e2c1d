"""Measuring the reader on a generated corpus: field accuracy, mismatch recall and precision, OCR time.

Each upload is read once, against the form filled with its true values; then, for every field in
turn, the same reading is compared with a form whose one field holds another plausible value. A
changed field flagged ``mismatch`` is a true positive; a true field flagged ``mismatch`` a false one.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.reading import review_document
from engine.reading.extraction import LAYOUT_SPECS
from engine.reading.review import compare
from engine.reading.values import same
from forms.catalog import MaterialReading
from tests.reading.corpus import Upload, plausible_other


@dataclass
class Tally:
    """The figures of one kind under one condition."""

    fields: int = 0
    right: int = 0
    unreadable: int = 0
    changed: int = 0
    caught: int = 0  # changed fields flagged mismatch
    false_flags: int = 0  # true fields flagged mismatch
    seconds: list[float] = field(default_factory=list)  # per page, wall clock
    cpu_seconds: list[float] = field(default_factory=list)  # per page, this process's CPU time

    @property
    def accuracy(self) -> float:
        """Fields read with their true value, of all fields."""
        return self.right / self.fields if self.fields else 0.0

    @property
    def recall(self) -> float:
        """Changed fields flagged, of all changed fields."""
        return self.caught / self.changed if self.changed else 0.0

    @property
    def precision(self) -> float:
        """Flags that were real changes, of all flags (1 when nothing was flagged)."""
        flagged = self.caught + self.false_flags
        return self.caught / flagged if flagged else 1.0

    def add(self, other: Tally) -> None:
        """Fold another tally into this one."""
        self.fields += other.fields
        self.right += other.right
        self.unreadable += other.unreadable
        self.changed += other.changed
        self.caught += other.caught
        self.false_flags += other.false_flags
        self.seconds.extend(other.seconds)
        self.cpu_seconds.extend(other.cpu_seconds)


def measure_one(upload: Upload) -> Tally:
    """Read one upload and tally its fields and its mismatch detection."""
    kinds = LAYOUT_SPECS[upload.kind].kinds
    reads = MaterialReading(upload.kind, {name: name for name in kinds})
    cpu = time.process_time()
    review = review_document(upload.content, upload.media_type, reads, upload.truth)
    pages = max(review.pages, 1)
    cpu_per_page = (time.process_time() - cpu) / pages
    tally = Tally(seconds=[review.seconds / pages] * pages, cpu_seconds=[cpu_per_page] * pages)
    rng = random.Random(f"{upload.kind}:{upload.condition}:{sorted(upload.truth.items())}")
    for name, kind in kinds.items():
        truth = upload.truth[name]
        read = review.fields.get(name)
        tally.fields += 1
        tally.right += read is not None and same(kind, truth, read)
        tally.unreadable += read is None
        tally.false_flags += any(f.field == name and f.verdict == "mismatch" for f in review.findings)
        changed = {**upload.truth, name: plausible_other(upload.kind, name, upload.truth, rng)}
        tally.changed += 1
        tally.caught += any(
            f.field == name and f.verdict == "mismatch" for f in compare(reads, review.fields, changed)
        )
    return tally


def measure(uploads: Iterable[Upload]) -> dict[tuple[str, str], Tally]:
    """Tallies per (kind, condition)."""
    tallies: dict[tuple[str, str], Tally] = {}
    for upload in uploads:
        tallies.setdefault((upload.kind, upload.condition), Tally()).add(measure_one(upload))
    return tallies


def table(tallies: dict[tuple[str, str], Tally]) -> str:
    """The figures as a plain-text table (one row per kind and condition)."""
    rows = [f"{'kind':<18} {'condition':<9} {'fields':>6} {'accuracy':>8} {'unread':>6} {'recall':>7} "
            f"{'precision':>9} {'s/page p50':>10}"]  # fmt: skip
    for (kind, condition), tally in sorted(tallies.items()):
        rows.append(
            f"{kind:<18} {condition:<9} {tally.fields:>6} {tally.accuracy:>8.1%} {tally.unreadable:>6} "
            f"{tally.recall:>7.1%} {tally.precision:>9.1%} {statistics.median(tally.seconds):>10.2f}"
        )
    return "\n".join(rows)
