"""A step decided again supersedes the certificate it issued before (证照换发).

When a case is sent back to a step that issued an electronic certificate (tax returns an
enterprise start-up to market registration, which issued the business licence) and that
step approves again, it issues a new certificate from its new decision. The earlier one
must stop being valid at that moment and not before: until the re-decision the company
still holds the licence it was given, and a re-decision may well confirm it. So the send-back
itself leaves the certificate alone; the re-decision's transaction (the case row locked)
issues the new certificate, revokes the earlier one with a reason naming its successor, and
writes ``CertificateSuperseded`` on the case's trail, all or nothing.

May import: ``engine.cases``, ``engine.storage``.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.cases.events import CertificateIssued, CertificateSuperseded
from engine.cases.materials import MaterialInfo, MaterialService
from engine.cases.states import Outcome
from engine.cases.store import OpenCase
from engine.storage.models import CaseEvent, Material, WorkItem
from engine.storage.spine import emit


def superseding_reason(new_number: str) -> str:
    """The revocation reason of a superseded certificate: what replaced it, nothing personal."""
    return f"被重新办理的环节取代，新证照 {new_number} / superseded by a re-decided step: now {new_number}"


def replaced_certificate(oc: OpenCase, item: WorkItem, kind: str) -> Material | None:
    """The certificate of ``kind`` that this step issued when it was decided before, if any.

    Only a re-decision replaces: the item was approved earlier in this case (a row other than
    ``item``), and the case's current certificate of the kind was issued by that item. One
    revoked meanwhile (吊销) is replaced too (the step issues a new one), but not superseded.
    """
    decided_before = any(
        r.id != item.id and r.item_key == item.item_key and r.outcome == Outcome.APPROVE for r in oc.rows
    )
    current = oc.case.outputs.get(kind)
    if not decided_before or current is None:
        return None
    row = oc.session.get(Material, current)
    if row is None or row.issued_by_case != oc.case.id:
        return None
    issued = oc.session.scalars(
        select(CaseEvent.detail).where(
            CaseEvent.case_id == oc.case.id, CaseEvent.kind == CertificateIssued.KIND
        )
    ).all()
    if not any(d.get("material_id") == row.id and d.get("item") == item.item_key for d in issued):
        return None
    return row


def supersede(
    oc: OpenCase, materials: MaterialService, earlier: Material, new: MaterialInfo, item: WorkItem
) -> None:
    """Revoke ``earlier`` in favour of ``new`` (just issued in this transaction) and audit it on the case.

    A certificate already revoked keeps its own revocation, date and reason.
    """
    if earlier.revoked_at is not None:
        return
    replacement = oc.session.get(Material, new.id)
    assert replacement is not None and replacement.number is not None  # flushed by issue_certificate
    number = earlier.number or str(materials.certificate_data(earlier.id)["number"])
    reason = superseding_reason(replacement.number)
    actor = item.assignee or "system"
    earlier.number = number  # a certificate issued before numbers were stored keeps its own
    earlier.revoked_at = oc.now
    earlier.revoked_by = actor
    earlier.revoked_reason = reason
    emit(
        oc.session,
        CertificateSuperseded(
            case_id=oc.case.id,
            at=oc.now,
            actor=actor,
            work_item_id=item.id,
            kind=earlier.kind,
            item=item.item_key,
            number=number,
            new_number=replacement.number,
            reason=reason,
        ),
    )
