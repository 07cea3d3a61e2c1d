"""Domain errors to HTTP answers, in one table.

Routes never build ``HTTPException`` for domain failures: the engine raises its error tree
(``engine.errors``), the forms package its own (``forms.errors``), the API its two
(``NotAuthenticated`` here; role checks raise ``engine.errors.NotAllowed``), and the
handlers below answer each with the status of the nearest class in ``STATUS``. Errors
carrying problems answer ``{"detail": [problem, ...]}`` with every problem; the others
``{"detail": message}``. A database that cannot be reached (a restart, a lost connection,
a lock held too long) is answered 503 with ``Retry-After``: the request may be sent again,
and with its ``Idempotency-Key`` it is done once and answered with what was done. Anything
else unexpected is answered by the request middleware (``api.app``) as a bare 500 with the
request id, never with a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.logs import current_request_id, note
from api.schemas.common import ErrorPublic, ProblemsPublic
from engine.errors import (
    Conflict,
    DefinitionError,
    EngineError,
    ExpressionFailed,
    ExpressionRefused,
    InvalidInput,
    NotAllowed,
    NotFound,
    Problem,
    TooLarge,
    TooManyAttempts,
)
from forms.errors import FormConflict, SpecProblem, UnknownItem

log = logging.getLogger(__name__)

# Seconds a client waits before sending a request again that met a database outage.
OUTAGE_RETRY_AFTER = 2


class NotAuthenticated(Exception):
    """No valid bearer token: missing, malformed, expired, or its account is gone or disabled."""

    def __init__(self, message: str = "请先登录 (not authenticated)") -> None:
        super().__init__(message)
        self.message = message


# The one table: error class -> HTTP status. The nearest class in an error's MRO wins.
STATUS: dict[type[Exception], int] = {
    NotAuthenticated: 401,
    NotAllowed: 403,
    NotFound: 404,
    UnknownItem: 404,
    Conflict: 409,
    TooLarge: 413,
    TooManyAttempts: 429,
    InvalidInput: 422,
    DefinitionError: 422,
    ExpressionRefused: 422,
    ExpressionFailed: 422,
    FormConflict: 422,
    EngineError: 400,
}

# OpenAPI descriptions of the error answers, for the routes' ``responses``.
ERROR_DOCS: dict[int, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "未登录或令牌无效 (not authenticated)"},
    403: {"model": ErrorPublic, "description": "无权执行此操作 (not allowed)"},
    404: {"model": ErrorPublic, "description": "不存在或不可见 (unknown, or not visible to the caller)"},
    409: {"model": ErrorPublic, "description": "状态冲突 (conflict with the current state)"},
    413: {"model": ErrorPublic, "description": "内容过大 (too large)"},
    503: {
        "model": ErrorPublic,
        "description": "数据库暂时不可用，请按 Retry-After 重试 (database unavailable for now)",
    },
    422: {
        "model": ProblemsPublic,
        "description": "输入有误，列出全部问题 (invalid input, every problem listed)",
    },
    429: {"model": ErrorPublic, "description": "尝试过多，请按 Retry-After 稍后再试 (too many attempts)"},
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry for the given error statuses (401 and 503 always included)."""
    return {code: ERROR_DOCS[code] for code in sorted({401, 503, *codes})}


def status_for(exc: Exception) -> int:
    """The HTTP status of an error: the nearest class of its MRO in ``STATUS``."""
    for cls in type(exc).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 500


def _problem_dicts(problems: Sequence[Problem | SpecProblem]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in problems:
        if isinstance(p, Problem):
            out.append(p.as_dict())
        else:
            out.append({"message": p.message, "where": p.where, "rule": p.rule, "message_en": p.message_en})
    return out


def error_body(exc: Exception) -> dict[str, Any]:
    """The JSON body for a handled error: every problem when it has any, else its message."""
    problems = getattr(exc, "problems", None)
    if isinstance(exc, InvalidInput | DefinitionError | FormConflict) and problems:
        return {"detail": _problem_dicts(problems)}
    message = getattr(exc, "message", None) or str(exc)
    return {"detail": message}


async def _handle_known(_request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    note(error=type(exc).__name__)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        headers = {"Retry-After": str(retry_after)}
    return JSONResponse(error_body(exc), status_code=status, headers=headers)


async def _handle_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems: list[dict[str, Any]] = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        message_en = str(error.get("msg", "invalid"))
        problems.append(
            {
                "message": f"格式有误: {message_en}",
                "where": where,
                "rule": str(error.get("type", "")),
                "message_en": message_en,
            }
        )
    note(error="RequestValidationError")
    return JSONResponse({"detail": problems}, status_code=422)


async def _handle_http(request: Request, exc: Exception) -> Response:
    """Framework answers (unknown path, wrong method) as they are; a body that cannot be parsed is a 422."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        note(error="MalformedBody")
        problem = {
            "message": "请求体无法解析",
            "where": "body",
            "rule": "malformed",
            "message_en": str(exc.detail),
        }
        return JSONResponse({"detail": [problem]}, status_code=422)
    return await http_exception_handler(request, exc)


def database_unavailable(exc: BaseException) -> bool:
    """Whether the error says the database cannot be reached now (so a retry may succeed).

    SQLAlchemy raises ``OperationalError`` for a refused or dropped connection, a server
    shutting down, a lock wait that timed out and a serialization failure, ``InterfaceError``
    for a connection the driver already closed, and marks any error that lost its connection
    ``connection_invalidated``.
    """
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def unavailable_answer() -> tuple[dict[str, Any], dict[str, str]]:
    """Body and headers of the 503 for a database outage: retry after a moment."""
    body = {
        "detail": "数据库暂时不可用，请稍后重试 (the database is unavailable; retry shortly)",
        "request_id": current_request_id(),
    }
    return body, {"Retry-After": str(OUTAGE_RETRY_AFTER)}


async def _handle_database(_request: Request, exc: Exception) -> JSONResponse:
    """503 for an outage; any other database error is unexpected and goes on to the last resort."""
    if not database_unavailable(exc):
        raise exc
    log.warning("database unavailable: %s", type(exc.__cause__ or exc).__name__)
    note(error="DatabaseUnavailable")
    body, headers = unavailable_answer()
    return JSONResponse(body, status_code=503, headers=headers)


def internal_error_body() -> dict[str, Any]:
    """What a client sees of an unexpected failure: nothing but the request id to quote."""
    return {"detail": "internal error", "request_id": current_request_id()}


def install(app: FastAPI) -> None:
    """Register the handlers of every class in ``STATUS`` and of request validation."""
    for cls in STATUS:
        app.add_exception_handler(cls, _handle_known)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(DBAPIError, _handle_database)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
