"""The Camunda 7.20-compatible REST API under ``/engine-rest``: external tasks and messages.

A department's own system (登记系统, 税务系统, the bank's core system) that already talks to
Camunda 7 runs its worker against onething unchanged: the paths, bodies, status codes and
error bodies are Camunda's (``{"type": ..., "message": ..., "code": ...}``, 204 on the
actions, 404 for a task that does not exist or is not the caller's, 400 for a lock another
worker holds). Only system accounts work tasks (``SystemActor``); an admin may also list,
read, set retries and unlock (``SystemOrAdminActor``). A system account sees and locks only
its department's topics: fetching another department's topic simply returns nothing for it,
and reading another department's task is a 404, as for one that does not exist.

Long polling: ``fetchAndLock`` with ``asyncResponseTimeout`` answers as soon as a task can be
locked. It waits on the engine's ``external_signal`` (notified after the commit that made a
task fetchable in this process) and queries again at least every ``POLL_SECONDS`` (another
process may have made one). The waits run in worker threads of their own limiter, so a
hundred waiting workers never take the threads the other requests need.

Where onething differs, it says so rather than pretending: no tenants (a tenant filter
matches nothing), no process-definition filters on a topic (refused with 400), local
variables are the case's variables (a case has one scope), the task ids are numbers, a
message's ``processInstanceId`` is matched as the case id (the engine's business keys are
a case's code or id; both at once are refused), and ``variablesInResultEnabled`` shows the
variables the message carried (a system never reads a whole case).

The error answers of this API are Camunda's only under ``/engine-rest`` (``install``): the
rest of the app keeps ``{"detail": ...}``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar, cast

import anyio
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.camunda_values import VariableRefused, decode_variables, encode_variables, format_date
from api.deps import EngineDep, SystemActor, SystemOrAdminActor
from api.errors import ERROR_DOCS, NotAuthenticated
from api.logs import note
from api.routing import PrefixedRouter
from api.schemas.camunda import (
    MAX_ASYNC_RESPONSE_TIMEOUT,
    MAX_TASKS,
    CamundaErrorOut,
    CompleteExternalTask,
    CorrelationMessage,
    CorrelationResultOut,
    CountOut,
    ExecutionOut,
    ExtendLock,
    ExternalTaskBpmnError,
    ExternalTaskFailure,
    ExternalTaskOut,
    FetchAndLock,
    LockedExternalTaskOut,
    MaterialLink,
    ProcessInstanceOut,
    Retries,
    TopicRequest,
    Variables,
)
from engine.cases.external_views import ExternalTaskView
from engine.cases.external_views import TopicRequest as EngineTopic
from engine.cases.messages import Correlation
from engine.errors import (
    Conflict,
    EngineError,
    InvalidInput,
    MessageAmbiguous,
    MessageNotCorrelated,
    NotAllowed,
    NotFound,
)
from engine.people.actors import Actor
from engine.service import Engine

T = TypeVar("T")
V = TypeVar("V")
PREFIX = "/engine-rest"
# Ids are ASCII digits that fit a 64-bit column (not "１２３", "1e3" or "-1").
ID_TEXT = re.compile(r"[0-9]{1,18}")
router = PrefixedRouter(prefix=PREFIX, tags=["engine-rest"])

# How often a long poll queries again when no signal came (tasks made by other processes).
POLL_SECONDS = 0.2
# Threads that may sit in a long poll's wait at once (per app); beyond that a poll sleeps instead.
WAITING_THREADS = 256
# The Java class Camunda names for a mismatching message (its REST layer prints the cause).
MISMATCH = "org.camunda.bpm.engine.MismatchingMessageCorrelationException"
SORT_KEYS: dict[str, Callable[[ExternalTaskView], Any]] = {
    "id": lambda t: t.id,
    "lockExpirationTime": lambda t: (t.lock_expires_at is not None, t.lock_expires_at),
    "processInstanceId": lambda t: t.case_id,
    "processDefinitionId": lambda t: (t.bundle, t.version),
    "processDefinitionKey": lambda t: t.bundle,
    "tenantId": lambda t: 0,
    "taskPriority": lambda t: t.priority,
    "createTime": lambda t: t.created_at,
}
CAMUNDA_ERROR_DOCS: dict[int | str, dict[str, Any]] = {
    400: {"model": CamundaErrorOut, "description": "Camunda's 400: bad request, or another worker's lock"},
    401: {"model": CamundaErrorOut, "description": "未登录或令牌无效 (not authenticated)"},
    403: {"model": CamundaErrorOut, "description": "无权执行此操作 (not a system account)"},
    404: {"model": CamundaErrorOut, "description": "External task with id ... does not exist"},
    500: {"model": CamundaErrorOut, "description": "Camunda's ProcessEngineException"},
    # The app refuses a body over its limit before any route runs, in its own form, as on /api.
    413: ERROR_DOCS[413],
    503: ERROR_DOCS[503],  # a database outage is the app's 503 with Retry-After everywhere
}


class CamundaError(Exception):
    """An answer in Camunda's error form: HTTP status, exception class name, message, code."""

    def __init__(self, status: int, kind: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.code = code


def task_missing(task_id: str) -> CamundaError:
    """Camunda's 404 for an external task id it does not know (or the caller may not see)."""
    return CamundaError(404, "RestException", f"External task with id {task_id} does not exist")


def plain_number(text: str) -> int | None:
    """An id as onething writes them (ASCII digits, within a 64-bit column), else None."""
    return int(text) if ID_TEXT.fullmatch(text) else None


def task_number(task_id: str) -> int:
    """The numeric id of an external task; an id that is not one is a task that does not exist."""
    number = plain_number(task_id)
    if number is None:
        raise task_missing(task_id)
    return number


def on_task(task_id: str, work: Callable[[], T]) -> T:
    """Run an action on one task, with Camunda's answers for a missing task and a refused one."""
    try:
        return work()
    except NotFound as exc:
        raise task_missing(task_id) from exc
    except Conflict as exc:  # BadUserRequestException: another worker's lock, an expired lock
        raise CamundaError(400, "RestException", exc.message) from exc


def required(value: V | None, name: str) -> V:
    """A value Camunda's engine insists on (``ensureNotNull``): 400 ``<name> is null`` without it."""
    if value is None or value == "":
        raise CamundaError(400, "RestException", f"{name} is null")
    return value


def worker_of(engine: Engine, actor: Actor, task_id: str, worker_id: str | None) -> str:
    """The worker of a worker's call; without one, 404 for a task that is not there, else 400.

    An unknown id is answered as unknown whatever the body says (ids cannot be probed by
    leaving fields out); a known task without ``workerId`` is Camunda's ``workerId is null``.
    """
    if not worker_id:
        number = task_number(task_id)
        on_task(task_id, lambda: engine.external_task(actor, number))
    return required(worker_id, "workerId")


def variables_of(variables: Variables | None) -> dict[str, Any]:
    """Typed variables as case data (``VariableRefused`` answers 400 in Camunda's words)."""
    if variables is None:
        return {}
    return decode_variables({name: v.model_dump(by_alias=True) for name, v in variables.items()})


def definition_id(task: ExternalTaskView) -> str:
    """Camunda's process definition id (``key:version:id``) of the task's bundle version."""
    return f"{task.bundle}:{task.version}:{task.deployment_id}"


def task_fields(task: ExternalTaskView) -> dict[str, Any]:
    """The fields of Camunda's ExternalTaskDto for one task."""
    return {
        "activity_id": task.activity_id,
        "activity_instance_id": f"{task.activity_id}:{task.spiff_id}",
        # A failure reported without a message is Camunda's null (the engine stores "").
        "error_message": task.error_message or None,
        "execution_id": str(task.spiff_id),
        "id": str(task.id),
        "lock_expiration_time": format_date(task.lock_expires_at) if task.lock_expires_at else None,
        "create_time": format_date(task.created_at),
        "process_definition_id": definition_id(task),
        "process_definition_key": task.bundle,
        "process_definition_version_tag": None,
        "process_instance_id": str(task.case_id),
        "tenant_id": None,
        "retries": task.retries,
        "suspended": False,
        "worker_id": task.worker_id,
        "topic_name": task.topic,
        "priority": task.priority,
        "business_key": task.case_code or str(task.case_id),
    }


def external_task_out(task: ExternalTaskView) -> ExternalTaskOut:
    """A task as ``GET /external-task`` shows it."""
    return ExternalTaskOut(**task_fields(task))


def locked_out(task: ExternalTaskView, extension_properties: bool) -> LockedExternalTaskOut:
    """A task as ``fetchAndLock`` hands it out: its department's view of the case data and documents."""
    materials = [
        MaterialLink(
            kind=str(m["kind"]),
            name=str(m["name"]),
            id=str(m["id"]),
            sha256=str(m["sha256"]),
            size=int(m["size"]),
            mime=str(m["mime"]),
            href=f"/api/tasks/{task.id}/materials/{m['kind']}",
        )
        for m in task.materials
    ]
    properties = None
    if extension_properties:
        properties = {
            "department": task.department,
            "item": task.item,
            "itemName": task.item_name.zh,
            "itemNameEn": task.item_name.en,
            "caseCode": task.case_code or "",
        }
    return LockedExternalTaskOut(
        **task_fields(task),
        error_details=task.error_details,
        variables=encode_variables(task.variables),
        extension_properties=properties,
        materials=materials,
    )


# -- fetch and lock ------------------------------------------------------------------------


def engine_topics(topics: Sequence[TopicRequest]) -> list[EngineTopic]:
    """The topics to ask the engine for; filters onething cannot honour are refused, not ignored."""
    wanted: list[EngineTopic] = []
    for topic in topics:
        unsupported = [
            name
            for name, given in (
                ("processDefinitionId", topic.process_definition_id),
                ("processDefinitionIdIn", topic.process_definition_id_in),
                ("processDefinitionKey", topic.process_definition_key),
                ("processDefinitionKeyIn", topic.process_definition_key_in),
                ("processDefinitionVersionTag", topic.process_definition_version_tag),
                ("processVariables", topic.process_variables),
            )
            if given
        ]
        if unsupported:
            raise CamundaError(
                400,
                "InvalidRequestException",
                f"Topic '{topic.topic_name}': onething does not filter by {', '.join(unsupported)}",
            )
        if topic.tenant_id_in:
            continue  # onething has no tenants: a tenant filter matches no task
        wanted.append(EngineTopic(topic.topic_name, topic.lock_duration, topic.variables, topic.business_key))
    return wanted


def wait_for_signal(engine: Engine, seconds: float) -> None:
    """Block until the engine says an external task became fetchable, or ``seconds`` passed."""
    signal = engine.external_signal
    with signal:
        signal.wait(seconds)


def waiters(request: Request) -> anyio.CapacityLimiter:
    """The app's limiter of long-poll waits, made in its event loop on first use."""
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "engine_rest_waiters", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(WAITING_THREADS)
        request.app.state.engine_rest_waiters = limiter
    return limiter


async def long_poll(
    request: Request, engine: Engine, fetch: Callable[[], list[ExternalTaskView]], timeout_ms: int
) -> list[ExternalTaskView]:
    """Fetch now; while nothing came and time is left, wait for a signal (or a poll) and fetch again.

    A worker that hangs up stops its poll: it would otherwise lock a task nobody receives
    (until the lock expires).
    """
    deadline = time.monotonic() + timeout_ms / 1000
    limiter = waiters(request)
    while True:
        tasks = await run_in_threadpool(fetch)
        left = deadline - time.monotonic()
        if tasks or left <= 0:
            return tasks
        pause = min(POLL_SECONDS, left)
        if limiter.available_tokens >= 1:
            await anyio.to_thread.run_sync(wait_for_signal, engine, pause, limiter=limiter)
        else:
            await anyio.sleep(pause)
        if await request.is_disconnected():  # before fetching (and locking) again
            return []


@router.post(
    "/external-task/fetchAndLock",
    response_model=list[LockedExternalTaskOut],
    responses=CAMUNDA_ERROR_DOCS,
)
async def fetch_and_lock(
    body: FetchAndLock, actor: SystemActor, engine: EngineDep, request: Request
) -> list[LockedExternalTaskOut]:
    """Lock up to ``maxTasks`` of the department's tasks on its topics; long-polls (asyncResponseTimeout)."""
    timeout = body.async_response_timeout or 0
    if timeout > MAX_ASYNC_RESPONSE_TIMEOUT:
        raise CamundaError(
            400,
            "InvalidRequestException",
            "The asynchronous response timeout cannot be set to a value greater than "
            f"{MAX_ASYNC_RESPONSE_TIMEOUT} milliseconds",
        )
    topics = engine_topics(body.topics)
    note(worker=body.worker_id, topics=[t.topic_name for t in body.topics])
    if body.max_tasks == 0 or not topics:
        if timeout:
            await anyio.sleep(timeout / 1000)  # Camunda holds an empty poll for its timeout too
        return []

    def fetch() -> list[ExternalTaskView]:
        wanted = min(body.max_tasks, MAX_TASKS)  # "at most": fewer is always a Camunda answer
        return engine.fetch_and_lock(actor, body.worker_id, wanted, topics, body.use_priority)

    tasks = await long_poll(request, engine, fetch, timeout)
    extensions = {t.topic_name for t in body.topics if t.include_extension_properties}
    return [locked_out(t, t.topic in extensions) for t in tasks]


# -- a worker's actions on its task ------------------------------------------------------


@router.post("/external-task/{task_id}/complete", status_code=204, responses=CAMUNDA_ERROR_DOCS)
def complete(task_id: str, body: CompleteExternalTask, actor: SystemActor, engine: EngineDep) -> Response:
    """Complete a task the worker holds, with variables for the case (local ones join them)."""
    number = task_number(task_id)
    worker = worker_of(engine, actor, task_id, body.worker_id)
    variables = variables_of(body.variables)
    local = variables_of(body.local_variables)
    note(task_id=number, worker=worker)
    on_task(task_id, lambda: engine.complete_external(actor, number, worker, variables, local))
    return Response(status_code=204)


@router.post("/external-task/{task_id}/failure", status_code=204, responses=CAMUNDA_ERROR_DOCS)
def failure(task_id: str, body: ExternalTaskFailure, actor: SystemActor, engine: EngineDep) -> Response:
    """Report a failure: retries left and when to retry; 0 retries raises an incident."""
    number = task_number(task_id)
    worker = worker_of(engine, actor, task_id, body.worker_id)
    note(task_id=number, worker=worker, retries=body.retries)
    on_task(
        task_id,
        lambda: engine.fail_external(
            actor,
            number,
            worker,
            body.error_message or "",
            body.error_details,
            body.retries,
            body.retry_timeout,
        ),
    )
    return Response(status_code=204)


@router.post("/external-task/{task_id}/bpmnError", status_code=204, responses=CAMUNDA_ERROR_DOCS)
def bpmn_error(task_id: str, body: ExternalTaskBpmnError, actor: SystemActor, engine: EngineDep) -> Response:
    """Throw a BPMN error from the task: an error boundary event on it takes the case on."""
    number = task_number(task_id)
    worker = worker_of(engine, actor, task_id, body.worker_id)
    code = required(body.error_code, "errorCode")
    variables = variables_of(body.variables)
    note(task_id=number, worker=worker, error_code=code)
    on_task(
        task_id,
        lambda: engine.bpmn_error_external(actor, number, worker, code, body.error_message or "", variables),
    )
    return Response(status_code=204)


@router.post("/external-task/{task_id}/extendLock", status_code=204, responses=CAMUNDA_ERROR_DOCS)
def extend_lock(task_id: str, body: ExtendLock, actor: SystemActor, engine: EngineDep) -> Response:
    """Extend the worker's lock by ``newDuration`` milliseconds from now."""
    number = task_number(task_id)
    worker = worker_of(engine, actor, task_id, body.worker_id)
    duration = required(body.new_duration, "newDuration")
    if duration <= 0:
        raise CamundaError(400, "InvalidRequestException", "newDuration must be greater than 0")
    on_task(task_id, lambda: engine.extend_lock(actor, number, worker, duration))
    return Response(status_code=204)


@router.post("/external-task/{task_id}/unlock", status_code=204, responses=CAMUNDA_ERROR_DOCS)
def unlock(task_id: str, actor: SystemOrAdminActor, engine: EngineDep) -> Response:
    """Release the task's lock: any worker may fetch it again."""
    number = task_number(task_id)
    on_task(task_id, lambda: engine.unlock(actor, number))
    return Response(status_code=204)


@router.put("/external-task/{task_id}/retries", status_code=204, responses=CAMUNDA_ERROR_DOCS)
def set_retries(task_id: str, body: Retries, actor: SystemOrAdminActor, engine: EngineDep) -> Response:
    """Set the retries; more than 0 on an incident resolves it and the task can be fetched again."""
    number = task_number(task_id)
    retries = body.retries
    if retries is None:
        on_task(task_id, lambda: engine.external_task(actor, number))  # an unknown id stays a 404
        raise CamundaError(400, "InvalidRequestException", "The number of retries cannot be null.")
    on_task(task_id, lambda: engine.set_retries(actor, number, retries))
    return Response(status_code=204)


# -- reading ------------------------------------------------------------------------------


def queried_tasks(
    actor: Actor,
    engine: Engine,
    *,
    external_task_id: str | None,
    topic_name: str | None,
    worker_id: str | None,
    locked: bool | None,
    not_locked: bool | None,
    with_retries_left: bool | None,
    no_retries_left: bool | None,
    process_instance_id: str | None,
    activity_id: str | None,
    priority_higher_than_or_equals: int | None,
    priority_lower_than_or_equals: int | None,
    sort_by: str | None,
    sort_order: str | None,
) -> list[ExternalTaskView]:
    """Camunda's external task query over the tasks the caller may see, sorted, not yet paged."""
    if (sort_by is None) != (sort_order is None):
        raise CamundaError(
            400,
            "InvalidRequestException",
            "Only a single sorting parameter specified. sortBy and sortOrder required",
        )
    if sort_by is not None and sort_by not in SORT_KEYS:
        raise CamundaError(
            400, "InvalidRequestException", f"Cannot set query parameter 'sortBy' to value '{sort_by}'"
        )
    if sort_order is not None and sort_order not in ("asc", "desc"):
        raise CamundaError(
            400, "InvalidRequestException", f"Cannot set query parameter 'sortOrder' to value '{sort_order}'"
        )
    case_number = None if process_instance_id is None else plain_number(process_instance_id)
    if process_instance_id is not None and case_number is None:
        return []  # case ids are numbers: no case has this id
    if external_task_id is not None:
        number = plain_number(external_task_id)
        if number is None:
            return []
        try:
            tasks = [engine.external_task(actor, number)]
        except NotFound:
            return []
    else:
        tasks = engine.external_tasks(
            actor,
            topic=topic_name,
            worker_id=worker_id,
            locked=locked,
            not_locked=not_locked,
            with_retries_left=with_retries_left,
            no_retries_left=no_retries_left,
            process_instance_id=case_number,
        )
    checks: list[Callable[[ExternalTaskView], bool]] = []
    if external_task_id is not None:
        checks.append(lambda t: topic_name is None or t.topic == topic_name)
        checks.append(lambda t: worker_id is None or t.worker_id == worker_id)
    if activity_id is not None:
        checks.append(lambda t: t.activity_id == activity_id)
    if priority_higher_than_or_equals is not None:
        checks.append(lambda t: t.priority >= priority_higher_than_or_equals)
    if priority_lower_than_or_equals is not None:
        checks.append(lambda t: t.priority <= priority_lower_than_or_equals)
    tasks = [t for t in tasks if all(check(t) for check in checks)]
    if sort_by is not None:
        tasks.sort(key=SORT_KEYS[sort_by], reverse=sort_order == "desc")
    return tasks


def task_query(
    actor: SystemOrAdminActor,
    engine: EngineDep,
    external_task_id: Annotated[str | None, Query(alias="externalTaskId")] = None,
    topic_name: Annotated[str | None, Query(alias="topicName")] = None,
    worker_id: Annotated[str | None, Query(alias="workerId")] = None,
    locked: Annotated[bool | None, Query()] = None,
    not_locked: Annotated[bool | None, Query(alias="notLocked")] = None,
    with_retries_left: Annotated[bool | None, Query(alias="withRetriesLeft")] = None,
    no_retries_left: Annotated[bool | None, Query(alias="noRetriesLeft")] = None,
    process_instance_id: Annotated[str | None, Query(alias="processInstanceId")] = None,
    activity_id: Annotated[str | None, Query(alias="activityId")] = None,
    priority_at_least: Annotated[int | None, Query(alias="priorityHigherThanOrEquals")] = None,
    priority_at_most: Annotated[int | None, Query(alias="priorityLowerThanOrEquals")] = None,
    sort_by: Annotated[str | None, Query(alias="sortBy")] = None,
    sort_order: Annotated[str | None, Query(alias="sortOrder")] = None,
) -> list[ExternalTaskView]:
    """The query parameters of ``GET /external-task`` and ``/count``, applied (a false flag is no filter)."""
    return queried_tasks(
        actor,
        engine,
        external_task_id=external_task_id,
        topic_name=topic_name,
        worker_id=worker_id,
        locked=locked or None,
        not_locked=not_locked or None,
        with_retries_left=with_retries_left or None,
        no_retries_left=no_retries_left or None,
        process_instance_id=process_instance_id,
        activity_id=activity_id,
        priority_higher_than_or_equals=priority_at_least,
        priority_lower_than_or_equals=priority_at_most,
        sort_by=sort_by,
        sort_order=sort_order,
    )


@router.get("/external-task", response_model=list[ExternalTaskOut], responses=CAMUNDA_ERROR_DOCS)
def list_external_tasks(
    tasks: Annotated[list[ExternalTaskView], Depends(task_query)],
    first_result: Annotated[int | None, Query(alias="firstResult", ge=0)] = None,
    max_results: Annotated[int | None, Query(alias="maxResults", ge=0)] = None,
) -> list[ExternalTaskOut]:
    """The external tasks the caller may see that match the query, paged by firstResult/maxResults."""
    first = first_result or 0
    page = tasks[first:] if max_results is None else tasks[first : first + max_results]
    return [external_task_out(t) for t in page]


@router.get("/external-task/count", response_model=CountOut, responses=CAMUNDA_ERROR_DOCS)
def count_external_tasks(tasks: Annotated[list[ExternalTaskView], Depends(task_query)]) -> CountOut:
    """How many external tasks the caller may see match the query."""
    return CountOut(count=len(tasks))


@router.get("/external-task/{task_id}", response_model=ExternalTaskOut, responses=CAMUNDA_ERROR_DOCS)
def get_external_task(task_id: str, actor: SystemOrAdminActor, engine: EngineDep) -> ExternalTaskOut:
    """One external task; 404 when it does not exist or belongs to another department."""
    number = task_number(task_id)
    return external_task_out(on_task(task_id, lambda: engine.external_task(actor, number)))


@router.get(
    "/external-task/{task_id}/errorDetails",
    response_model=None,
    responses={
        200: {
            "description": "the error details, as text",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **CAMUNDA_ERROR_DOCS,
    },
)
def error_details(task_id: str, actor: SystemOrAdminActor, engine: EngineDep) -> PlainTextResponse:
    """The error details of the task's last failure, as text (empty when there were none)."""
    number = task_number(task_id)
    task = on_task(task_id, lambda: engine.external_task(actor, number))
    return PlainTextResponse(task.error_details or "")


# -- messages -----------------------------------------------------------------------------


def correlation_out(result: Correlation, variables: dict[str, dict[str, Any]] | None) -> CorrelationResultOut:
    """One correlation as Camunda's MessageCorrelationResultWithVariableDto."""
    case_id = str(result.case_id)
    if result.kind == "Execution":
        return CorrelationResultOut(
            result_type="Execution",
            execution=ExecutionOut(id=case_id, process_instance_id=case_id, ended=False),
            process_instance=None,
            variables=variables,
        )
    return CorrelationResultOut(
        result_type="ProcessDefinition",
        execution=None,
        process_instance=ProcessInstanceOut(
            id=case_id,
            definition_id=f"{result.bundle}:{result.version}",
            business_key=result.code or case_id,
            ended=False,
        ),
        variables=variables,
    )


@router.post(
    "/message",
    status_code=204,
    response_model=None,
    responses={
        200: {"model": list[CorrelationResultOut], "description": "resultEnabled: where the message went"},
        **CAMUNDA_ERROR_DOCS,
    },
)
def deliver_message(body: CorrelationMessage, actor: SystemOrAdminActor, engine: EngineDep) -> Response:
    """Correlate a message to the one waiting case (or start one); 204, or 200 with the results when asked."""
    if body.message_name is None:
        raise CamundaError(400, "InvalidRequestException", "No message name supplied")
    if body.tenant_id is not None and body.without_tenant_id:
        raise CamundaError(
            400,
            "InvalidRequestException",
            "Parameter 'tenantId' cannot be used together with parameter 'withoutTenantId'.",
        )
    keys = {**variables_of(body.correlation_keys), **variables_of(body.local_correlation_keys)}
    variables = {**variables_of(body.process_variables), **variables_of(body.process_variables_local)}
    business_key = body.business_key
    note(message=body.message_name)
    try:
        if body.tenant_id is not None:
            # onething has no tenants: a tenant names no case and no bundle.
            raise MessageNotCorrelated(
                f"Cannot correlate message '{body.message_name}': "
                "No process definition or execution matches the parameters"
            )
        if body.process_instance_id is not None:
            # The engine matches a business key against a case's code or its id, so an
            # instance id is a business key; both at once cannot be said to it.
            if business_key is not None and business_key != body.process_instance_id:
                raise CamundaError(
                    400,
                    "InvalidRequestException",
                    "onething correlates by businessKey or by processInstanceId, not both",
                )
            if plain_number(body.process_instance_id) is None:
                raise MessageNotCorrelated(
                    f"Cannot correlate message '{body.message_name}': "
                    "No process definition or execution matches the parameters"
                )
            business_key = body.process_instance_id
        results = engine.correlate_message(
            actor,
            body.message_name,
            business_key=business_key,
            correlation_keys=keys,
            process_variables=variables,
            all=body.all,
        )
    except (MessageNotCorrelated, MessageAmbiguous) as exc:
        raise CamundaError(400, "RestException", f"{MISMATCH}: {exc.message}") from exc
    if not body.result_enabled:
        return Response(status_code=204)
    shown = encode_variables(variables) if body.variables_in_result_enabled else None
    answer = [correlation_out(r, shown).model_dump(by_alias=True, mode="json") for r in results]
    return JSONResponse(answer)


# -- error answers ------------------------------------------------------------------------

Handler = Callable[[Request, Exception], Awaitable[Response]]


def camunda_body(status: int, kind: str, message: str, code: int | None) -> JSONResponse:
    """Camunda's ExceptionDto as an answer."""
    return JSONResponse({"type": kind, "message": message, "code": code}, status_code=status)


def camunda_answer(exc: Exception) -> JSONResponse:
    """Any error raised under /engine-rest, in Camunda's form and with its status."""
    note(error=type(exc).__name__)
    if isinstance(exc, CamundaError):
        return camunda_body(exc.status, exc.kind, exc.message, exc.code)
    if isinstance(exc, VariableRefused):
        return camunda_body(400, exc.kind, exc.message, 0 if exc.kind == "ProcessEngineException" else None)
    if isinstance(exc, NotAuthenticated):
        answer = camunda_body(401, "AuthenticationException", exc.message, None)
        answer.headers["WWW-Authenticate"] = "Bearer"
        return answer
    if isinstance(exc, NotAllowed):
        answer = camunda_body(403, "AuthorizationException", exc.message, 0)
        return answer
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
        )
        return camunda_body(400, "InvalidRequestException", problems, None)
    if isinstance(exc, StarletteHTTPException):
        kind = "NotFoundException" if exc.status_code == 404 else "RestException"
        status = 400 if exc.status_code == 400 else exc.status_code
        return camunda_body(status, kind, str(exc.detail), None)
    if isinstance(exc, NotFound):
        return camunda_body(404, "NotFoundException", exc.message, 0)
    if isinstance(exc, InvalidInput):
        # Every problem in the one message, so the worker's log says what to fix.
        said = "; ".join(
            f"{p.where}: {p.message_en or p.message}" if p.where else p.message_en or p.message
            for p in exc.problems
        )
        return camunda_body(
            400, "BadUserRequestException", f"{exc.message}: {said}" if said else exc.message, 0
        )
    if isinstance(exc, Conflict):
        return camunda_body(400, "BadUserRequestException", exc.message, 0)
    message = exc.message if isinstance(exc, EngineError) else str(exc)
    return camunda_body(500, "ProcessEngineException", message, 0)


def scoped(original: Handler | None) -> Handler:
    """A handler that answers in Camunda's form under /engine-rest and hands the rest to ``original``."""

    async def handle(request: Request, exc: Exception) -> Response:
        if request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/"):
            return camunda_answer(exc)
        if original is None:
            raise exc
        return await original(request, exc)

    return handle


def install(app: FastAPI) -> None:
    """Add the router and answer errors under /engine-rest as Camunda does (the others as before)."""
    app.include_router(router)
    handled: list[type[Exception]] = [
        CamundaError,
        VariableRefused,
        RequestValidationError,
        StarletteHTTPException,
        NotAuthenticated,
        EngineError,
    ]
    # Every handler the app has (each engine error class has its own) but the database
    # outage's, which stays a 503 with Retry-After everywhere.
    for key in {*app.exception_handlers, *handled}:
        if isinstance(key, int) or issubclass(key, DBAPIError):
            continue
        original = cast(Handler | None, app.exception_handlers.get(key))
        app.exception_handlers[key] = scoped(original)
