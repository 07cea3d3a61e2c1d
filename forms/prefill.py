"""Prefill (智能预填): answers carried over from earlier finished cases and issued certificates.

Rules, in order:

1. only the applicant's fields of this form are prefilled (never a clerk's decision field);
2. only values that pass the field's own validation (a stale or malformed value is skipped,
   so prefill never plants an error in the form);
3. a certificate outranks an earlier case: it was issued and checked by a department, while
   a case holds what the applicant typed;
4. among sources of the same kind, later sources win: pass them oldest first.

Each prefilled field is marked with its source, so the form can show where it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from forms.merge import MergedForm

# "document": read from an uploaded document and confirmed by the applicant (智能填表).
SourceKind = Literal["case", "certificate", "document"]
_RANK: dict[str, int] = {"case": 0, "certificate": 1, "document": 2}


@dataclass(frozen=True)
class PrefillSource:
    """Data from one earlier case or one certificate, with the label shown next to prefilled fields."""

    label_zh: str
    label_en: str
    data: Mapping[str, Any]
    kind: SourceKind


@dataclass(frozen=True)
class Prefilled:
    """A prefilled answer and where it came from."""

    value: Any
    source_label_zh: str
    source_label_en: str
    kind: SourceKind

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "value": self.value,
            "source": {"zh": self.source_label_zh, "en": self.source_label_en},
            "kind": self.kind,
        }


def prefill(form: MergedForm, sources: Sequence[PrefillSource]) -> dict[str, Prefilled]:
    """The answers the sources can give for this form's fields, each marked with its source."""
    out: dict[str, Prefilled] = {}
    wanted = set(form.fields)
    for source in sorted(sources, key=lambda s: _RANK[s.kind]):  # stable: order kept within a kind
        for name, value in source.data.items():
            if name not in wanted or value is None or form.value_problem(name, value) is not None:
                continue
            out[name] = Prefilled(value, source.label_zh, source.label_en, source.kind)
    return {name: out[name] for name in form.fields if name in out}


def prefilled_values(prefilled: Mapping[str, Prefilled]) -> dict[str, Any]:
    """The plain values of a prefill, as starting answers for a form."""
    return {name: entry.value for name, entry in prefilled.items()}
