"""The document layouts a material kind may be read by, and the fields each one yields.

The catalog (``reads:`` of a material kind) names a layout and maps its document fields to form
elements; the loader checks both against this table. The reading itself (OCR, extraction) lives in
``engine.reading``, which hands this same table on as ``LAYOUTS``; it sits here because ``forms``
may import nothing from ``engine`` and the catalog must refuse an unknown layout on load.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

DOCUMENT_LAYOUTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # 营业执照: 名称, 统一社会信用代码, 法定代表人, 住所, 注册资本 (万元), 成立日期, 发照日期.
        "business-licence": (
            "name",
            "uscc",
            "legal_representative",
            "address",
            "registered_capital",
            "established",
            "issued",
        ),
        # 居民身份证 (both faces may be on one page): 姓名, 性别, 出生, 住址, 公民身份号码.
        "resident-id-card": ("name", "sex", "birth_date", "address", "id_number"),
        # 出生医学证明: 新生儿姓名, 性别, 出生日期, 母亲姓名, 母亲身份证件号码, 证明编号.
        "birth-certificate": (
            "child_name",
            "sex",
            "birth_date",
            "mother_name",
            "mother_id",
            "certificate_number",
        ),
    }
)
