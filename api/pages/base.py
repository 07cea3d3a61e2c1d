"""What every page request shares: who is signed in, the language, CSRF, errors as pages.

``PageRoute`` is the route class of the pages' router. Around every page handler it
- checks the CSRF token of every non-GET request before the handler runs (so no form post
  can forget it), and refuses posts from another origin;
- turns engine errors into pages (404, 403, 409, 413, 422) instead of the API's JSON, and
  "sign in first" into a redirect to ``/login``;
- writes the session cookie when the request created or replaced the session.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api.pages.i18n import FLASH, Words, pick_lang
from api.pages.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    LANG_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    PageSession,
)
from api.pages.wiring import PageServices, services
from engine.errors import (
    Conflict,
    DefinitionError,
    EngineError,
    InvalidInput,
    NotAllowed,
    NotFound,
    Problem,
    TooLarge,
)
from engine.people.accounts import AccountView
from engine.people.actors import Actor, Role
from engine.service import Engine

MAX_FORM_FILES = 64
MAX_FORM_FIELDS = 2000
MAX_FIELD_BYTES = 4 * 1024 * 1024  # a diagram saved from the modeler is a form field


class LoginRequired(Exception):
    """The page needs a signed-in person; answered by a redirect to ``/login``."""


class PageRefused(Exception):
    """The page answers with an error page (status, title and message in both languages)."""

    def __init__(self, status: int, title: tuple[str, str], message: tuple[str, str]) -> None:
        super().__init__(title[1])
        self.status = status
        self.title = title
        self.message = message


@dataclass
class PageContext:
    """One page request: services, session, the signed-in account, the language."""

    request: Request
    svc: PageServices
    session: PageSession | None
    account: AccountView | None
    words: Words
    _new_session: PageSession | None = None
    _drop_session: bool = False
    _posted: FormData = field(default_factory=FormData)

    @property
    def engine(self) -> Engine:
        """The engine facade."""
        return self.svc.engine

    @property
    def actor(self) -> Actor:
        """The signed-in person as the engine sees them (LoginRequired when nobody is)."""
        if self.account is None:
            raise LoginRequired
        return self.account.actor()

    @property
    def role(self) -> str | None:
        """The signed-in person's role, or None."""
        return None if self.account is None else self.account.role.value

    def require(self, *roles: Role) -> Actor:
        """The actor, when signed in with one of these roles (else a redirect or a 403 page)."""
        actor = self.actor
        if roles and actor.role not in roles:
            raise PageRefused(
                403,
                ("无权访问", "Not allowed"),
                ("您的账户角色不能使用此页面。", "Your account's role cannot use this page."),
            )
        return actor

    def csrf_token(self) -> str:
        """The token forms on this page must send back (creates a session for a new visitor)."""
        session = self._new_session or self.session
        if session is None:
            session = PageSession.anonymous()
            self._new_session = session
        return self.svc.signer.csrf_token(session)

    def sign_in(self, account: AccountView) -> None:
        """Start a new session for this account (a new id, so earlier tokens die)."""
        self._new_session = PageSession.signed_in(account.username, account.session_version)
        self.account = account

    def sign_out(self) -> None:
        """End the session."""
        self._new_session = None
        self._drop_session = True
        self.account = None

    def apply_cookies(self, response: Response) -> None:
        """Write or remove the session cookie as the request decided."""
        secure = self.request.url.scheme == "https"
        if self._drop_session:
            response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
        elif self._new_session is not None:
            response.set_cookie(
                SESSION_COOKIE,
                self.svc.signer.dump(self._new_session),
                max_age=SESSION_SECONDS,
                path="/",
                httponly=True,
                samesite="lax",
                secure=secure,
            )

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """A page from a template, with what every page shows (user, language, CSRF token)."""
        flash = FLASH.get(self.request.query_params.get("msg", ""))
        html = self.svc.templates.get_template(template).render(
            w=self.words,
            flash=None if flash is None else {"kind": flash[0], "text": flash[1:]},
            tr=self.words.tr,
            label=self.words.label,
            account=self.account,
            role=self.role,
            csrf_field=CSRF_FIELD,
            csrf=self.csrf_token(),
            # The navigation's message badge: one indexed COUNT, only for a signed-in person.
            unread_messages=0
            if self.account is None
            else self.engine.messages.unread_count(self.account.username),
            path=self.request.url.path,
            query=self.request.url.query,
            **values,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        return response

    @property
    def posted(self) -> FormData:
        """The posted form, parsed and CSRF-checked by ``PageRoute`` before the handler ran."""
        return self._posted

    async def load_form(self) -> None:
        """Parse a posted form body once (urlencoded or multipart; others leave it empty)."""
        content_type = self.request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            self._posted = await self.request.form(
                max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
            )


def page_context(request: Request) -> PageContext:
    """Build the request's context: session from the cookie, account re-checked each time."""
    existing = getattr(request.state, "page", None)
    if isinstance(existing, PageContext):
        return existing
    svc = services(request)
    session = svc.signer.load(request.cookies.get(SESSION_COOKIE))
    account = None
    if session is not None and session.username:
        found = svc.accounts.find_active(session.username)
        # A password change, a sign-out or a deactivation ends every session made before it.
        if found is not None and found.session_version == session.password_version:
            account = found
    ctx = PageContext(request, svc, session, account, Words(pick_lang(request.cookies.get(LANG_COOKIE))))
    request.state.page = ctx
    return ctx


Ctx = Annotated[PageContext, Depends(page_context)]


def local_path(target: str | None, default: str = "/") -> str:
    """A redirect target that stays on this site (refuses ``//host``, schemes and backslashes)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def redirect(target: str) -> RedirectResponse:
    """A redirect after a post (303: the browser follows with GET)."""
    return RedirectResponse(target, status_code=303)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


def _error_page(
    ctx: PageContext,
    status: int,
    title: tuple[str, str],
    message: tuple[str, str],
    problems: list[Problem] | None = None,
) -> HTMLResponse:
    return ctx.render("error.html", status=status, title=title, message=message, problems=problems or [])


def _engine_error_page(ctx: PageContext, exc: EngineError) -> HTMLResponse:
    if isinstance(exc, NotFound):
        return _error_page(
            ctx,
            404,
            ("未找到", "Not found"),
            ("没有这个页面，或您无权查看。", "There is no such page, or you may not see it."),
        )
    if isinstance(exc, NotAllowed):
        return _error_page(ctx, 403, ("无权操作", "Not allowed"), exc.in_languages())
    if isinstance(exc, Conflict):
        return _error_page(ctx, 409, ("状态已变化", "Changed meanwhile"), exc.in_languages())
    if isinstance(exc, TooLarge):
        return _error_page(ctx, 413, ("文件过大", "Too large"), exc.in_languages())
    if isinstance(exc, InvalidInput | DefinitionError):
        return _error_page(ctx, 422, ("内容有误", "Invalid input"), exc.in_languages(), exc.problems)
    return _error_page(ctx, 500, ("出错了", "Something went wrong"), exc.in_languages())


def _invalid_request_page(ctx: PageContext, exc: RequestValidationError) -> HTMLResponse:
    """An address that fails validation: a bad path names nothing (404, as an unknown id), a bad query 422."""
    errors = exc.errors()
    if any(error.get("loc", ("",))[0] == "path" for error in errors):
        return _engine_error_page(ctx, NotFound("no such page"))
    problems = [
        Problem(
            "地址中的参数有误", where=str(error.get("loc", ("",))[-1]), message_en=str(error.get("msg", ""))
        )
        for error in errors
    ]
    return _error_page(
        ctx,
        422,
        ("内容有误", "Invalid input"),
        ("地址中的参数有误。", "A parameter of the address is invalid."),
        problems,
    )


def csrf_refused(ctx: PageContext) -> HTMLResponse:
    """The clear page shown when a post's CSRF token is missing or wrong."""
    return _error_page(
        ctx,
        403,
        ("请求已被拒绝", "Request refused"),
        (
            "表单已过期，或并非来自本网站。请返回上一页，刷新后重新提交。",
            "The form has expired or did not come from this site. Go back, reload the page and send it again.",  # noqa: E501
        ),
    )


class PageRoute(APIRoute):
    """The route class of every page: CSRF on posts, errors as pages, session cookie written."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler with the page rules."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            ctx = await run_in_threadpool(page_context, request)
            try:
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    response: Response | None = await _check_post(ctx)
                    if response is None:
                        response = await handler(request)
                else:
                    response = await handler(request)
            except LoginRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = redirect(f"/login?next={quote(target, safe='')}")
            except PageRefused as exc:
                response = _error_page(ctx, exc.status, exc.title, exc.message)
            except EngineError as exc:
                response = _engine_error_page(ctx, exc)
            except RequestValidationError as exc:
                response = _invalid_request_page(ctx, exc)
            ctx.apply_cookies(response)
            return response

        return page_handler


async def _check_post(ctx: PageContext) -> Response | None:
    """None when the post may go on; else the refusal page."""
    request = ctx.request
    if not _same_origin(request):
        return csrf_refused(ctx)
    await ctx.load_form()
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        value = ctx.posted.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not ctx.svc.signer.csrf_ok(ctx.session, token):
        return csrf_refused(ctx)
    return None
