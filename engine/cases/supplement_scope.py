"""What a supplement may bring: what the correction notice asked, and materials owed on a promise.

A supplement answers the one notice (一次性告知), so it changes only the fields and materials
that notice names. Anything more would rewrite answers departments have already decided
on: a company name changed after the licence was issued under the old one leaves open
tasks and the issued licence disagreeing. A case accepted on a promise (容缺受理) may
receive its promised materials at any time, even while it runs, and then only those.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from engine.cases.states import CaseStatus
from engine.errors import CaseNotWaiting, Problem


@dataclass(frozen=True)
class Asked:
    """The fields and materials a case may receive now, in the order the notice names them."""

    fields: tuple[str, ...]
    materials: tuple[str, ...]

    def refusals(self, data: Collection[str], materials: Collection[str]) -> list[Problem]:
        """A problem for each field and material of a supplement that was not asked for."""
        found = [
            Problem(
                f"补正通知未要求更改此项: {name}",
                where=name,
                rule="not-asked",
                message_en=f"the notice did not ask for {name}",
                extra={"kind": "field"},
            )
            for name in sorted(set(data) - set(self.fields))
        ]
        found += [
            Problem(
                f"补正通知未要求此材料: {kind}",
                where=kind,
                rule="not-asked",
                message_en=f"the notice did not ask for the material {kind}",
                extra={"kind": "material"},
            )
            for kind in sorted(set(materials) - set(self.materials))
        ]
        return found


def asked(status: str, notice: Mapping[str, Any] | None, pending_materials: Collection[str]) -> Asked:
    """What a case in this state may receive (``CaseNotWaiting`` when it awaits nothing at all).

    Awaiting the applicant: the fields and materials the notice's problems name, and any
    material owed on a promise. Otherwise: only the materials owed on a promise.
    """
    if status != CaseStatus.AWAITING_APPLICANT and not pending_materials:
        raise CaseNotWaiting("办件当前不需要补正 (the case is not waiting for a supplement)")
    fields: dict[str, None] = {}
    kinds: dict[str, None] = {}
    if status == CaseStatus.AWAITING_APPLICANT and notice:
        for problem in notice.get("problems", []):
            if problem.get("field"):
                fields.setdefault(str(problem["field"]))
            if problem.get("material"):
                kinds.setdefault(str(problem["material"]))
    kinds.update(dict.fromkeys(pending_materials))
    return Asked(tuple(fields), tuple(kinds))
