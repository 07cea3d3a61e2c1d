"""Department queues and tasks: list, look, claim, unclaim, decide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import (
    BUNDLE_KEY,
    DEPARTMENT_KEY,
    USERNAME,
    ClerkActor,
    Cursor,
    EngineDep,
    IdempotencyKey,
    Limit,
    Services,
    ServicesDep,
    StaffActor,
    TaskId,
    TaskMaterialActor,
)
from api.errors import responses
from api.idempotency import run_once
from api.logs import note
from api.routes.materials import CONTENT_DOC, MATERIAL_KIND, stream_material
from api.routing import PrefixedRouter
from api.schemas.common import DIVISION_CODE
from api.schemas.reviews import reviews_public
from api.schemas.tasks import TaskComplete, TaskDetailPublic, TaskListPublic, TaskPublic
from engine.cases.states import WorkItemState
from engine.errors import MaterialNotFound
from engine.people.actors import Actor
from engine.storage.idempotency import Reservation, outcome_id

router = PrefixedRouter(prefix="/api/tasks", tags=["tasks"])


@router.get("", response_model=TaskListPublic, responses=responses(403, 422))
def list_tasks(
    actor: StaffActor,
    engine: EngineDep,
    department: Annotated[
        str | None, Query(pattern=DEPARTMENT_KEY, description="部门 (department key)")
    ] = None,
    division: Annotated[
        str | None,
        Query(
            pattern=DIVISION_CODE,
            description="行政区划：该区划及其下级的任务，限于本人可见范围 "
            "(division code: tasks of it and below, within what the caller may see)",
        ),
    ] = None,
    state: Annotated[
        WorkItemState | None, Query(description="状态；缺省为待办和已认领 (default: open tasks)")
    ] = None,
    bundle: Annotated[str | None, Query(pattern=BUNDLE_KEY, description="事项包 (bundle key)")] = None,
    assignee: Annotated[
        str | None, Query(pattern=USERNAME, description="认领人；`me` 为自己 (assignee; `me` for yourself)")
    ] = None,
    overdue: Annotated[
        bool | None, Query(description="只看超期或未超期 (only overdue, or only on time)")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> TaskListPublic:
    """A department queue, by due time, in stable cursor pages.

    A clerk's default queue is their own office's; a supervisor's, their departments' offices
    in their division's subtree. ``division`` narrows it (outside the caller's reach: empty).
    """
    page = engine.list_tasks(
        actor,
        department=department,
        division=division,
        state=state,
        bundle=bundle,
        assignee=assignee,
        overdue=overdue,
        cursor=cursor,
        limit=limit,
    )
    return TaskListPublic(items=[TaskPublic.from_view(t) for t in page.items], next=page.next)


@router.get("/{task_id}", response_model=TaskDetailPublic, responses=responses(403, 404, 422))
def get_task(task_id: TaskId, actor: StaffActor, engine: EngineDep) -> TaskDetailPublic:
    """A task with its department's view of the form data and materials, and example decision data.

    ``reviews`` (智能预审) holds each material's findings for the fields this item may see.
    """
    detail = engine.get_task(actor, task_id)
    answer = TaskDetailPublic.from_detail(detail)
    answer.reviews = reviews_public(engine.reviews.for_task(detail))
    return answer


@router.post("/{task_id}/claim", response_model=TaskPublic, responses=responses(403, 404, 409, 422))
def claim_task(
    task_id: TaskId,
    actor: ClerkActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Take a task from the queue; 409 when someone else holds it (claiming one's own task again is a 200)."""
    note(task_id=task_id)

    def work(_reservation: Reservation | None) -> TaskPublic:
        view = services.engine.claim(actor, task_id)
        note(case_id=view.case_id)
        return TaskPublic.from_view(view)

    return run_once(services, actor, idempotency_key, ("POST", request.url.path, None), 200, work)


@router.post("/{task_id}/unclaim", response_model=TaskPublic, responses=responses(403, 404, 409, 422))
def unclaim_task(
    task_id: TaskId,
    actor: ClerkActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Put a task one holds back in the queue."""
    note(task_id=task_id)

    def work(reservation: Reservation | None) -> TaskPublic:
        view = services.engine.unclaim(actor, task_id, reservation=reservation)
        note(case_id=view.case_id)
        return TaskPublic.from_view(view)

    asked = ("POST", request.url.path, None)
    return run_once(services, actor, idempotency_key, asked, 200, work, _task_of(services, actor))


@router.post("/{task_id}/complete", response_model=TaskPublic, responses=responses(403, 404, 409, 422))
def complete_task(
    task_id: TaskId,
    body: TaskComplete,
    actor: ClerkActor,
    services: ServicesDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Approve (with the item's decision data) or return (with every problem) a task one holds."""
    note(task_id=task_id, decision=body.outcome.value)

    def work(reservation: Reservation | None) -> TaskPublic:
        view = services.engine.complete(
            actor,
            task_id,
            body.outcome,
            body.data,
            body.comment,
            [p.model_dump(exclude_none=True) for p in body.problems],
            reservation=reservation,
        )
        note(case_id=view.case_id)
        return TaskPublic.from_view(view)

    asked = ("POST", request.url.path, body)
    return run_once(services, actor, idempotency_key, asked, 200, work, _task_of(services, actor))


def _task_of(services: Services, actor: Actor) -> Callable[[str], TaskPublic]:
    """The answer of a task action rebuilt from its recorded outcome (``task:34``): the task now."""

    def recover(outcome: str) -> TaskPublic:
        return TaskPublic.from_view(services.engine.get_task(actor, outcome_id(outcome, "task")).task)

    return recover


@router.get(
    "/{task_id}/materials/{kind}",
    response_class=StreamingResponse,
    responses={**CONTENT_DOC, **responses(403, 404, 422)},
)
def task_material(
    task_id: TaskId,
    kind: Annotated[str, Path(pattern=MATERIAL_KIND, description="材料类型 (material kind)")],
    actor: TaskMaterialActor,
    engine: EngineDep,
) -> StreamingResponse:
    """A document of the task's case, when the task's department view holds it (404 otherwise).

    A department's system account downloads here the materials of its external tasks (the
    ``materials`` of a fetched task link here); any other task is a 404 for it.
    """
    detail = engine.get_task(actor, task_id)
    material_id = detail.materials.get(kind)
    if material_id is None:
        raise MaterialNotFound(f"本任务无此材料 (the task has no material {kind!r})")
    info, stream = engine.materials.open(material_id)
    return stream_material(info, stream)
