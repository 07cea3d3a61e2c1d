"""Sign in, sign out and the language switch.

Sign-in goes through the accounts' throttle (engine.sign_in): a waiting username or
client gets the form again, 429 with ``Retry-After`` and the wait named. Sign-out ends the
session on the server too (the account's session generation moves on), so a copy of the
cookie taken before sign-out no longer signs anyone in. "Sign out everywhere" also ends
the account's bearer tokens (a lost phone, a shared computer).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from api.pages.base import Ctx, PageRoute, local_path, redirect
from api.pages.i18n import LANGS
from api.pages.security import LANG_COOKIE
from api.security import client_address
from engine.errors import TooManyAttempts
from engine.people.actors import Role
from engine.people.sign_in import wait_text

router = APIRouter(route_class=PageRoute)

HOME_BY_ROLE = {Role.APPLICANT: "/", Role.CLERK: "/inbox", Role.ANALYST: "/studio", Role.ADMIN: "/studio"}


@router.get("/login", name="login")
def login_page(ctx: Ctx, next: str = "") -> Response:
    """The sign-in form."""
    return ctx.render("login.html", next=local_path(next, ""), failed=False, wait=None, username="")


@router.post("/login")
def login(ctx: Ctx) -> Response:
    """Check the password with the accounts service; a new session on success."""
    form = ctx.posted
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = local_path(str(form.get("next") or ""), "")
    try:
        account = (
            ctx.svc.accounts.sign_in(username, password, client_address(ctx.request))
            if username and password
            else None
        )
    except TooManyAttempts as exc:
        wait = wait_text(exc.retry_after)
        page = ctx.render("login.html", status=429, next=target, failed=False, wait=wait, username=username)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if account is None:
        return ctx.render("login.html", status=401, next=target, failed=True, wait=None, username=username)
    ctx.sign_in(account)
    home = target or HOME_BY_ROLE.get(account.role, "/")
    return redirect(home + ("&" if "?" in home else "?") + "msg=signed-in")


@router.post("/logout")
def logout(ctx: Ctx) -> Response:
    """End the session, here and on the server (every page session of the account; tokens too if asked)."""
    if ctx.account is not None:
        ctx.svc.accounts.sign_out(ctx.account.username, everywhere=ctx.posted.get("everywhere") == "1")
    ctx.sign_out()
    return redirect("/?msg=signed-out")


@router.get("/lang/{lang}")
def switch_language(ctx: Ctx, lang: str, next: str = "/") -> Response:
    """Remember the chosen language (a cookie) and go back to the page."""
    response = RedirectResponse(local_path(next), status_code=303)
    if lang in LANGS:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            path="/",
            samesite="lax",
            secure=ctx.request.url.scheme == "https",
            httponly=True,
        )
    return response
