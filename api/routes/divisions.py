"""Divisions (行政区划) and department offices: read by the signed-in, edited by admins in scope.

Any signed-in account reads the division tree (applicants choose their 办理地区 from it); the
staff read the offices. Admins add and rename divisions and open and describe offices inside
their own division's subtree (分级授权; an admin without a division: everywhere): outside it
the engine answers 403. Unknown codes and ids are 404, a code or office that exists is 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from api.deps import (
    DEPARTMENT_KEY,
    DIVISION,
    AdminActor,
    CurrentActor,
    DivisionCode,
    EngineDep,
    IdempotencyKey,
    OfficeId,
    ServicesDep,
    StaffActor,
)
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.schemas.divisions import (
    DivisionCreate,
    DivisionPublic,
    DivisionUpdate,
    OfficeCreate,
    OfficePublic,
    OfficeUpdate,
)
from engine.errors import NotFound
from engine.storage.idempotency import Reservation, outcome_id

router = APIRouter(tags=["divisions"])


@router.get("/api/divisions", response_model=list[DivisionPublic], responses=responses(404, 422))
def list_divisions(
    _actor: CurrentActor,
    engine: EngineDep,
    parent: Annotated[
        str | None, Query(pattern=DIVISION, description="只列其下一级 (only the children of this division)")
    ] = None,
    withdrawn: Annotated[
        bool, Query(description="只列已撤销的区划 (only the withdrawn divisions, outside the tree)")
    ] = False,
) -> list[DivisionPublic]:
    """The whole tree as a list by code (each names its parent), one division's children, or the withdrawn."""
    regions = engine.regions
    if withdrawn:
        return [DivisionPublic.of(d, regions, active=False) for d in regions.withdrawn()]
    tree = regions.tree()
    if parent is None:
        codes = sorted(code for root in tree.roots() for code in tree.subtree(root))
    elif not tree.known(parent):
        raise NotFound(f"没有该行政区划 (no division {parent})")
    else:
        codes = sorted(tree.children(parent))
    return [DivisionPublic.of(division, regions) for code in codes if (division := tree.get(code))]


@router.get("/api/divisions/{code}", response_model=DivisionPublic, responses=responses(404, 422))
def get_division(code: DivisionCode, _actor: CurrentActor, engine: EngineDep) -> DivisionPublic:
    """One division."""
    division = engine.regions.tree().get(code)
    if division is None:
        raise NotFound(f"没有该行政区划 (no division {code})")
    return DivisionPublic.of(division, engine.regions)


@router.post(
    "/api/divisions",
    response_model=DivisionPublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 404, 409, 422),
)
def create_division(
    body: DivisionCreate,
    admin: AdminActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Add a division below a known parent inside the admin's division (a root: platform admins only)."""
    note(division=body.code)
    regions = services.engine.regions

    def work(reservation: Reservation | None) -> DivisionPublic:
        added = regions.add_division(
            admin.division,
            body.code,
            body.name.zh,
            body.name.en,
            body.level.value,
            body.parent,
            reservation=reservation,
        )
        return DivisionPublic.of(added, regions)

    def recover(outcome: str) -> DivisionPublic:
        regions.invalidate()  # it may have been added by another process moments ago
        code = str(outcome_id(outcome, "division"))
        division = regions.tree().get(code)
        if division is None:
            raise NotFound(f"没有该行政区划 (no division {code})")
        return DivisionPublic.of(division, regions)

    asked = ("POST", request.url.path, body.model_dump(mode="json"))
    return run_once(services, admin, idempotency_key, asked, 201, work, recover)


@router.patch("/api/divisions/{code}", response_model=DivisionPublic, responses=responses(403, 404, 409, 422))
def update_division(
    code: DivisionCode,
    body: DivisionUpdate,
    admin: AdminActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Rename, withdraw or bring back a division inside the admin's division (absent keys stay).

    A withdrawn division leaves the tree: nothing routes to it and no account or office is
    made in it; its offices and accounts stay for its return. 409 for the default division
    or one with divisions in force below it.
    """
    note(division=code, changed=sorted(body.model_fields_set))
    regions = services.engine.regions

    def work(_reservation: Reservation | None) -> DivisionPublic:
        if body.active is not None:
            changed = regions.set_active(admin.division, code, body.active)
            if not body.active:
                return DivisionPublic.of(changed, regions, active=False)
        if body.name is not None:
            return DivisionPublic.of(
                regions.rename_division(admin.division, code, body.name.zh, body.name.en), regions
            )
        division = regions.tree().get(code)
        if division is None:
            raise NotFound(f"没有该行政区划 (no division {code})")
        return DivisionPublic.of(division, regions)

    asked = ("PATCH", request.url.path, body.model_dump(mode="json", exclude_unset=True))
    return run_once(services, admin, idempotency_key, asked, 200, work)


@router.get("/api/offices", response_model=list[OfficePublic], responses=responses(403, 422))
def list_offices(
    _actor: StaffActor,
    engine: EngineDep,
    division: Annotated[
        str | None, Query(pattern=DIVISION, description="行政区划 (only this division's offices)")
    ] = None,
    department: Annotated[
        str | None, Query(pattern=DEPARTMENT_KEY, description="部门 (only this department's offices)")
    ] = None,
) -> list[OfficePublic]:
    """The offices (with the default division's implicit ones), by division and department."""
    regions = engine.regions
    return [OfficePublic.of(o, regions) for o in regions.offices(division=division, department=department)]


@router.post(
    "/api/offices",
    response_model=OfficePublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 404, 409, 422),
)
def create_office(
    body: OfficeCreate,
    admin: AdminActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Open a department's office in a division inside the admin's division."""
    note(department=body.department, division=body.division)
    regions = services.engine.regions

    def work(reservation: Reservation | None) -> OfficePublic:
        name_zh = body.name.zh if body.name is not None else None
        name_en = body.name.en if body.name is not None else None
        office = regions.add_office(
            admin.division,
            body.department,
            body.division,
            name_zh=name_zh or "",
            name_en=name_en or "",
            phone=body.phone,
            address=body.address,
            hours=body.hours,
            reservation=reservation,
        )
        return OfficePublic.of(office, regions)

    def recover(outcome: str) -> OfficePublic:
        regions.invalidate()  # it may have been opened by another process moments ago
        office_id = outcome_id(outcome, "office")
        for office in regions.offices(division=body.division, department=body.department):
            if office.id == office_id:
                return OfficePublic.of(office, regions)
        raise NotFound(f"没有该办理机构 (no office {office_id})")

    asked = ("POST", request.url.path, body.model_dump(mode="json"))
    return run_once(services, admin, idempotency_key, asked, 201, work, recover)


@router.patch("/api/offices/{office_id}", response_model=OfficePublic, responses=responses(403, 404, 422))
def update_office(
    office_id: OfficeId,
    body: OfficeUpdate,
    admin: AdminActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Change an office's names or contacts (absent keys stay) inside the admin's division."""
    note(office=office_id, changed=sorted(body.model_fields_set))
    regions = services.engine.regions

    def work(_reservation: Reservation | None) -> OfficePublic:
        name = body.name
        office = regions.update_office(
            admin.division,
            office_id,
            name_zh=name.zh if name is not None else None,
            name_en=name.en if name is not None else None,
            phone=body.phone,
            address=body.address,
            hours=body.hours,
        )
        return OfficePublic.of(office, regions)

    asked = ("PATCH", request.url.path, body.model_dump(mode="json", exclude_unset=True))
    return run_once(services, admin, idempotency_key, asked, 200, work)
