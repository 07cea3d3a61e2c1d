"""Signing in (OAuth2 password flow) and who am I.

Sign-in goes through the accounts' throttle: after repeated failures the username or the
client waits, answered 429 with ``Retry-After`` (engine.sign_in). The client is the
connection's address; behind a reverse proxy, run uvicorn with ``--proxy-headers`` and
``--forwarded-allow-ips`` so that it is the caller's, not the proxy's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentAccount, ServicesDep
from api.errors import NotAuthenticated, responses
from api.logs import note
from api.routing import PrefixedRouter
from api.schemas.accounts import AccountPublic, TokenPublic
from api.security import client_address

router = PrefixedRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic, responses=responses(422, 429))
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    services: ServicesDep,
    request: Request,
    response: Response,
) -> TokenPublic:
    """Exchange a username and password for a short-lived bearer token."""
    note(who=form.username[:64])
    account = services.accounts.sign_in(form.username, form.password, client_address(request))
    if account is None:
        raise NotAuthenticated("用户名或密码错误 (wrong username or password)")
    response.headers["Cache-Control"] = "no-store"
    return TokenPublic(
        access_token=services.tokens.issue(account),
        expires_in=int(services.tokens.lifetime.total_seconds()),
    )


@router.get("/me", response_model=AccountPublic, responses=responses())
def who_am_i(account: CurrentAccount) -> AccountPublic:
    """The signed-in account (role and departments decide what the pages offer)."""
    return AccountPublic.from_view(account)
