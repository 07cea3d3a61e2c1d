"""The site's shell around the pages: the favicon, and unknown addresses answered as a page.

A browser that follows a stale link gets the site's own 404 page (in the page's language, with
its one heading and a way home) instead of the framework's ``{"detail": "Not Found"}``; a wrong
method on a page's address (a GET of a form's target) gets a 405 page the same way. Clients of
``/api`` and department systems on ``/engine-rest`` keep their JSON answers: the handler hands
those, and every status other than 404 and 405, to the handler the app had before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.pages.base import PageRoute, page_context
from api.pages.rendering import STATIC_DIR

router = APIRouter(route_class=PageRoute)

Handler = Callable[[Request, Exception], Awaitable[Response]]

# Addresses whose clients read JSON (or files), never a page.
MACHINE_PREFIXES = ("/api", "/engine-rest", "/static", "/openapi.json", "/docs", "/redoc", "/healthz")
PAGE_ERRORS: dict[int, tuple[tuple[str, str], tuple[str, str]]] = {
    404: (
        ("页面不存在", "Page not found"),
        (
            "没有这个页面：链接可能已过期或输入有误。请从首页重新查找要办的事。",
            "There is no such page: the link may be old or mistyped. Start again from the home page.",
        ),
    ),
    405: (
        ("无法这样打开此页面", "This page cannot be opened this way"),
        (
            "此地址只接受表单提交。请回到上一页，用页面上的按钮操作。",
            "This address only takes a form's submission. Go back and use the button on the page.",
        ),
    ),
}


@router.get("/favicon.ico")
def favicon() -> Response:
    """The site icon for browsers that ask for it at the old address (pages link the SVG)."""
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _for_machines(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in MACHINE_PREFIXES)


def missing_page_handler(original: Handler | None) -> Handler:
    """A handler answering 404 and 405 of page addresses with a page, the rest as ``original`` does."""

    async def handle(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 0
        words = PAGE_ERRORS.get(status)
        if words is None or _for_machines(request.url.path):
            if original is None:
                raise exc
            return await original(request, exc)
        ctx = await run_in_threadpool(page_context, request)
        title, message = words
        response = ctx.render("error.html", status=status, title=title, message=message, problems=[])
        allow = getattr(exc, "headers", None) or {}
        if "Allow" in allow:
            response.headers["Allow"] = allow["Allow"]
        ctx.apply_cookies(response)
        return response

    return handle


def install_missing_page(app: FastAPI) -> None:
    """Answer unknown page addresses with the 404 page (call after every other handler is installed)."""
    original = cast(Handler | None, app.exception_handlers.get(StarletteHTTPException))
    app.exception_handlers[StarletteHTTPException] = missing_page_handler(original)
