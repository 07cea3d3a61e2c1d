"""Security headers on every answer, and the one safe way to hand back bytes a user wrote.

Pages get a strict Content-Security-Policy: scripts from this site only (no inline
script, no inline event handlers, no eval), no plugins, no ``<base>``, forms posting
here only, and ``frame-ancestors 'none'`` so no other site can frame a page and trick a
click. Style sheets come from this site only; ``style`` attributes are allowed
because bpmn-js positions its overlays and palette with them (a style runs no script).

Every other answer (JSON, diagrams, materials, static files) is no document to show:
it gets ``sandbox`` and ``default-src 'none'``, so even a browser talked into showing
it as a page runs nothing in this site's origin. A route that sets its own policy keeps
it. Every answer carries ``X-Content-Type-Options: nosniff`` and a Referrer-Policy
that sends no address to other sites.

FastAPI's own API docs (``/docs``, ``/redoc``) are static pages of its making that load
Swagger UI and ReDoc from their CDN with an inline starter script; they get a policy
that allows exactly that and show no user-written text.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
UNTRUSTED_POLICY = "sandbox; default-src 'none'; frame-ancestors 'none'"
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        f"script-src 'self' 'unsafe-inline' {DOCS_CDN}",
        f"style-src 'self' 'unsafe-inline' {DOCS_CDN} https://fonts.googleapis.com",
        "font-src 'self' data: https://fonts.gstatic.com",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        f"worker-src 'self' blob: {DOCS_CDN}",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
REFERRER_POLICY = "same-origin"


class SecurityHeaders:
    """Adds the policies above to every HTTP answer (outermost, so errors get them too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in DOCS_PATHS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    html = headers.get("content-type", "").startswith("text/html")
                    policy = (DOCS_POLICY if docs else PAGE_POLICY) if html else UNTRUSTED_POLICY
                    headers["Content-Security-Policy"] = policy
                if "x-content-type-options" not in headers:
                    headers["X-Content-Type-Options"] = "nosniff"
                if "referrer-policy" not in headers:
                    headers["Referrer-Policy"] = REFERRER_POLICY
                if "x-frame-options" not in headers:
                    headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def untrusted_download(
    content: str | bytes, filename: str, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    """Bytes a user supplied (a diagram, a document): offered as a download, never shown as a page.

    ``attachment`` keeps the browser from rendering it, ``nosniff`` from guessing a type,
    and the sandboxing policy runs nothing should a browser show it anyway. ``fetch`` from
    our own pages (bpmn-js reading a diagram) is unaffected by all three.
    """
    answer = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": UNTRUSTED_POLICY,
        **(headers or {}),
    }
    return Response(content, media_type=media_type, headers=answer)
