"""Department views (data minimisation): a clerk sees only what the item in hand declares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forms.shape import FormShape
from forms.spec import FormItem


@dataclass(frozen=True)
class DepartmentView:
    """One item's share of a case: its fields (with decisions already made) and its materials.

    ``hidden`` counts the form answers and materials of the case withheld from this view, so
    a page can say that more exists without showing it.
    """

    item: str
    department: str
    fields: dict[str, Any]
    materials: dict[str, str]
    hidden: int


def department_view(
    form: FormShape, item: FormItem, data: Mapping[str, Any], materials: Mapping[str, str]
) -> DepartmentView:
    """The fields and materials ``item`` declares, in form order, and nothing else."""
    wanted = set(item.fields) | set(item.decision_fields)
    order = [*form.fields, *form.decided, *item.fields]
    fields = {name: data[name] for name in dict.fromkeys(order) if name in wanted and name in data}
    kinds = {kind: materials[kind] for kind in item.materials if kind in materials}
    known = set(form.fields) | set(form.decided)
    hidden = sum(1 for name in data if name in known and name not in fields)
    hidden += sum(1 for kind in materials if kind not in kinds)
    return DepartmentView(item.key, item.department, fields, kinds, hidden)
