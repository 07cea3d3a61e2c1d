"""What the documents part hands out: frozen views of certificates, their verification, results.

The API turns these into JSON and pages; the PDF templates read the same views, so a
page, an answer and a printed certificate never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from engine.cases.views import Label


class CertificateStatus(StrEnum):
    """What the public verification answers for a number."""

    VALID = "valid"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CertificateField:
    """One field a certificate shows: its catalog label and its value as printed, in both languages."""

    key: str
    label: Label
    value: Label


@dataclass(frozen=True)
class CertificateView:
    """An issued electronic certificate (电子证照) as it is printed and verified."""

    number: str
    kind: str
    name: Label
    issuer: Label  # the issuing office's name (never a department key)
    issued_at: datetime
    issued_day: date  # the China-local date of issue
    issued_on: Label  # the same, written out
    fields: tuple[CertificateField, ...]
    case_id: int
    material_id: str
    verify_url: str
    revoked_at: datetime | None = None
    revoked_day: date | None = None
    revoked_on: Label | None = None
    revoked_reason: str | None = None
    by_key: dict[str, CertificateField] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_key.update({f.key: f for f in self.fields})

    @property
    def revoked(self) -> bool:
        """Whether the certificate was revoked (吊销/注销)."""
        return self.revoked_at is not None

    @property
    def status(self) -> CertificateStatus:
        """Valid or revoked."""
        return CertificateStatus.REVOKED if self.revoked else CertificateStatus.VALID


@dataclass(frozen=True)
class Verification:
    """The public answer for a certificate number: its status and, when known, what it shows.

    ``certificate`` is None for an unknown number; its fields are those the certificate
    prints, with identity numbers partly masked (never more than the certificate shows).
    """

    number: str
    status: CertificateStatus
    certificate: CertificateView | None = None


@dataclass(frozen=True)
class RecordedResult:
    """A value a department recorded when it decided an item (a bank account, 社保登记号 ...)."""

    item: Label
    office: Label
    field: Label
    value: Label
    at: datetime | None


@dataclass(frozen=True)
class RenderedDocument:
    """A PDF and the file name it is offered under."""

    filename: str
    content: bytes
    media_type: str = "application/pdf"
