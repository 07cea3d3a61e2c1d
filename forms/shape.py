"""The shape of a merged form: which fields are asked, who decides what, which materials and why.

``FormShape`` is what a bundle's request amounts to once its items are put together, before any
schema, layout or validation: the applicant's fields each once in group order, the clerks'
decision fields, each material with the items that need it and the item that issues it, and the
conditions with their words. The checklist (``forms.checklist``) and the department views
(``forms.views``) read it; ``forms.merge.MergedForm`` builds on it.

May import: forms.catalog, forms.conditions, forms.spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from forms import conditions as cond
from forms.catalog import Catalog
from forms.spec import FormItem, FormRequest


@dataclass(frozen=True)
class MaterialNeed:
    """A material of the merged form: which items need it, and whether the bundle itself issues it."""

    kind: str
    items: tuple[str, ...]
    issued_by: str | None


class FormShape:
    """The items of a request put together: fields, decisions, materials and conditions."""

    def __init__(self, catalog: Catalog, request: FormRequest) -> None:
        self.catalog = catalog
        self.request = request
        self.items: Mapping[str, FormItem] = MappingProxyType({item.key: item for item in request.items})
        self.conditions: Mapping[str, cond.Condition] = MappingProxyType(
            {key: cond.normalize(rule) for key, rule in request.conditions.items()}
        )
        #: Fields clerks fill in when deciding (never asked of the applicant).
        self.decided: tuple[str, ...] = tuple(
            dict.fromkeys(n for i in request.items for n in i.decision_fields)
        )
        decided = set(self.decided)
        first_seen: dict[str, int] = {}
        for item in request.items:
            for name in item.fields:
                if name not in decided:
                    first_seen.setdefault(name, len(first_seen))
        #: The applicant's fields, each once: by group order, then by first appearance.
        self.fields: tuple[str, ...] = tuple(
            sorted(first_seen, key=lambda n: (catalog.group_order(catalog.elements[n].group), first_seen[n]))
        )
        issued = {kind: item.key for item in request.items for kind in item.outputs}
        needs: dict[str, list[str]] = {}
        for item in request.items:
            for kind in item.materials:
                needs.setdefault(kind, []).append(item.key)
        self.materials: Mapping[str, MaterialNeed] = MappingProxyType(
            {
                kind: MaterialNeed(kind, tuple(dict.fromkeys(who)), issued.get(kind))
                for kind, who in needs.items()
            }
        )
        #: Each condition in words (zh, en), said once here rather than on every validation.
        self.reasons: Mapping[str, tuple[str, str]] = MappingProxyType(
            {
                key: (cond.describe(rule, catalog.elements), cond.describe(rule, catalog.elements, "en"))
                for key, rule in self.conditions.items()
            }
        )
