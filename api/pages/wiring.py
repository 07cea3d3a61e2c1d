"""The pages' services, taken from the app's own (``api.deps.Services``) on first use.

The session key is derived (in ``SessionSigner``) from the API's token signing key, so one
secret serves both while a session cookie never passes for a bearer token.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.deps import Services
from api.pages.base import PageServices
from api.pages.security import SessionSigner
from api.security import signing_key


def build_services(app: FastAPI) -> PageServices:
    """The pages' services of an app whose lifespan has set ``app.state.services``."""
    found: Services = app.state.services
    return PageServices(
        engine=found.engine,
        accounts=found.accounts,
        signer=SessionSigner(signing_key(found.settings)),
    )
