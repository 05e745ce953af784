"""``POST /stream`` (Server-Sent Events), ``POST /generate`` (one JSON answer), ``POST /start``
(a run without a connection) and ``GET /stream/{requestId}`` (rejoin a run, as plain
``EventSource`` can)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import anyio
import orjson
from fastapi import APIRouter, Header, Query, Request, Response

from app.api.chat.schemas import ChatRequest, StartResponse
from app.api.deps import Services, ServicesDep
from app.api.params import RequestIdPath, UserIdQuery
from app.api.streaming import admit, event_stream, launch, log_position, run_frames
from app.auth.principal import Principal, PrincipalDep, acting_scope, acting_user
from app.auth.stream_tokens import ACCESS_TTL, check_stream_token, stream_token
from app.errors import AppError, RunNotFound, Unauthenticated, UpstreamError
from app.errors.openapi import AUTH_REFUSALS, ErrorEnvelope
from app.observability.logs import turn_context
from app.runs.events import Reply
from app.runs.run import Run
from app.threads.access import may_see
from app.wire.chat import ChatEncoder, final_payload
from app.wire.chat_final import FinalResponse
from app.wire.json import JSONResponse, JSONRoute
from app.wire.sse import EventStream, frame

log = logging.getLogger("app.chat")
router = APIRouter(tags=["chat"], route_class=JSONRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "Unknown graph or version, or thread"},
    409: {
        "model": ErrorEnvelope,
        "description": "The thread belongs to another graph, is busy, or the requestId is "
        "already running; or an interrupt is pending (interrupt_pending: answer it with "
        "resume) or none is (no_pending_interrupt)",
    },
    **AUTH_REFUSALS,
    422: {"model": ErrorEnvelope, "description": "Invalid body or graph settings"},
    429: {"model": ErrorEnvelope, "description": "A per-user limit: rate, or runs at once"},
    503: {"model": ErrorEnvelope, "description": "Thread memory is unreachable"},
}


async def _log_frames(services: Services, request_id: str, after: int) -> AsyncIterator[bytes]:
    """A run of another replica, read from its log in Redis."""
    run_log = services.stores.run_log
    retry = b"retry: %d\n" % services.settings.sse_retry_ms
    last = after
    try:
        async with aclosing(run_log.frames(request_id, after)) as batches:
            async for batch in batches:
                out = b"".join(frame(position, name, data) for position, name, data in batch)
                last = batch[-1][0]
                yield retry + out
                retry = b""
    except AppError as exc:
        log.warning("rejoined stream failed: %s: %s", exc.code, exc.message)
        services.metrics.errors.labels(exc.code).inc()
        yield retry + frame(last + 1, b"error", orjson.dumps(exc.payload(request_id)))


async def _start(
    request: Request, body: ChatRequest, services: ServicesDep, principal: Principal | None
) -> Run:
    request_id = body.request_id or uuid.uuid4().hex
    request.state.request_id = request_id
    user = acting_user(principal, body.user_id)
    context = {"requestId": request_id, "threadId": body.thread_id or "", "userId": user}
    if principal is not None:
        context["principal"] = principal.label
    turn_context.set(context)
    await admit(services, user)
    spec = services.binder.bind(body, request_id, user)
    if body.thread_id is not None:
        await services.threads.check(spec)
    await services.runs.runner.check_interrupts(spec)
    if not body.thread_id:
        turn_context.set({**context, "threadId": spec.thread_id})
    return await launch(services, spec)


def _frames(
    services: Services, run: Run, *, after: int, shutdown: anyio.Event
) -> AsyncIterator[bytes]:
    encoder = ChatEncoder(run.spec, retry_ms=services.settings.sse_retry_ms)
    return run_frames(services, run, encoder, after=after, shutdown=shutdown)


@router.post(
    "/stream",
    summary="Stream a reply as Server-Sent Events",
    response_class=EventStream,
    responses={
        200: {
            "description": "`stream_event` chunk frames, then one `final` (or `error`) frame",
            "content": {"text/event-stream": {}},
        },
        **_ERRORS,
    },
)
async def stream(
    request: Request, body: ChatRequest, services: ServicesDep, principal: PrincipalDep
) -> EventStream:
    run = await _start(request, body, services, principal)
    shutdown = anyio.Event()
    return event_stream(services, _frames(services, run, after=0, shutdown=shutdown), shutdown)


@router.post(
    "/start",
    summary="Start a run without holding a connection; follow it at streamUrl",
    status_code=202,
    response_model=StartResponse,
    responses=_ERRORS,
)
async def start(
    request: Request, body: ChatRequest, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    run = await _start(request, body, services, principal)
    services.runs.detached(run)
    spec = run.spec
    query = {"userId": spec.user_id}
    if services.auth_enabled:
        # What a plain EventSource needs, as it cannot send an Authorization header.
        query["access"] = stream_token(
            services.stream_secret, spec.request_id, spec.user_id, ACCESS_TTL
        )
    # Under the server's root path, so that the URL also works behind a prefixing proxy.
    root = request.scope.get("root_path", "").rstrip("/")
    url = f"{root}/stream/{quote(spec.request_id)}?{urlencode(query)}"
    payload = StartResponse(requestId=spec.request_id, threadId=spec.thread_id, streamUrl=url)
    return JSONResponse(payload.model_dump(by_alias=True), status_code=202)


@router.get(
    "/stream/{request_id}",
    summary="Rejoin a run: replay its frames after Last-Event-ID, then follow it live",
    response_class=EventStream,
    responses={
        200: {
            "description": "The run's frames after the last one seen, then live ones until "
            "`final` or `error` (`run_lost` if its server went away)",
            "content": {"text/event-stream": {}},
        },
        **AUTH_REFUSALS,
        404: {"model": ErrorEnvelope, "description": "No such run (or no longer), or not yours"},
        422: {"model": ErrorEnvelope, "description": "Invalid requestId or Last-Event-ID"},
        503: {"model": ErrorEnvelope, "description": "Run logs are unreachable"},
        204: {"description": "The run ended at or before Last-Event-ID: nothing more to send"},
    },
)
async def rejoin(
    request_id: RequestIdPath,
    services: ServicesDep,
    principal: PrincipalDep,
    user_id: UserIdQuery = None,
    access: Annotated[str | None, Query(max_length=200)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_query: Annotated[str | None, Query(alias="lastEventId", max_length=20)] = None,
) -> Response:
    after = log_position(last_event_id if last_event_id is not None else last_event_query)
    missing = RunNotFound(
        f"no run {request_id!r} to rejoin: unknown, expired, or another user's (a run is seen "
        "only by its owner: name the owner's userId, or send the owner's credential)"
    )
    if principal is None:  # no credential, but the access token of POST /start's streamUrl
        if not (
            user_id
            and access
            and check_stream_token(services.stream_secret, access, request_id, user_id)
        ):
            raise Unauthenticated(
                "Send a valid credential, or use the streamUrl that POST /start answered."
            )
    else:
        user_id = principal.user_for(user_id)
    shutdown = anyio.Event()
    run = services.runs.find(request_id)
    if run is not None and after < run.base:
        run = None  # taken over here: the log holds the frames before it, and goes on
    if run is not None:
        if not may_see(run.spec.user_id, user_id):
            raise missing
        if run.done and after >= run.end_position + (run.error is not None):
            return _ended()
        frames = _frames(services, run, after=after, shutdown=shutdown)
        return event_stream(services, frames, shutdown)
    owner = await services.stores.run_log.owner(request_id)
    if owner is None or not may_see(owner.user_id, user_id):
        raise missing
    if after and await services.stores.run_log.ended_by(request_id, after):
        return _ended()
    return event_stream(services, _log_frames(services, request_id, after), shutdown)


async def _owner_of(services: Services, request_id: str) -> str | None:
    """Whose run ``request_id`` is, here or (through its log) on another replica."""
    run = services.runs.find(request_id)
    if run is not None:
        return run.spec.user_id
    found = await services.stores.run_log.owner(request_id)
    return found.user_id if found is not None else None


def _ended() -> Response:
    """For a client that saw a run's last frame and asks again (EventSource reconnects when
    the server closes a stream): nothing more. A 204 is what makes EventSource stop."""
    return Response(status_code=204)


@router.post(
    "/generate",
    summary="Answer with the whole reply as JSON",
    response_model=FinalResponse,
    responses={
        **_ERRORS,
        502: {"model": ErrorEnvelope, "description": "The model provider failed"},
        504: {"model": ErrorEnvelope, "description": "The model provider timed out"},
    },
)
async def generate(
    request: Request, body: ChatRequest, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    run = await _start(request, body, services, principal)
    spec = run.spec
    reply: Reply | None = None
    async with aclosing(run.follow(0)) as batches:
        async for _first, batch in batches:
            if isinstance(batch[-1], Reply):
                reply = batch[-1]
    if reply is None:  # run() always ends with a Reply unless it raised
        raise UpstreamError("The model produced no reply.")
    return JSONResponse(final_payload(spec, reply))


@router.post(
    "/cancel/{request_id}",
    summary="Stop a run in flight; its stream ends with finishReason 'cancelled'",
    responses={
        **AUTH_REFUSALS,
        404: {"model": ErrorEnvelope, "description": "No such run in flight"},
        422: {"model": ErrorEnvelope, "description": "Invalid requestId"},
    },
)
async def cancel(
    request_id: RequestIdPath,
    services: ServicesDep,
    principal: PrincipalDep,
    user_id: UserIdQuery = None,
) -> dict[str, Any]:
    # A user may cancel only their own runs; a service key (or an open server) may cancel any,
    # or, naming a userId, only that user's.
    actor = acting_scope(principal, user_id)
    missing = RunNotFound(f"no run {request_id!r} is in flight")
    if actor is not None:
        owner = await _owner_of(services, request_id)
        if owner is None or not may_see(owner, actor):
            raise missing
    if not await services.runs.cancel(request_id):
        raise missing
    return {"requestId": request_id, "cancelled": True}
