"""``POST /stream`` (Server-Sent Events) and ``POST /generate`` (one JSON answer)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from app.errors import AppError, RunNotFound, UpstreamError
from app.responses import JSONResponse
from app.runs import Run
from app.schemas import ChatRequest, ErrorEnvelope, FinalResponse, RequestIdPath
from app.services import ServicesDep
from app.sse import chunk_frame, event_frame
from app.turns import Reply, Turns

log = logging.getLogger("app.chat")
router = APIRouter(tags=["chat"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "Unknown graph or version, or thread"},
    409: {
        "model": ErrorEnvelope,
        "description": "The thread belongs to another graph, is busy, or the requestId is "
        "already running",
    },
    422: {"model": ErrorEnvelope, "description": "Invalid body or graph settings"},
    503: {"model": ErrorEnvelope, "description": "Thread memory is unreachable"},
}


async def _shut_down_after(shutdown: anyio.Event, grace: float, run: Run) -> None:
    """On SIGTERM, give the run ``grace`` seconds to finish, then end it with server_shutdown."""
    await shutdown.wait()
    await asyncio.sleep(grace)
    if not run.done:
        run.shut_down()


async def _frames(
    turns: Turns, run: Run, *, keep_running: bool, shutdown: anyio.Event, grace: float
) -> AsyncIterator[bytes]:
    turn = run.turn
    frame_id = 0
    watcher = asyncio.get_running_loop().create_task(_shut_down_after(shutdown, grace, run))
    try:
        async for batch in run.batches():
            out = []
            for item in batch:
                frame_id += 1
                if isinstance(item, str):
                    out.append(chunk_frame(frame_id, item))
                else:
                    out.append(event_frame(frame_id, "final", turns.final_payload(turn, item)))
            yield b"".join(out)
    except AppError as exc:
        log.warning("stream %s failed: %s: %s", turn.request_id, exc.code, exc.message)
        yield event_frame(frame_id + 1, "error", exc.payload(turn.request_id))
    except Exception:
        log.exception("stream %s failed unexpectedly", turn.request_id)
        error = AppError("The server failed unexpectedly while streaming.")
        yield event_frame(frame_id + 1, "error", error.payload(turn.request_id))
    finally:
        watcher.cancel()
        # The client is gone (or the stream ended). ON_DISCONNECT=continue lets the run finish
        # and save its answer; by default it stops, keeping what was streamed.
        if not run.done and not keep_running:
            run.cancel()


async def _start(request: Request, body: ChatRequest, services: ServicesDep) -> Run:
    request_id = body.request_id or uuid.uuid4().hex
    request.state.request_id = request_id
    turn = await services.turns.prepare(body, request_id)
    return await services.runs.start(turn)


@router.post(
    "/stream",
    summary="Stream a reply as Server-Sent Events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`stream_event` chunk frames, then one `final` (or `error`) frame",
            "content": {"text/event-stream": {}},
        },
        **_ERRORS,
    },
)
async def stream(request: Request, body: ChatRequest, services: ServicesDep) -> EventSourceResponse:
    run = await _start(request, body, services)
    settings = services.settings
    shutdown = anyio.Event()
    return EventSourceResponse(
        _frames(
            services.turns,
            run,
            keep_running=settings.on_disconnect == "continue",
            shutdown=shutdown,
            grace=settings.shutdown_grace_seconds,
        ),
        shutdown_event=shutdown,
        # Past our own grace, leave time for the server_shutdown frame to go out.
        shutdown_grace_period=settings.shutdown_grace_seconds + 3,
        ping=services.settings.sse_ping_seconds,
        headers={"Cache-Control": "no-cache"},
    )


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
async def generate(request: Request, body: ChatRequest, services: ServicesDep) -> JSONResponse:
    run = await _start(request, body, services)
    turn = run.turn
    reply: Reply | None = None
    try:
        async for batch in run.batches():
            if isinstance(batch[-1], Reply):
                reply = batch[-1]
    finally:
        if not run.done and services.settings.on_disconnect == "cancel":
            run.cancel()
    if reply is None:  # run() always ends with a Reply unless it raised
        raise UpstreamError("The model produced no reply.")
    return JSONResponse(services.turns.final_payload(turn, reply))


@router.post(
    "/cancel/{request_id}",
    summary="Stop a run in flight; its stream ends with finishReason 'cancelled'",
    responses={404: {"model": ErrorEnvelope, "description": "No such run in flight"}},
)
async def cancel(request_id: RequestIdPath, services: ServicesDep) -> dict[str, Any]:
    if not await services.runs.cancel(request_id):
        raise RunNotFound(f"no run {request_id!r} is in flight")
    return {"requestId": request_id, "cancelled": True}
