"""Account management for admins (the CLI's ``onething user`` does the same from a shell).

分级授权: an admin with a division manages the accounts inside its subtree only (the engine
decides, with the admin's division as the scope): others are not listed and answer 404, and
giving an account a division outside the subtree is refused with 403.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, status
from fastapi.responses import JSONResponse

from api.deps import AdminActor, IdempotencyKey, Services, ServicesDep, Username
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.routing import PrefixedRouter
from api.schemas.accounts import AccountCreate, AccountPublic, AccountUpdate
from engine.errors import NotAllowed
from engine.people.accounts import KEEP
from engine.storage.idempotency import Reservation, outcome_id

router = PrefixedRouter(prefix="/api/accounts", tags=["accounts"])


@router.get("", response_model=list[AccountPublic], responses=responses(403))
def list_accounts(admin: AdminActor, services: ServicesDep) -> list[AccountPublic]:
    """Every account inside the admin's division (all of them for an admin without one)."""
    return [AccountPublic.from_view(a) for a in services.accounts.list_accounts(scope=admin.division)]


@router.post(
    "", response_model=AccountPublic, status_code=status.HTTP_201_CREATED, responses=responses(403, 409, 422)
)
def create_account(
    body: AccountCreate,
    admin: AdminActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Create an account (clerks need at least one department; the division must lie in the admin's)."""
    note(account=body.username)

    def work(reservation: Reservation | None) -> AccountPublic:
        view = services.accounts.create(
            body.username,
            body.password,
            body.role,
            body.departments,
            body.display_name,
            body.supervisor,
            division=body.division,
            scope=admin.division,
            reservation=reservation,
        )
        return AccountPublic.from_view(view)

    asked = body.model_dump(mode="json", exclude={"password"})  # a password never goes into the digest
    recover = _account_of(services)
    return run_once(services, admin, idempotency_key, ("POST", request.url.path, asked), 201, work, recover)


@router.get("/{username}", response_model=AccountPublic, responses=responses(403, 404, 422))
def get_account(username: Username, admin: AdminActor, services: ServicesDep) -> AccountPublic:
    """One account (404 outside the admin's division)."""
    return AccountPublic.from_view(services.accounts.get(username, scope=admin.division))


@router.patch("/{username}", response_model=AccountPublic, responses=responses(403, 404, 409, 422))
def update_account(
    username: Username,
    body: AccountUpdate,
    admin: AdminActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Change role, departments, name, supervisor or active flag, division or password (all or nothing).

    ``division`` absent leaves it, null clears it; an account outside the admin's division is 404.
    """
    note(account=username, changed=sorted(body.model_fields_set))
    if username == admin.username and (body.active is False or body.role not in (None, admin.role)):
        raise NotAllowed("不能停用自己或撤销自己的管理员角色 (you cannot disable or demote yourself)")
    division = body.division if "division" in body.model_fields_set else KEEP

    def work(reservation: Reservation | None) -> AccountPublic:
        view = services.accounts.update(
            username,
            role=body.role,
            departments=body.departments,
            display_name=body.display_name,
            supervisor=body.supervisor,
            active=body.active,
            password=body.password,
            division=division,
            scope=admin.division,
            reservation=reservation,
        )
        return AccountPublic.from_view(view)

    asked = body.model_dump(mode="json", exclude_unset=True, exclude={"password"})
    asked["password_changed"] = body.password is not None  # the password itself never goes into the digest
    recover = _account_of(services)
    return run_once(services, admin, idempotency_key, ("PATCH", request.url.path, asked), 200, work, recover)


def _account_of(services: Services) -> Callable[[str], AccountPublic]:
    """The answer of an account change rebuilt from its recorded outcome (``account:3``): the account now."""

    def recover(outcome: str) -> AccountPublic:
        return AccountPublic.from_view(services.accounts.get_by_id(outcome_id(outcome, "account")))

    return recover
