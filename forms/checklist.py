"""The materials checklist of a form (一次告知): what to bring, what is exempt, and why."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from forms import conditions as cond
from forms.shape import FormShape


@dataclass(frozen=True)
class ChecklistEntry:
    """One material of the checklist, as the applicant and the API see it."""

    kind: str
    zh: str
    en: str
    # Asked of the applicant now: its condition holds (or it has none) and it is not exempt.
    required: bool
    exempt: bool
    why_zh: str
    why_en: str
    # 容缺受理: days the applicant may take to bring it after the case starts (None: not allowed).
    promise_days: int | None
    condition: dict[str, list[Any]] | None
    accept: tuple[str, ...]
    max_bytes: int
    # The items of the bundle that need it (each department sees it only if listed here).
    items: tuple[str, ...]
    # The item of this bundle that issues it as an electronic certificate, if any.
    issued_by: str | None
    # The department that issues certificates of this kind anywhere, if it is a certificate kind.
    certificate_issuer: str | None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for the API (``name`` and ``why`` as zh/en pairs)."""
        return {
            "kind": self.kind,
            "name": {"zh": self.zh, "en": self.en},
            "required": self.required,
            "exempt": self.exempt,
            "why": {"zh": self.why_zh, "en": self.why_en} if self.why_zh else None,
            "promise_days": self.promise_days,
            "condition": self.condition,
            "accept": list(self.accept),
            "max_bytes": self.max_bytes,
            "items": list(self.items),
            "issued_by": self.issued_by,
            "certificate_issuer": self.certificate_issuer,
        }


def build_checklist(
    form: FormShape, data: Mapping[str, Any] | None, held: Collection[str]
) -> tuple[ChecklistEntry, ...]:
    """Every material of the form, in the order the items need them."""
    entries: list[ChecklistEntry] = []
    for kind, need in form.materials.items():
        spec = form.catalog.materials[kind]
        condition = form.conditions.get(kind)
        asked = condition is None or (data is not None and cond.holds(condition, data))
        why_zh = why_en = ""
        exempt = True
        if need.issued_by is not None:
            issuer = form.items[need.issued_by]
            why_zh = f"本件事办理中由“{issuer.name_zh}”签发的电子证照，无需提交"
            why_en = (
                f"An electronic certificate issued by '{issuer.name_en}' in this bundle; not needed from you"
            )
        elif kind in form.request.exemptions:
            why_zh, why_en = form.request.exemptions[kind]
        elif kind in held:
            why_zh = "您已持有的电子证照，系统自动调取，无需提交"
            why_en = (
                "An electronic certificate you already hold; the system fetches it, you need not bring it"
            )
        else:
            exempt = False
            if condition is not None:
                reason_zh, reason_en = form.reasons[kind]
                why_zh = f"{reason_zh}时需要提交"
                why_en = f"needed when {reason_en}"
        entries.append(
            ChecklistEntry(
                kind=kind,
                zh=spec.zh,
                en=spec.en,
                required=asked and not exempt,
                exempt=exempt,
                why_zh=why_zh,
                why_en=why_en,
                promise_days=form.request.promises.get(kind),
                condition=cond.show_when(condition),
                accept=spec.accept,
                max_bytes=spec.max_bytes,
                items=need.items,
                issued_by=need.issued_by,
                certificate_issuer=spec.certificate.issuer if spec.certificate else None,
            )
        )
    return tuple(entries)
