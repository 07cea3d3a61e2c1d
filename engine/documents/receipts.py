"""The acceptance receipt (受理回执): what was received, which departments handle it, by when.

Read from the case's own record: its code, its bundle version's items (each with the
office that handles or will handle it), the promised date, and the materials named by the
submission's audit line (uploaded, reused electronic certificates, promised for later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.bpmn.manifest import Item
from engine.cases.facade import CaseFacade
from engine.cases.views import CaseView, Label, office_label
from engine.documents.wording import day_label, moment_label
from engine.errors import EngineError
from engine.storage.models import Case, CaseEvent

UPLOADED = Label("已提交", "Handed in")
REUSED = Label("电子证照共享复用", "Electronic certificate reused")
PROMISED = Label("容缺受理，后补", "Accepted; to follow")


@dataclass(frozen=True)
class ReceiptItem:
    """One item of the bundle on the receipt."""

    name: Label
    office: Label
    limit: Label


@dataclass(frozen=True)
class ReceiptMaterial:
    """One material on the receipt, by name, and how it came in."""

    name: Label
    how: Label


@dataclass(frozen=True)
class Receipt:
    """What the receipt template prints."""

    code: str
    bundle: Label
    received: Label
    due: Label | None
    received_by: Label | None
    items: tuple[ReceiptItem, ...]
    materials: tuple[ReceiptMaterial, ...]
    case_url: str
    qr: str


def _limit(days: float) -> Label:
    """An item's time limit in working days, as printed (0.5 -> 半个工作日)."""
    if days == 0:
        return Label("即办", "At once")
    if days == 0.5:
        return Label("0.5个工作日", "half a working day")
    shown = f"{days:g}"
    return Label(f"{shown}个工作日", f"{shown} working day{'' if days == 1 else 's'}")


def receipt_context(cases: CaseFacade, case: CaseView, case_url: str, qr: str) -> Receipt:
    """The receipt of a case the caller was already found allowed to see."""
    zone = ZoneInfo(cases.calendar.tz)
    with cases.db.read() as session:
        row = session.get(Case, case.id)
        assert row is not None  # the caller has just read the case
        definition = cases.deployments.definition(cases.deployments.row(session, row.deployment_id))
        submitted: dict[str, Any] = (
            session.scalars(
                select(CaseEvent.detail)
                .where(CaseEvent.case_id == case.id, CaseEvent.kind == "submitted")
                .order_by(CaseEvent.id)
            ).first()
            or {}
        )
    manifest = definition.manifest
    offices = {t.item: t.office for t in case.tasks}
    applying = _applying_items(cases, case, {item.key for item in manifest.items})
    items = tuple(
        ReceiptItem(
            Label(item.name.zh, item.name.en),
            offices.get(item.key) or _office(cases, item, case),
            _limit(item.time_limit_days),
        )
        for item in manifest.items
        if item.key in applying
    )
    reused = set(submitted.get("reused_certificates", []))
    materials: list[ReceiptMaterial] = []
    for kind in submitted.get("materials", []):
        materials.append(ReceiptMaterial(_material_name(cases, kind), REUSED if kind in reused else UPLOADED))
    for kind in submitted.get("promised", []):
        materials.append(ReceiptMaterial(_material_name(cases, kind), PROMISED))
    return Receipt(
        code=case.code or str(case.id),
        bundle=Label(manifest.name.zh, manifest.name.en),
        received=moment_label(case.created_at.astimezone(zone)),
        due=day_label(cases.calendar.local_date(case.due_at)) if case.due_at else None,
        received_by=case.received,
        items=items,
        materials=tuple(materials),
        case_url=case_url,
        qr=qr,
    )


def _applying_items(cases: CaseFacade, case: CaseView, every: set[str]) -> set[str]:
    """The items this case's answers lead to (those already reached, and those the diagram will run).

    The bundle's guide runs the diagram in memory with the case's answers; when it cannot
    say, every item is listed (never fewer than may be handled).
    """
    reached = {t.item for t in case.tasks}
    try:
        guided = {g.key for g in cases.guide(case.bundle, case.data or {}).items}
    except EngineError:
        return every
    return (reached | guided) & every or every


def _office(cases: CaseFacade, item: Item, case: CaseView) -> Label:
    """The office an item not yet reached will go to (routed from the case's division)."""
    division = cases.regions.route(item.department, case.division, item.decided_at)
    return office_label(cases.regions, item.department, division)


def _material_name(cases: CaseFacade, kind: str) -> Label:
    spec = cases.catalog.materials.get(kind)
    return Label(spec.zh, spec.en) if spec is not None else Label(kind, kind)
