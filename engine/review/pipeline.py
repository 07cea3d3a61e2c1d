"""The worker's pre-review job: claim a pending review with a lease, read the document, store the result.

Claiming is one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock
on SQLite): the row gets ``claimed_at`` and a token. Reading (1-2 s a page) runs outside any
transaction, so nothing waits on it; storing checks the token, so a worker whose lease ran
out (it was too slow, or killed and restarted) never overwrites the one that took the row
over. A claim older than ``lease`` is taken again; a document that was claimed
``MAX_ATTEMPTS`` times without a result (it kills the reader) is stored ``unreadable``.

May import: ``engine.cases``, ``engine.reading``, ``engine.storage``, ``engine.time``, ``forms``.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.cases.events import MaterialReviewed
from engine.cases.materials import MaterialService
from engine.reading import DocumentReview, review_document
from engine.review.form_data import form_context
from engine.storage.db import Database
from engine.storage.models import Material
from engine.storage.review_tables import MaterialReview, ReviewStatus
from engine.storage.spine import emit
from engine.time.clock import Clock

log = logging.getLogger("onething.review")
MAX_ATTEMPTS = 3
DEFAULT_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Claim:
    """A pending review this worker holds until ``token`` is replaced or the lease runs out."""

    material_id: str
    token: str


def mismatch_count(findings: list[dict[str, Any]]) -> int:
    """How many findings say the document and the form disagree."""
    return sum(1 for finding in findings if finding.get("verdict") == "mismatch")


class PreReview:
    """Runs pending pre-reviews (``run_pending``), one claimed document at a time."""

    def __init__(
        self, db: Database, materials: MaterialService, clock: Clock, *, lease: timedelta = DEFAULT_LEASE
    ) -> None:
        self.db = db
        self.materials = materials
        self.clock = clock
        self.lease = lease

    def claim(self) -> Claim | None:
        """Take the oldest pending review nobody holds (or whose holder's lease ran out), if any."""
        now = self.clock.now()
        with self.db.write() as session:
            while True:
                row = session.scalars(
                    select(MaterialReview)
                    .where(
                        MaterialReview.status == ReviewStatus.PENDING.value,
                        or_(
                            MaterialReview.claimed_at.is_(None),
                            MaterialReview.claimed_at < now - self.lease,
                        ),
                    )
                    .order_by(MaterialReview.queued_at, MaterialReview.material_id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                if row.attempts >= MAX_ATTEMPTS:
                    # Claimed that often without a result: the document stops the reader itself.
                    log.warning(
                        "review of material %s given up after %s attempts", row.material_id, row.attempts
                    )
                    self._finish(session, row, ReviewStatus.UNREADABLE, now)
                    continue
                token = uuid.uuid4().hex
                row.claimed_at = now
                row.claimed_by = token
                row.attempts += 1
                return Claim(row.material_id, token)

    def read(self, claim: Claim) -> bool:
        """Read the claimed document and store the result; False when the claim was lost meanwhile."""
        with self.db.read() as session:
            material = session.get(Material, claim.material_id)
            if material is None:
                return False  # deleted meanwhile: its review went with it
            spec = self.materials.catalog.materials.get(material.kind)
            context = form_context(session, material)
            mime = material.mime
        if spec is None or spec.reads is None:
            return self._store(claim, None, context.case_id, material.kind)
        with self.materials.bytes_of(material) as stream:
            content = stream.read(self.materials.max_bytes + 1)
        result = review_document(content, mime, spec.reads, context.data)
        return self._store(claim, result, context.case_id, material.kind)

    def _store(self, claim: Claim, result: DocumentReview | None, case_id: int | None, kind: str) -> bool:
        now = self.clock.now()
        with self.db.write() as session:
            row = session.get(MaterialReview, claim.material_id, with_for_update=True)
            if row is None or row.claimed_by != claim.token or row.status != ReviewStatus.PENDING.value:
                return False
            if result is None:
                self._finish(session, row, ReviewStatus.NOT_APPLICABLE, now)
                return True
            row.fields = dict(result.fields)
            row.confidence = round(result.confidence, 4)
            row.findings = [dataclasses.asdict(finding) for finding in result.findings]
            row.mismatches = mismatch_count(row.findings)
            row.pages = result.pages
            row.seconds = result.seconds
            self._finish(session, row, ReviewStatus(result.status), now)
            emit(
                session,
                MaterialReviewed(
                    case_id=case_id,
                    at=now,
                    kind=kind,
                    material=row.material_id,
                    status=row.status,
                    fields_read=len(row.fields),
                    mismatches=row.mismatches,
                ),
            )
            return True

    @staticmethod
    def _finish(session: Session, row: MaterialReview, status: ReviewStatus, now: datetime) -> None:
        row.status = status.value
        row.reviewed_at = now
        row.claimed_at = None
        row.claimed_by = None
        session.flush()

    def run_pending(self, limit: int = 4) -> int:
        """Read up to ``limit`` pending documents, one claim at a time; how many were stored."""
        stored = 0
        for _ in range(limit):
            claim = self.claim()
            if claim is None:
                break
            try:
                stored += self.read(claim)
            except Exception:  # one bad document must not stop the others; its lease lets it retry
                log.exception("pre-review of material %s failed", claim.material_id)
        return stored
