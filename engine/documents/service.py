"""The documents of cases: certificate PDFs, the acceptance receipt, verification and revocation.

``Documents`` works on top of the case facade: it asks the facade who may see a case (so
the rules stay in one place) and reads certificates, tasks and audit lines itself. The
public verification (``verify``) needs nobody signed in and answers only what the
certificate prints. Revoking writes the row and the case's audit line in one transaction.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.events import CertificateRevoked
from engine.cases.facade import CaseFacade
from engine.cases.views import CaseView, Label, office_label
from engine.cases.visibility import may_supervise_task
from engine.documents import rendering
from engine.documents.certificates import find_certificate, issuing_office
from engine.documents.receipts import receipt_context
from engine.documents.views import (
    CertificateField,
    CertificateStatus,
    CertificateView,
    RecordedResult,
    RenderedDocument,
    Verification,
)
from engine.documents.wording import day_label, masked, value_label
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound, Problem
from engine.people.actors import Actor, Role
from engine.storage.models import Material, WorkItem
from engine.storage.spine import emit

MAX_REASON = 500
DOCUMENT_CACHE = 1024  # certificate documents kept per process (a few hundred bytes each)


class CertificateNotFound(NotFound):
    """No issued certificate has this number."""


class Documents:
    """Certificates and receipts of cases as documents, and the public verification of certificates."""

    def __init__(self, cases: CaseFacade) -> None:
        self.cases = cases
        # Stored certificate documents by sha256: content-addressed, so an entry never goes stale.
        self._documents: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _document(self, row: Material) -> dict[str, Any]:
        """The stored document of an issued certificate row (read once per process, then kept)."""
        with self._lock:
            found = self._documents.get(row.sha256)
            if found is not None:
                self._documents.move_to_end(row.sha256)
                return found
        with self.cases.materials.bytes_of(row) as stream:
            document: dict[str, Any] = json.loads(stream.read().decode("utf-8"))
        with self._lock:
            self._documents[row.sha256] = document
            while len(self._documents) > DOCUMENT_CACHE:
                self._documents.popitem(last=False)
        return document

    # -- addresses ---------------------------------------------------------------------------
    def verify_url(self, number: str) -> str:
        """The public verification page of a certificate number (what its QR code encodes)."""
        return f"{self.cases.settings.public_url}/verify/{number}"

    def case_url(self, case_id: int) -> str:
        """The case's page (what the receipt's QR code encodes)."""
        return f"{self.cases.settings.public_url}/cases/{case_id}"

    # -- certificates ------------------------------------------------------------------------
    def _view(self, session: Session, row: Material, number: str, *, public: bool) -> CertificateView:
        """A certificate row as printed (``public``: identity numbers masked, for the verification)."""
        cases = self.cases
        document = self._document(row)
        office = issuing_office(session, row, str(document.get("issuer", "")), cases.regions.route)
        issuer = office_label(self.cases.regions, office.department, office.division)
        fields = []
        for key, value in document.get("fields", {}).items():
            element = cases.catalog.elements.get(key)
            label = Label(element.zh, element.en) if element is not None else Label(key, key)
            shown = value_label(element, value)
            fields.append(CertificateField(key, label, masked(element, shown) if public else shown))
        order = {key: i for i, key in enumerate(self._field_order(row.kind))}
        fields.sort(key=lambda f: order.get(f.key, len(order)))
        name = document.get("name") or {"zh": row.kind, "en": row.kind}
        issued = cases.calendar.local_date(row.created_at)
        revoked = cases.calendar.local_date(row.revoked_at) if row.revoked_at else None
        return CertificateView(
            number=number,
            kind=row.kind,
            name=Label(str(name["zh"]), str(name["en"])),
            issuer=issuer,
            issued_at=row.created_at,
            issued_day=issued,
            issued_on=day_label(issued),
            fields=tuple(fields),
            case_id=int(row.issued_by_case or 0),
            material_id=row.id,
            verify_url=self.verify_url(number),
            revoked_at=row.revoked_at,
            revoked_day=revoked,
            revoked_on=day_label(revoked) if revoked else None,
            revoked_reason=row.revoked_reason,
        )

    def _field_order(self, kind: str) -> tuple[str, ...]:
        """The catalog's order of a kind's fields (the stored document keeps them sorted by key)."""
        spec = self.cases.catalog.materials.get(kind)
        return spec.certificate.fields if spec is not None and spec.certificate is not None else ()

    def verify(self, number: str) -> Verification:
        """The public answer for a number: valid, revoked (with date and reason) or unknown."""
        with self.cases.db.read() as session:
            row = find_certificate(session, self.cases.materials, number)
            if row is None:
                return Verification(number, CertificateStatus.UNKNOWN)
            view = self._view(session, row, number, public=True)
        return Verification(number, view.status, view)

    def certificates(self, actor: Actor, case_id: int) -> tuple[CertificateView, ...]:
        """The certificates a case issued, for whoever may see the case, in the order they were issued."""
        return self.certificates_of(self.cases.get_case(actor, case_id))

    def certificates_of(self, case: CaseView) -> tuple[CertificateView, ...]:
        """The certificates of a case the caller has already read (and so may see)."""
        ids = list(case.outputs.values())
        if not ids:
            return ()
        with self.cases.db.read() as session:
            rows = session.scalars(select(Material).where(Material.id.in_(ids))).all()
            views = [self._view(session, row, self._number(row), public=False) for row in rows]
        return tuple(sorted(views, key=lambda v: (v.issued_at, v.number)))

    def _number(self, row: Material) -> str:
        """A row's certificate number (from its document when issued before numbers were stored)."""
        return row.number or str(self._document(row)["number"])

    def certificate_pdf(self, actor: Actor, case_id: int, kind: str) -> RenderedDocument:
        """A certificate of a case as PDF, for whoever may see the case (revoked ones marked so)."""
        found = [c for c in self.certificates(actor, case_id) if c.kind == kind]
        if not found:
            raise CertificateNotFound(f"此办件没有这份证照 (the case has no certificate {kind})")
        return self._render(found[0])

    def issued_pdf(self, material_id: str) -> RenderedDocument | None:
        """An issued certificate as PDF by its material id; None when the material is an upload.

        For callers that have already checked who may see the material (a clerk's task page
        showing the licence an earlier step issued).
        """
        with self.cases.db.read() as session:
            row = session.get(Material, material_id)
            if row is None or row.issued_by_case is None:
                return None
            cert = self._view(session, row, self._number(row), public=False)
        return self._render(cert)

    def _render(self, cert: CertificateView) -> RenderedDocument:
        """A certificate laid out on its kind's template, with the QR code of its verification."""
        context = {"cert": cert, "qr": rendering.qr_data_uri(cert.verify_url)}
        content = rendering.render_pdf(rendering.certificate_template(cert.kind), context)
        return RenderedDocument(f"{cert.name.zh}-{cert.number}.pdf", content)

    def revoke(self, actor: Actor, number: str, reason: str) -> Verification:
        """Revoke a certificate (吊销/注销): admins, and supervisors of the issuing office's department.

        Anyone else is refused whatever the number. The revocation is written with an audit
        line on the case that issued it, in one transaction; revoking twice is a conflict.
        """
        if not (actor.role is Role.ADMIN or (actor.role is Role.CLERK and actor.supervisor)):
            raise NotAllowed("吊销证照仅限管理员或发证部门督办人员 (only admins or the issuer's supervisors)")
        text = reason.strip()
        if not text or len(text) > MAX_REASON:
            raise InvalidInput(
                "请填写吊销原因 (a reason is needed)",
                [
                    Problem(
                        f"请填写吊销(注销)原因，不超过{MAX_REASON}字",
                        where="reason",
                        rule="required" if not text else "max_length",
                        message_en=f"give the reason for revoking, at most {MAX_REASON} characters",
                    )
                ],
            )
        cases = self.cases
        with cases.db.write() as session:
            row = find_certificate(session, cases.materials, number)
            if row is None:
                raise CertificateNotFound(f"查无此证 (no certificate {number})")
            document = self._document(row)
            office = issuing_office(session, row, str(document.get("issuer", "")), cases.regions.route)
            if not may_supervise_task(actor, office.department, office.division, cases.regions):
                raise NotAllowed("只能吊销本部门签发的证照 (only certificates your department issued)")
            if row.revoked_at is not None:
                raise Conflict(f"该证照已于{row.revoked_at:%Y-%m-%d}吊销 (already revoked)")
            now = cases.clock.now()
            row.number = row.number or number
            row.revoked_at = now
            row.revoked_by = actor.username
            row.revoked_reason = text
            emit(
                session,
                CertificateRevoked(
                    case_id=row.issued_by_case,
                    at=now,
                    actor=actor.username,
                    kind=row.kind,
                    number=number,
                    reason=text,
                ),
            )
        return self.verify(number)

    # -- the acceptance receipt --------------------------------------------------------------
    def receipt_pdf(self, actor: Actor, case_id: int) -> RenderedDocument:
        """The 受理回执 of a case as PDF, for whoever may see the case."""
        case = self.cases.get_case(actor, case_id)
        url = self.case_url(case.id)
        context = receipt_context(self.cases, case, url, rendering.qr_data_uri(url))
        content = rendering.render_pdf("receipt.html", {"r": context})
        return RenderedDocument(f"受理回执-{case.code or case.id}.pdf", content)

    # -- results departments recorded --------------------------------------------------------
    def results(self, actor: Actor, case_id: int) -> tuple[RecordedResult, ...]:
        """What departments recorded when deciding (bank account, 社保登记号 ...), for the case's owner.

        Only the items' own ``decision_fields`` are shown, labelled by the catalog; clerks of
        other departments get nothing (analysts and admins read everything anyway).
        """
        return self.results_of(actor, self.cases.get_case(actor, case_id))

    def results_of(self, actor: Actor, case: CaseView) -> tuple[RecordedResult, ...]:
        """``results`` of a case the caller has already read."""
        if not (actor.role in (Role.ANALYST, Role.ADMIN) or case.applicant == actor.username):
            return ()
        cases = self.cases
        with cases.db.read() as session:
            tasks = session.scalars(
                select(WorkItem)
                .where(WorkItem.case_id == case.id, WorkItem.outcome == "approve")
                .order_by(WorkItem.completed_at, WorkItem.id)
            ).all()
            manifest = (
                cases.deployments.definition(cases.deployments.row(session, tasks[0].deployment_id)).manifest
                if tasks
                else None
            )
            found: list[RecordedResult] = []
            for task in tasks:
                assert manifest is not None
                try:
                    item = manifest.item(task.item_key)
                except KeyError:
                    continue
                for key in item.decision_fields:
                    value = (task.decision or {}).get(key)
                    if value in (None, ""):
                        continue
                    element = cases.catalog.elements.get(key)
                    found.append(
                        RecordedResult(
                            item=Label(item.name.zh, item.name.en),
                            office=office_label(self.cases.regions, task.department, task.division),
                            field=Label(element.zh, element.en) if element else Label(key, key),
                            value=value_label(element, value),
                            at=task.completed_at,
                        )
                    )
        return tuple(found)
