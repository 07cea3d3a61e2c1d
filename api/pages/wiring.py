"""The pages' services, taken from the app's own (``api.deps.Services``) on first use.

``PageServices`` is what every page handler reaches through its ``PageContext``: the engine,
the accounts, the session signer, the templates and the bundle catalog, built once per app and
kept on ``app.state.pages``. The session key is derived (in ``SessionSigner``) from the API's
token signing key, so one secret serves both while a session cookie never passes for a bearer
token.

May import: api.deps, api.security, api.pages.catalog, api.pages.rendering, api.pages.security,
engine (the facade and accounts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from jinja2 import Environment

from api.deps import Services
from api.pages.catalog import BundleCatalog
from api.pages.rendering import build_environment
from api.pages.security import SessionSigner
from api.security import signing_key
from engine.people.accounts import AccountService
from engine.service import Engine
from engine.storage.idempotency import IdempotencyStore


@dataclass
class PageServices:
    """What the pages need from the app, built once: engine, accounts, signer, templates, bundles."""

    engine: Engine
    accounts: AccountService
    signer: SessionSigner
    templates: Environment = field(default_factory=build_environment)
    # The API's store of request keys: a bulk action posted twice does each task once.
    idempotency: IdempotencyStore | None = None
    catalog: BundleCatalog = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = BundleCatalog(self.engine)


def build_services(app: FastAPI) -> PageServices:
    """The pages' services of an app whose lifespan has set ``app.state.services``."""
    found: Services = app.state.services
    return PageServices(
        engine=found.engine,
        accounts=found.accounts,
        signer=SessionSigner(signing_key(found.settings)),
        idempotency=found.idempotency,
    )


def services(request: Request) -> PageServices:
    """The pages' services of this app (built on first use from the app's engine and key)."""
    found = getattr(request.app.state, "pages", None)
    if isinstance(found, PageServices):
        return found
    built = build_services(request.app)
    request.app.state.pages = built
    return built
