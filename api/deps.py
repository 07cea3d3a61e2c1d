"""Dependencies of the routes: the engine, the caller, and who may call what.

Each route states in its signature who may call it (``ApplicantActor``, ``ClerkActor``,
``AnalystActor``, ``SystemActor``, ...): the role check lives here, once. A department's
system account (``Role.SYSTEM``) passes only the gates that name it: ``/engine-rest``, and the
task material download for its department's external tasks. What a caller may *see* is the
engine's business (it takes the ``Actor``): an id outside the caller's view is answered
404 by the engine, never 403, so ids cannot be probed. A 403 only ever says "your role
may not do this", which is the same for every id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.base import SecurityBase
from starlette.concurrency import run_in_threadpool

from api.errors import NotAuthenticated
from api.logs import note
from api.schemas.common import DIVISION_CODE
from api.security import TokenService
from api.signed_in import SignedInCache
from engine.errors import NotAllowed
from engine.people.accounts import AccountService, AccountView
from engine.people.actors import Actor, Role
from engine.service import Engine
from engine.storage.idempotency import IdempotencyStore
from engine.storage.settings import Settings

TOKEN_URL = "/api/auth/token"  # noqa: S105 - a path, not a password


@dataclass(frozen=True)
class Services:
    """What one running app holds: built in the app's lifespan, shared by every request."""

    settings: Settings
    engine: Engine
    accounts: AccountService
    tokens: TokenService
    idempotency: IdempotencyStore
    signed_in: SignedInCache = field(default_factory=SignedInCache)


def services_of(request: Request) -> Services:
    """The app's services (set up when the app started)."""
    services: Services = request.app.state.services
    return services


# The dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` dependency in
# the thread pool, and each such hop costs a thread switch per request. The route itself
# (which calls the engine) is the one hop a request takes.
async def get_services(request: Request) -> Services:
    """The app's services, as a dependency."""
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_engine(services: ServicesDep) -> Engine:
    """The process's engine."""
    return services.engine


EngineDep = Annotated[Engine, Depends(get_engine)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


async def _signed_in(services: Services, token: str | None) -> AccountView:
    """The account of a bearer token (see ``current_account``)."""
    if not token:
        raise NotAuthenticated()
    account = services.signed_in.get(token)
    if account is None:
        account = await run_in_threadpool(services.signed_in.check, token, services.tokens, services.accounts)
    note(who=account.username)
    return account


async def current_account(
    services: ServicesDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> AccountView:
    """The signed-in account: a valid token of an active account, same password, not signed out since.

    Checked a moment ago for the same token: answered from ``api.signed_in`` on the event
    loop; else checked in the thread pool (a signature check and a read of the account).
    """
    return await _signed_in(services, token)


CurrentAccount = Annotated[AccountView, Depends(current_account)]


async def current_actor(account: CurrentAccount) -> Actor:
    """The signed-in person as the engine sees them, with the account's division (office or reach)."""
    return account.actor()


CurrentActor = Annotated[Actor, Depends(current_actor)]


class RoleGate(SecurityBase):
    """A dependency that lets only the given roles through (403 for the others, whatever the id).

    Each dependency FastAPI resolves costs it a round of its resolver on every request, and
    this is the one every route has, so it has none of its own: it reads the bearer token
    itself and is itself the security scheme, the very ``oauth2_scheme`` (same model, same
    name) in the API document.
    """

    def __init__(self, *roles: Role) -> None:
        self.model = oauth2_scheme.model
        self.scheme_name = oauth2_scheme.scheme_name
        self.roles = frozenset(roles)
        names = sorted(r.value for r in self.roles)
        self.refusal = f"此操作仅限 {'、'.join(names)} (only {', '.join(names)})"

    async def __call__(self, request: Request) -> Actor:
        token = await oauth2_scheme(request)
        actor = (await _signed_in(services_of(request), token)).actor()
        if actor.role not in self.roles:
            raise NotAllowed(self.refusal)
        return actor


ApplicantActor = Annotated[Actor, Depends(RoleGate(Role.APPLICANT))]
ClerkActor = Annotated[Actor, Depends(RoleGate(Role.CLERK))]
# Reading queues and tasks: clerks (their departments), analysts and admins (all, read-only).
StaffActor = Annotated[Actor, Depends(RoleGate(Role.CLERK, Role.ANALYST, Role.ADMIN))]
# A task's documents: the staff, and the department's system for its external tasks (the engine
# answers 404 for any other task).
TaskMaterialActor = Annotated[Actor, Depends(RoleGate(Role.CLERK, Role.ANALYST, Role.ADMIN, Role.SYSTEM))]
AnalystActor = Annotated[Actor, Depends(RoleGate(Role.ANALYST, Role.ADMIN))]
AdminActor = Annotated[Actor, Depends(RoleGate(Role.ADMIN))]
# /engine-rest: a department's system works its external tasks; an admin may look and repair
# (list, read, set retries, unlock) but never works a task as a worker.
SystemActor = Annotated[Actor, Depends(RoleGate(Role.SYSTEM))]
SystemOrAdminActor = Annotated[Actor, Depends(RoleGate(Role.SYSTEM, Role.ADMIN))]
# Incidents and handing an external task to a clerk: supervisors (the engine checks the flag and
# the department) and admins.
SupervisorActor = Annotated[Actor, Depends(RoleGate(Role.CLERK, Role.ADMIN))]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="重复提交同一键只办一次，并返回第一次的结果 (a repeated key returns the first answer)",
    ),
]
Cursor = Annotated[
    str | None, Query(max_length=512, description="上一页返回的 next (the `next` of the previous page)")
]
Limit = Annotated[int, Query(ge=1, le=200, description="每页条数 (items per page)")]

MAX_ID = 2**63 - 1
CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="办件 id (case id)")]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="任务 id (task id)")]
BUNDLE_KEY = r"^[a-z][a-z0-9-]{1,62}$"
DEPARTMENT_KEY = r"^[a-z][a-z0-9-]{0,63}$"
USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
DIVISION = DIVISION_CODE
BundleKey = Annotated[str, Path(pattern=BUNDLE_KEY, description="事项包 key (bundle key)")]
Username = Annotated[str, Path(pattern=USERNAME, description="用户名 (username)")]
DivisionCode = Annotated[str, Path(pattern=DIVISION, description="行政区划代码 (GB/T 2260 division code)")]
OfficeId = Annotated[int, Path(ge=1, le=MAX_ID, description="办理机构 id (office id)")]
