"""``POST /api/chat`` (a turn as the AI SDK's UI message stream), ``GET /api/chat/{id}/stream``
(``useChat({resume: true})``: the thread's run in flight, replayed from its start, then live)
and ``POST /api/chat/{id}/stop``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response

from app.api.aisdk.binder import bind
from app.api.aisdk.schemas import UIChatRequest
from app.api.deps import Services, ServicesDep
from app.api.params import ThreadIdPath
from app.api.streaming import admit, event_stream, run_frames
from app.api.turns import request_id, start_turn
from app.auth.principal import PrincipalDep, UserHeader, acting_scope, acting_user
from app.errors import AppError, RunNotFound
from app.errors.openapi import AUTH_REFUSALS, ErrorEnvelope
from app.runs.run import Run
from app.threads.access import may_see
from app.wire.aisdk import HEADERS, AISDKEncoder, failure
from app.wire.json import JSONRoute
from app.wire.sse import EventStream

log = logging.getLogger("app.aisdk")
router = APIRouter(prefix="/api/chat", tags=["ai-sdk"], route_class=JSONRoute)
PREFIX = "ui"  # request ids of the runs this API starts

_STREAM = {
    "description": "The UI message stream: `data: <part>` lines, then `data: [DONE]`",
    "content": {"text/event-stream": {}},
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_REFUSALS,
    404: {"model": ErrorEnvelope, "description": "Unknown graph, or thread not yours"},
    409: {
        "model": ErrorEnvelope,
        "description": "The thread is busy or belongs to another graph; an approval is "
        "pending (interrupt_pending) or none is (no_pending_interrupt)",
    },
    413: {"model": ErrorEnvelope, "description": "The body is over MAX_BODY_BYTES"},
    422: {"model": ErrorEnvelope, "description": "Invalid body or graph settings"},
    429: {"model": ErrorEnvelope, "description": "A per-user limit: rate, or runs at once"},
    503: {"model": ErrorEnvelope, "description": "Thread memory is unreachable"},
}


def _stream(services: Services, run: Run, encoder: AISDKEncoder) -> EventStream:
    shutdown = anyio.Event()
    frames = run_frames(services, run, encoder, after=0, shutdown=shutdown, head=encoder.head())
    return event_stream(services, frames, shutdown, HEADERS)


@router.post(
    "", summary="A turn as the AI SDK's UI message stream", responses={200: _STREAM, **_ERRORS}
)
async def chat(
    request: Request,
    body: UIChatRequest,
    services: ServicesDep,
    principal: PrincipalDep,
    x_user_id: UserHeader = None,
) -> EventStream:
    rid = request_id(PREFIX)
    request.state.request_id = rid
    user = acting_user(principal, body.user_id or x_user_id)
    await admit(services, user)
    spec = await bind(services, body, rid, user)
    run = await start_turn(services, spec, principal.label if principal else None)
    return _stream(services, run, AISDKEncoder(run.spec))


@router.get(
    "/{thread_id}/stream",
    summary="Resume: the thread's run in flight, from its start, then live",
    responses={
        200: _STREAM,
        204: {"description": "Nothing is in flight on the thread"},
        **AUTH_REFUSALS,
        404: {"model": ErrorEnvelope, "description": "Thread not yours"},
        422: {"model": ErrorEnvelope, "description": "Invalid thread id"},
        503: {"model": ErrorEnvelope, "description": "Run logs are unreachable"},
    },
)
async def resume(
    thread_id: ThreadIdPath,
    services: ServicesDep,
    principal: PrincipalDep,
    x_user_id: UserHeader = None,
) -> Response:
    user = acting_scope(principal, x_user_id or None)
    run = services.runs.on_thread(thread_id)
    # A run taken over here began on another replica: its log holds it from its start.
    if run is not None and not run.done and not run.base:
        if not may_see(run.spec.user_id, user):
            raise _missing(thread_id)
        return _stream(services, run, AISDKEncoder(run.spec))
    holders = await services.stores.claims.holders([thread_id])
    elsewhere = holders.get(thread_id)
    if elsewhere is None:
        await services.threads.load(thread_id, user)  # another user's thread is still a 404
        return Response(status_code=204)
    owner = await services.stores.run_log.owner(elsewhere)
    if owner is None or not may_see(owner.user_id, user):
        raise _missing(thread_id)
    if not elsewhere.startswith(f"{PREFIX}-"):
        # Another replica's run of another API: its log holds that API's frames.
        raise RunNotFound(
            f"thread {thread_id!r}'s run in flight ({elsewhere!r}) was started through another "
            "API on another replica; follow it there (GET /stream/{requestId}) or wait for it"
        )
    shutdown = anyio.Event()
    return event_stream(services, _log_frames(services, elsewhere), shutdown, HEADERS)


async def _log_frames(services: Services, run_id: str) -> AsyncIterator[bytes]:
    """Another replica's run of this API, from its log, which holds this wire format (its
    ``start`` part first)."""
    try:
        async with aclosing(services.stores.run_log.frames(run_id, 0)) as batches:
            async for batch in batches:
                yield b"".join(data for _position, _name, data in batch)
    except AppError as exc:
        log.warning("resumed stream failed: %s: %s", exc.code, exc.message)
        yield failure(exc)


@router.post(
    "/{thread_id}/stop",
    summary="Stop the thread's run in flight; its stream ends with an abort",
    responses={
        **AUTH_REFUSALS,
        404: {"model": ErrorEnvelope, "description": "No run in flight"},
        422: {"model": ErrorEnvelope, "description": "Invalid thread id"},
    },
)
async def stop(
    thread_id: ThreadIdPath,
    services: ServicesDep,
    principal: PrincipalDep,
    x_user_id: UserHeader = None,
) -> dict[str, Any]:
    user = acting_scope(principal, x_user_id or None)
    run = services.runs.on_thread(thread_id)
    run_id: str | None
    if run is not None and not run.done:
        owner, run_id = run.spec.user_id, run.spec.request_id
    else:
        run_id = (await services.stores.claims.holders([thread_id])).get(thread_id)
        found = await services.stores.run_log.owner(run_id) if run_id else None
        owner = found.user_id if found is not None else ""
    if run_id is None or not may_see(owner, user) or not await services.runs.cancel(run_id):
        raise RunNotFound(f"no run is in flight on thread {thread_id!r}")
    return {"threadId": thread_id, "requestId": run_id, "stopped": True}


def _missing(thread_id: str) -> RunNotFound:
    return RunNotFound(
        f"no run in flight on thread {thread_id!r} that is yours (a thread is seen only by its "
        "owner: send the owner's credential or X-User-Id)"
    )
