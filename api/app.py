"""The FastAPI application: REST under ``/api``, the pages, ``/healthz``.

``create_app`` builds nothing heavy by itself: the engine (from the settings, unless one
is handed in), the accounts, the token signer and the idempotency store are set up in the
app's lifespan, which also brings the schema up to date and deploys the shipped bundles
(for an engine it builds; a handed-in engine is prepared by its owner).
The timer worker is not part of the app: ``onething serve`` starts it beside the app
(``api.worker.start_timer_worker``), ``onething worker`` runs it alone.

Every request passes ``RequestContext`` (outermost): it gives the request an id (the
client's ``X-Request-ID`` when well-formed, else a new one) that comes back in the
answer's header and in every log line; it refuses bodies above their limit (413) while
they stream in; it answers anything unexpected with a bare 500 that quotes the request
id (the traceback goes to the server log only), except a database outage, which is a 503
with ``Retry-After`` wherever it surfaced; and it writes the one log line of every
request: the JSON audit line of a state-changing call, the access line of any other
(``api.logs``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import pages
from api.deps import Services
from api.errors import database_unavailable, internal_error_body, unavailable_answer
from api.errors import install as install_error_handlers
from api.headers import SecurityHeaders
from api.logs import access, audit, begin_request
from api.pages import shell
from api.routes import (
    accounts,
    analytics,
    auth,
    bundles,
    cases,
    certificates,
    divisions,
    drafts,
    engine_rest,
    feedback,
    guide,
    handover,
    incidents,
    materials,
    messages,
    migrations,
    review_figures,
    send_back,
    suspension,
    tasks,
    webhooks,
)
from api.schemas.common import HealthPublic
from api.security import TokenService, signing_key
from engine.bpmn.deployments import load_departments
from engine.people.accounts import AccountService
from engine.people.sign_in import SignInThrottle, ThrottlePolicy
from engine.service import Engine
from engine.storage.idempotency import IdempotencyStore
from engine.storage.settings import Settings

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_BODY_LIMIT = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024

DESCRIPTION = """
onething 运行“高效办成一件事”集成服务：一次申请、一套材料、一个办件、一次告知。
(onething runs "get one thing done efficiently" service bundles: one application, one set of
materials, one case to follow, one notice when anything is missing.)

Sign in with `POST /api/auth/token` (OAuth2 password form) and send `Authorization: Bearer <token>`.
Errors are `{"detail": ...}`: 401 unauthenticated, 403 not allowed for your role, 404 unknown or
not visible to you, 409 conflict, 413 too large, 422 invalid with every problem listed.
Every call that changes something (POST, PUT, PATCH, DELETE under `/api`, but the sign-in) accepts an
`Idempotency-Key` header: a repeat with the same key is done once and answered with the first answer
(`Idempotent-Replayed: true`). Department systems use `/engine-rest`, Camunda 7.20's external
task and message API, with Camunda's status codes and error bodies `{"type", "message", "code"}`.
A database outage is a 503 with `Retry-After`: send the same request again.
"""


class _BodyTooLarge(Exception):
    """Raised into the app when a streamed body passes its limit (the 413 is already sent)."""


class RequestContext:
    """Request id, body limits, the last-resort 500 or 503 and the audit line (see the module docstring)."""

    def __init__(self, app: ASGIApp, upload_limit: int, json_limit: int = JSON_BODY_LIMIT) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.json_limit = json_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        offered = headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if REQUEST_ID_PATTERN.fullmatch(offered) else uuid.uuid4().hex
        current = begin_request(request_id)
        method: str = scope["method"]
        path: str = scope["path"]
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": None, "refused": False}

        async def send_with_id(message: Message) -> None:
            if answer["refused"]:
                return  # the 413 went out already; drop what the app says after it
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        content_type = headers.get("content-type", "")
        limit = self.upload_limit if content_type.startswith("multipart/") else self.json_limit
        declared = headers.get("content-length", "")
        error: str | None = None
        try:
            if declared.isdigit() and int(declared) > limit:
                await self._too_large(send_with_id, limit)
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        if answer["status"] is None:
                            await self._too_large(send_with_id, limit)
                            answer["refused"] = True
                        raise _BodyTooLarge()
                return message

            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            pass
        except Exception as exc:
            error = type(exc).__name__
            if database_unavailable(exc):
                log.warning("database unavailable in %s %s: %s", method, path, error)
                if answer["status"] is None:
                    body, retry = unavailable_answer()
                    await self._send_json(send_with_id, 503, body, headers=retry)
            else:
                log.exception("unhandled error in %s %s", method, path)
                if answer["status"] is None:
                    await self._send_json(send_with_id, 500, internal_error_body())
        finally:
            route = getattr(scope.get("route"), "path", None)
            status, took = answer["status"] or 500, (time.perf_counter() - started) * 1000
            if method not in SAFE_METHODS:
                audit(
                    current,
                    method=method,
                    path=path,
                    route=route,
                    status=status,
                    duration_ms=took,
                    error=error,
                )
            else:
                access(current, method=method, path=path, route=route, status=status, duration_ms=took)

    async def _too_large(self, send: Send, limit: int) -> None:
        body = {"detail": f"请求体超过 {limit} 字节 (request body over {limit} bytes)"}
        await self._send_json(send, 413, body, close=True)

    @staticmethod
    async def _send_json(
        send: Send,
        status: int,
        body: dict[str, Any],
        close: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
        ]
        if close:
            raw_headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})


def _prepare(engine: Engine) -> None:
    """Schema up to date, shipped bundles deployed (both do nothing when already done)."""
    engine.upgrade()
    engine.deploy_shipped()


def build_services(settings: Settings, engine: Engine) -> Services:
    """Accounts, token signer and idempotency store around an engine."""
    return Services(
        settings=settings,
        engine=engine,
        accounts=AccountService(
            engine.db,
            departments=load_departments(settings.processes_dir),
            throttle=SignInThrottle(engine.db, ThrottlePolicy.from_settings(settings)),
            regions=engine.regions,
        ),
        tokens=TokenService(signing_key(settings), settings.token_minutes),
        idempotency=IdempotencyStore(engine.db),
    )


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The web app; its engine is built, prepared and closed by its lifespan unless one is handed in.

    A handed-in engine is its owner's to prepare (``onething serve`` upgrades the schema and
    deploys the shipped bundles before it makes demo accounts), so start-up does it once.
    """
    resolved = settings or (engine.settings if engine is not None else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = engine is None
        running = engine if engine is not None else Engine(resolved)
        try:
            if own:
                await anyio.to_thread.run_sync(_prepare, running)
            app.state.services = await anyio.to_thread.run_sync(build_services, resolved, running)
            yield
        finally:
            if own:
                running.close()

    app = FastAPI(
        title="onething",
        version="1.0",
        summary="高效办成一件事 (get one thing done efficiently): BPMN service bundles across departments",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "auth", "description": "登录 (signing in)"},
            {"name": "bundles", "description": "事项包 (service bundles)"},
            {"name": "materials", "description": "材料 (materials, stored once by content)"},
            {"name": "cases", "description": "办件 (cases)"},
            {"name": "tasks", "description": "部门任务队列 (department queues)"},
            {"name": "feedback", "description": "投诉、整改与督办 (complaints, rectifications, supervision)"},
            {"name": "analytics", "description": "运行分析 (how well bundles run)"},
            {"name": "accounts", "description": "账户管理 (accounts, for admins)"},
            {"name": "divisions", "description": "行政区划与办理机构 (divisions and offices)"},
            {"name": "webhooks", "description": "Webhook 订阅与投递 (webhooks, for admins)"},
            {
                "name": "engine-rest",
                "description": "部门系统接口，兼容 Camunda 7.20 REST (department systems: Camunda 7.20's "
                "external task and message API; errors are Camunda's {type, message, code})",
            },
        ],
    )
    install_error_handlers(app)
    upload_limit = max(resolved.max_upload_bytes, resolved.max_bundle_bytes) + MULTIPART_OVERHEAD
    app.add_middleware(RequestContext, upload_limit=upload_limit)
    app.add_middleware(SecurityHeaders)

    # ``async``: a probe is answered on the event loop, without two thread-pool hops (the
    # endpoint's and its response check's), which were nine tenths of its cost.
    @app.get("/healthz", response_model=HealthPublic, tags=["health"])
    async def healthz() -> HealthPublic:
        """Liveness: the process answers."""
        return HealthPublic(status="ok")

    for module in (
        auth,
        bundles,
        materials,
        cases,
        feedback,
        tasks,
        incidents,
        analytics,
        accounts,
        divisions,
        drafts,
    ):
        app.include_router(module.router)
    app.include_router(messages.router)  # the message centre: every signed-in account, its own only
    app.include_router(certificates.router)  # verification is public; revocation and PDFs check the caller
    app.include_router(webhooks.router)
    app.include_router(migrations.router)  # 版本迁移: analysts and admins
    app.include_router(guide.router)  # 情形引导: any signed-in account, as the bundle itself
    app.include_router(send_back.router)  # 退回到指定环节 and moves: the engine checks who may
    app.include_router(suspension.router)  # 挂起/恢复: supervisors and admins
    app.include_router(handover.router)  # 转办, 委托, release a clerk's tasks, bulk: the engine decides who
    app.include_router(review_figures.router)  # 智能预审 prediction figures: analysts
    engine_rest.install(app)  # its router, and Camunda's error answers under /engine-rest only
    app.include_router(pages.router, include_in_schema=False)
    app.include_router(shell.router, include_in_schema=False)
    shell.install_missing_page(app)  # last: unknown page addresses answer a page, /api and /engine-rest JSON
    pages.mount_static(app)
    return app
