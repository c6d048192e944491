"""Every error the API answers, as JSON ``{"error": {"code", "message", "hint"}}``.

Never HTML, never a traceback: legato's own errors map to a status by kind
(:data:`STATUS_OF`), request validation to 422 naming the field, an unreachable store to
503 with a hint (each request tries the store again, so the server recovers by itself),
and anything unexpected to a 500 that says only where to look (the server's log).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from legato.errors import (
    DefinitionError,
    IdempotencyConflictError,
    InputError,
    LegatoError,
    ParameterError,
    RunNotFoundError,
    RunStateError,
    SerializationError,
    StoreError,
    UsageError,
)

log = logging.getLogger("legato.server")


class ApiError(Exception):
    """An answer other than success: HTTP ``status``, a stable ``code``, what happened
    (``message``) and what to do (``hint``)."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint


def error_body(code: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "hint": hint}}


def error_response(
    status: int, code: str, message: str, hint: str | None = None, **headers: str
) -> JSONResponse:
    return JSONResponse(error_body(code, message, hint), status_code=status, headers=headers)


# Most specific first: the first class an error is an instance of decides.
STATUS_OF: tuple[tuple[type[LegatoError], int, str, str | None], ...] = (
    (RunNotFoundError, 404, "run_not_found", "List runs with GET /api/v1/runs."),
    (IdempotencyConflictError, 409, "idempotency_conflict", "Use another Idempotency-Key."),
    (RunStateError, 409, "run_state", "See the run's state with GET /api/v1/runs/{id}."),
    (ParameterError, 422, "invalid_params", "Send the flow's parameters in params."),
    (SerializationError, 422, "invalid_params", "Send parameters as plain JSON values."),
    (DefinitionError, 422, "invalid_target", None),
    (InputError, 422, "invalid_input", None),
    (UsageError, 422, "invalid_request", None),
    (
        StoreError,
        503,
        "store_unavailable",
        "The store cannot be reached or is failing; the server tries again on every "
        "request. Check the database (--db / LEGATO_DB) and retry.",
    ),
)


def from_legato_error(exc: LegatoError) -> ApiError:
    for kind, status, code, hint in STATUS_OF:
        if isinstance(exc, kind):
            return ApiError(status, code, str(exc), hint)
    return ApiError(400, "refused", str(exc))


def validation_message(exc: RequestValidationError) -> tuple[str, str]:
    """A validation failure as (code, "where: what; ..."): the body, a query parameter,
    a header, each named by its path."""
    parts = []
    code = "invalid_request"
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            code = "malformed_json"
        where = ".".join(str(p) for p in error.get("loc", ())) or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return code, "; ".join(parts) or "the request is not valid"


def install(app: FastAPI) -> None:
    """Make every error of ``app`` a JSON error body."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.hint)

    @app.exception_handler(LegatoError)
    async def legato_error(request: Request, exc: LegatoError) -> JSONResponse:
        mapped = from_legato_error(exc)
        if mapped.status == 503:
            log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
        return error_response(mapped.status, mapped.code, mapped.message, mapped.hint)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = validation_message(exc)
        return error_response(
            422, code, message, "See the request's schema in /docs or /openapi.json."
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8): malformed JSON too.
            return error_response(
                422,
                "malformed_json",
                f"body: {exc.detail}",
                "Send a JSON document encoded in UTF-8, with Content-Type: application/json.",
            )
        if exc.status_code == 404:
            return error_response(
                404,
                "not_found",
                f"no such path: {request.url.path}",
                "The API is under /api/v1; see /docs.",
            )
        if exc.status_code == 405:
            return error_response(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.url.path}",
                "See /docs.",
            )
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            500,
            "internal_error",
            "the server met an unexpected error",
            "See the server's log for the details, and report it if it repeats.",
        )


def _documented(description: str) -> dict[str, Any]:
    from legato.server.schemas import ErrorBody

    return {"model": ErrorBody, "description": description}


# The error answers every route may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _documented("No token, or an unknown one."),
    403: _documented("The token's role may not do this."),
    413: _documented("The request body is over 1 MB."),
    422: _documented("The request is not valid (the field is named)."),
    503: _documented("The store cannot be reached; retry."),
}
