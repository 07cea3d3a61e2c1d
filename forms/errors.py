"""Errors of the forms package.

The tree::

    FormError
    ├── CatalogError     a catalog file that cannot be loaded (every problem listed)
    ├── FormConflict     items that cannot be merged into one form (every problem listed)
    └── UnknownItem      an item key the merged form does not hold

Validation of an applicant's answers is not an error: ``MergedForm.validate`` returns the
list of problems, so that all of them reach the applicant in one answer (一次性告知).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a catalog or a form request: where, what (zh first, en beside), which rule."""

    where: str
    message: str
    message_en: str
    rule: str


class FormError(Exception):
    """Base of every error the forms package raises on purpose."""


class CatalogError(FormError):
    """The catalog files hold problems; each one is listed with its file and key."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        super().__init__(f"{len(problems)} catalog problem(s): " + "; ".join(p.message_en for p in problems))
        self.problems = problems


class FormConflict(FormError):
    """The items of a request cannot be merged into one form; every problem is listed."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        super().__init__(f"{len(problems)} form problem(s): " + "; ".join(p.message_en for p in problems))
        self.problems = problems


class UnknownItem(FormError, KeyError):
    """An item key that is not part of the merged form."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no item {self.key!r} in this form"
