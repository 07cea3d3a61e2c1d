"""情形引导 page: a few questions before the form, and what the answers mean; anyone may read it.

``/guide/{key}`` asks the bundle's questions (``engine.cases.guide``) and lists, for the
answers in its address, the items that will run with their departments, the materials to
bring (and those not needed, with why) and the time limit. Without scripts the "查看结果"
button reloads the page with the answers; with scripts (``guide.js``) the result follows
each answer. "开始填表" sends the same answers to ``/apply/{key}`` as query parameters, where
they prefill the form.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.pages.base import Ctx, PageRoute
from api.pages.params import BundleKey

router = APIRouter(route_class=PageRoute)


def days_text(days: float) -> str:
    """Working days as people write them: 2, not 2.0; 0.5 stays."""
    return f"{days:g}"


@router.get("/guide/{key}")
def guide_page(ctx: Ctx, key: BundleKey) -> Response:
    """The questions of a bundle and, for the answers given in the address, what applies."""
    guide = ctx.engine.guide(key, ctx.request.query_params)
    return ctx.render("guide.html", guide=guide, key=key, days=days_text(guide.days))
