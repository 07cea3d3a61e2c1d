"""Shared pieces of the pre-review tests: the licence-check bundle, its answers, licences to upload."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from engine.service import Engine
from engine.time.clock import ManualClock
from tests.review.documents import licence_png
from tests.support.engines import make_engine

BUNDLE_DIR = Path(__file__).resolve().parent / "bundles" / "licence-check"
BUNDLE = "licence-check"
RIGHT = {
    "company_name": "上海一件事科技有限公司",
    "uscc": "91310115MA1K4LXX18",
    "legal_rep_name": "张三",
    "address": "上海市浦东新区世纪大道1号",
}
OTHER_COMPANY = "上海远景贸易有限公司"


@cache
def licence(company: str = RIGHT["company_name"]) -> bytes:
    """A clean licence PNG naming ``company``, with the other fields of ``RIGHT``."""
    return licence_png(
        {
            "name": company,
            "uscc": RIGHT["uscc"],
            "legal_rep": RIGHT["legal_rep_name"],
            "address": RIGHT["address"],
        }
    )


def licence_engine(db_url: str, tmp_path: Path, clock: ManualClock | None = None) -> Engine:
    """An engine with the licence-check bundle deployed."""
    engine = make_engine(db_url, tmp_path, clock)
    engine.deployments.deploy_dir(BUNDLE_DIR)
    return engine


def upload_licence(engine: Engine, owner: str, company: str = RIGHT["company_name"]) -> str:
    """Upload a licence naming ``company`` as ``owner``; its material id."""
    return engine.materials.upload(owner, "business_licence", "licence.png", io.BytesIO(licence(company))).id
