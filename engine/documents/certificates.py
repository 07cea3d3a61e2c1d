"""Certificates by number: finding one (also those issued before numbers were stored), its view.

A certificate number (``engine.cases.materials.certificate_number``) is ``DZZZ`` + the
issue date + the case id (at least eight digits) + four hex digits of the kind. Rows
issued before the ``number`` column was filled have it NULL; such a certificate is found
by reading the case id and the kind's code back out of the number and comparing with the
number its own stored document carries, so an old licence verifies like a new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.materials import MaterialService, kind_code
from engine.storage.models import Case, CaseEvent, Material, WorkItem

NUMBER = re.compile(r"DZZZ(?P<date>[0-9]{8})(?P<case>[0-9]{8,19})(?P<code>[0-9A-F]{4})")


@dataclass(frozen=True)
class IssuingOffice:
    """The office (department at a division) that issued a certificate."""

    department: str
    division: str


def find_certificate(session: Session, materials: MaterialService, number: str) -> Material | None:
    """The issued certificate with this number, or None (a malformed number is simply unknown)."""
    row = session.scalars(select(Material).where(Material.number == number)).first()
    if row is not None:
        return row
    parsed = NUMBER.fullmatch(number)
    if parsed is None:
        return None
    candidates = session.scalars(
        select(Material).where(Material.issued_by_case == int(parsed["case"]), Material.number.is_(None))
    ).all()
    for candidate in candidates:
        if kind_code(candidate.kind) != parsed["code"]:
            continue
        document = materials.certificate_data(candidate.id)
        if document.get("number") == number:
            return candidate
    return None


def issuing_office(
    session: Session, row: Material, document_issuer: str, route: Callable[[str, str | None], str]
) -> IssuingOffice:
    """Who issued it: the office whose approval of the item issued it; else the catalog's issuer.

    The audit line of the issue names the item; the item's approved task names the office
    (department and division), which is what the certificate prints as its issuer. Without
    such a task, the issuer department's office for the case's division (``route``).
    """
    case_id = row.issued_by_case
    lines = session.scalars(
        select(CaseEvent.detail).where(CaseEvent.case_id == case_id, CaseEvent.kind == "certificate_issued")
    ).all()
    items = [str(detail.get("item")) for detail in lines if detail.get("kind") == row.kind]
    if items:
        task = session.scalars(
            select(WorkItem)
            .where(WorkItem.case_id == case_id, WorkItem.item_key == items[0], WorkItem.outcome == "approve")
            .order_by(WorkItem.id.desc())
        ).first()
        if task is not None:
            return IssuingOffice(task.department, task.division)
    case = session.get(Case, case_id)
    return IssuingOffice(document_issuer, route(document_issuer, case.division if case is not None else None))
