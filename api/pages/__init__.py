"""The Jinja2 pages for applicants, clerks and analysts, and the static files they use.

``create_app`` includes ``router`` and calls ``mount_static(app)``. The pages call the
engine facade directly (not the REST API over HTTP) with the signed-in person's ``Actor``,
so visibility is decided in the same place for both.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from api.pages import (
    applicant,
    apply,
    auth,
    clerk,
    complaints,
    documents,
    guide,
    handover,
    messages,
    send_back,
    studio,
    supervision,
    suspension,
)
from api.pages.rendering import STATIC_DIR
from engine.storage.settings import PROJECT_ROOT

__all__ = ["BPMN_JS_DIST", "mount_static", "router"]

log = logging.getLogger(__name__)

BPMN_JS_DIST = PROJECT_ROOT / "node_modules" / "bpmn-js" / "dist"

router = APIRouter()
for _module in (auth, applicant, apply, clerk, studio, supervision, complaints, messages, documents):
    router.include_router(_module.router)
router.include_router(guide.router)
router.include_router(send_back.router)  # 退回到指定环节 and moves (task and case pages)
router.include_router(suspension.router)  # 挂起/恢复 forms of the case page
router.include_router(handover.router)  # 转办, 委托, release, the inbox's bulk actions


def mount_static(app: FastAPI, bpmn_js_dist: Path = BPMN_JS_DIST) -> None:
    """Serve our CSS/JS at ``/static`` and bpmn-js (from ``npm ci``) at ``/static/vendor/bpmn-js``."""
    if not (bpmn_js_dist / "bpmn-navigated-viewer.production.min.js").is_file():
        log.warning("bpmn-js not found in %s (run `npm ci`); diagrams will not be drawn", bpmn_js_dist)
    # The vendor mount comes first: Starlette matches mounts in order, and /static would catch it.
    app.mount("/static/vendor/bpmn-js", StaticFiles(directory=bpmn_js_dist, check_dir=False), name="bpmn-js")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
