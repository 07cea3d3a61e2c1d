"""What a form is built from: the items of a bundle and the bundle's declarative rules.

The engine turns a bundle manifest into a ``FormRequest``; ``forms.merge.merge_form`` turns
the request into one ``MergedForm``. Keeping the request a plain value keeps ``forms`` free
of engine imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FormItem:
    """One administrative item (事项): what it asks the applicant, the clerk, and what it issues."""

    key: str
    name_zh: str
    name_en: str
    department: str
    fields: tuple[str, ...]
    materials: tuple[str, ...]
    # Fields the department's clerk fills in when deciding (e.g. the credit code it assigns);
    # they are never asked of the applicant.
    decision_fields: tuple[str, ...] = ()
    # Material kinds this item issues as electronic certificates (e.g. the business licence);
    # the applicant never has to bring them to the other items of the bundle.
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormRequest:
    """The items to merge, and the bundle's conditions, exemptions and promises.

    ``conditions``: field or material key -> {field: value or [values]}; the key is asked
    only when every listed field has (one of) the values.
    ``exemptions``: material -> (why_zh, why_en); the applicant need not bring it.
    ``promises``: material -> days; 容缺受理, the material may follow within that many days.
    """

    items: tuple[FormItem, ...]
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    exemptions: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    promises: Mapping[str, int] = field(default_factory=dict)
    title_zh: str = ""
    title_en: str = ""
