"""One envelope for every error: ``{"error": {"code", "message", "requestId"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from app.errors import AppError, envelope
from app.wire.json import JSONResponse

log = logging.getLogger("app.errors")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    request.app.state.metrics.errors.labels(exc.code).inc()
    if exc.status >= 500:
        log.warning("request failed: %s: %s", exc.code, exc.message)
    return JSONResponse(
        exc.envelope(request_id_of(request)),
        status_code=exc.status,
        headers=exc.headers(),
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    body = exc.body if isinstance(exc.body, dict) else {}
    rid = body.get("requestId")
    raw = exc.errors()
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in raw
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    message = f"{where}: {first['msg']}"
    if first.get("type") == "json_invalid":
        # FastAPI puts the decoder's reason in ctx and the character offset in loc.
        reason = (raw[0].get("ctx") or {}).get("error", "not JSON")
        message = f"body: the request body is not JSON this server accepts: {reason}"
    return JSONResponse(
        envelope(
            "validation_error",
            message,
            rid if isinstance(rid, str) and len(rid) <= 128 else None,
            details=errors,
        ),
        status_code=422,
    )


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and request.method in ("POST", "PUT", "PATCH"):
        # FastAPI's answer to a body it cannot even decode (not UTF-8): a bad body like any
        # other, so the same 422 and envelope as invalid JSON.
        return JSONResponse(
            envelope(
                "validation_error",
                "body: the request body could not be read as JSON (it must be UTF-8)",
                request_id_of(request),
            ),
            status_code=422,
        )
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        envelope(code, str(exc.detail), request_id_of(request)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(
        envelope("internal_error", "The server failed unexpectedly.", request_id_of(request)),
        status_code=500,
    )


def install(app: FastAPI) -> None:
    # Handlers match through the MRO, so one entry covers every AppError subclass.
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
