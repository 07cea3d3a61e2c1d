"""Certificates over REST: the public verification answer and the revocation request.

May import: api.schemas.common, engine.documents (its views).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import LabelPublic, RequestBody, with_examples
from engine.documents.views import CertificateStatus, Verification


class CertificateFieldPublic(BaseModel):
    """One field the certificate prints: its label and value (identity numbers partly masked)."""

    label: LabelPublic
    value: LabelPublic


class VerificationPublic(BaseModel):
    """What anyone may learn from a certificate number: whether it is genuine and still in force.

    Only what the certificate itself prints, never the holder's account or the case.
    """

    model_config = with_examples(
        {
            "number": "DZZZ20250303000000013C6E",
            "status": "valid",
            "name": {"zh": "营业执照", "en": "Business licence"},
            "issuer": {"zh": "上海市市场监督管理局", "en": "Market regulation, Shanghai"},
            "issued_on": "2025-03-03",
            "fields": [
                {
                    "label": {"zh": "企业名称", "en": "Company name"},
                    "value": {"zh": "上海澄川信息科技有限公司", "en": "上海澄川信息科技有限公司"},
                }
            ],
            "revoked_on": None,
            "revoked_reason": None,
        }
    )

    number: str
    status: CertificateStatus = Field(description="valid 有效 | revoked 已吊销(注销) | unknown 查无此证")
    name: LabelPublic | None = None
    issuer: LabelPublic | None = Field(default=None, description="发证机关 (the issuing office)")
    issued_on: date | None = Field(default=None, description="发证日期，中国时区 (China-local date)")
    fields: list[CertificateFieldPublic] = Field(default_factory=list)
    revoked_on: date | None = None
    revoked_reason: str | None = None

    @classmethod
    def from_view(cls, view: Verification) -> VerificationPublic:
        """From the engine's verification (dates as the China-local dates the certificate prints)."""
        cert = view.certificate
        if cert is None:
            return cls(number=view.number, status=view.status)
        return cls(
            number=view.number,
            status=view.status,
            name=LabelPublic.from_view(cert.name),
            issuer=LabelPublic.from_view(cert.issuer),
            issued_on=cert.issued_day,
            fields=[
                CertificateFieldPublic(
                    label=LabelPublic.from_view(f.label), value=LabelPublic.from_view(f.value)
                )
                for f in cert.fields
            ],
            revoked_on=cert.revoked_day,
            revoked_reason=cert.revoked_reason,
        )


class RevocationCreate(RequestBody):
    """Why a certificate is revoked (吊销/注销); the reason is shown on its verification page."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "以欺骗手段取得登记，依法撤销"}]}
    )

    reason: str = Field(min_length=1, max_length=500)
