"""Sign in, sign out and the language switch."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from api.pages.base import Ctx, PageRoute, local_path, redirect
from api.pages.i18n import LANGS
from api.pages.security import LANG_COOKIE
from engine.actors import Role

router = APIRouter(route_class=PageRoute)

HOME_BY_ROLE = {Role.APPLICANT: "/", Role.CLERK: "/inbox", Role.ANALYST: "/studio", Role.ADMIN: "/studio"}


@router.get("/login", name="login")
def login_page(ctx: Ctx, next: str = "") -> Response:
    """The sign-in form."""
    return ctx.render("login.html", next=local_path(next, ""), failed=False, username="")


@router.post("/login")
def login(ctx: Ctx) -> Response:
    """Check the password with the accounts service; a new session on success."""
    form = ctx.posted
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = local_path(str(form.get("next") or ""), "")
    account = ctx.svc.accounts.authenticate(username, password) if username and password else None
    if account is None:
        return ctx.render("login.html", status=401, next=target, failed=True, username=username)
    ctx.sign_in(account)
    home = target or HOME_BY_ROLE.get(account.role, "/")
    return redirect(home + ("&" if "?" in home else "?") + "msg=signed-in")


@router.post("/logout")
def logout(ctx: Ctx) -> Response:
    """End the session."""
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
