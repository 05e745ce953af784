"""``POST /stream`` (Server-Sent Events) and ``POST /generate`` (one JSON answer)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request

from app.encoders.seed import SeedEncoder, final_payload
from app.errors import AppError, RunNotFound, UpstreamError
from app.events import Reply
from app.logs import turn_context
from app.metrics import Metrics
from app.responses import JSONResponse
from app.runs import Run
from app.schemas import ChatRequest, ErrorEnvelope, FinalResponse, RequestIdPath
from app.services import Services, ServicesDep
from app.sse import EventStream
from app.turn import Turn

log = logging.getLogger("app.chat")
router = APIRouter(tags=["chat"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "Unknown graph or version, or thread"},
    409: {
        "model": ErrorEnvelope,
        "description": "The thread belongs to another graph, is busy, or the requestId is "
        "already running; or an interrupt is pending (interrupt_pending: answer it with "
        "resume) or none is (no_pending_interrupt)",
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


def _observe(metrics: Metrics, turn: Turn, reply: Reply, chunks: int) -> None:
    graph = turn.graph.ref
    if reply.ttft_ms is not None:
        metrics.ttft.labels(graph).observe(reply.ttft_ms / 1000)
    metrics.duration.labels(graph, reply.finish_reason or "stop").observe(reply.total_ms / 1000)
    metrics.tokens.labels(graph).inc(chunks)


async def _frames(
    services: Services, run: Run, *, keep_running: bool, shutdown: anyio.Event, grace: float
) -> AsyncIterator[bytes]:
    metrics, turn = services.metrics, run.turn
    encoder = SeedEncoder(turn)
    watcher = asyncio.get_running_loop().create_task(_shut_down_after(shutdown, grace, run))
    metrics.active_streams.inc()
    try:
        async for batch in run.batches():
            if isinstance(batch[-1], Reply):
                _observe(metrics, turn, batch[-1], encoder.last_id + len(batch) - 1)
            yield encoder.encode(batch)
    except AppError as exc:
        log.warning("stream failed: %s: %s", exc.code, exc.message)
        metrics.errors.labels(exc.code).inc()
        yield encoder.error(exc)
    except Exception:
        log.exception("stream failed unexpectedly")
        error = AppError("The server failed unexpectedly while streaming.")
        metrics.errors.labels(error.code).inc()
        yield encoder.error(error)
    finally:
        metrics.active_streams.dec()
        watcher.cancel()
        # The client is gone (or the stream ended). ON_DISCONNECT=continue lets the run finish
        # and save its answer; by default it stops, keeping what was streamed.
        if not run.done and not keep_running:
            run.cancel()


async def _start(request: Request, body: ChatRequest, services: ServicesDep) -> Run:
    request_id = body.request_id or uuid.uuid4().hex
    request.state.request_id = request_id
    turn_context.set(
        {"requestId": request_id, "threadId": body.thread_id or "", "userId": body.user_id}
    )
    turn = services.binder.bind(body, request_id)
    if body.thread_id is not None:
        await services.threads.check(turn)
    await services.runs.runner.check_interrupts(turn)
    if not body.thread_id:
        turn_context.set(
            {"requestId": request_id, "threadId": turn.thread_id, "userId": turn.user_id}
        )
    return await services.runs.start(turn)


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
async def stream(request: Request, body: ChatRequest, services: ServicesDep) -> EventStream:
    run = await _start(request, body, services)
    settings = services.settings
    shutdown = anyio.Event()
    return EventStream(
        _frames(
            services,
            run,
            keep_running=settings.on_disconnect == "continue",
            shutdown=shutdown,
            grace=settings.shutdown_grace_seconds,
        ),
        shutdown_event=shutdown,
        # Past our own grace, leave time for the server_shutdown frame to go out.
        shutdown_grace_period=settings.shutdown_grace_seconds + 3,
        ping=settings.sse_ping_seconds,
        headers={"Cache-Control": "no-cache"},
        gzip=settings.sse_compression == "gzip",
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
        chunks = 0
        async for batch in run.batches():
            chunks += len(batch)
            if isinstance(batch[-1], Reply):
                reply = batch[-1]
                chunks -= 1
    finally:
        if not run.done and services.settings.on_disconnect == "cancel":
            run.cancel()
    if reply is None:  # run() always ends with a Reply unless it raised
        raise UpstreamError("The model produced no reply.")
    _observe(services.metrics, turn, reply, chunks)
    return JSONResponse(final_payload(turn, reply))


@router.post(
    "/cancel/{request_id}",
    summary="Stop a run in flight; its stream ends with finishReason 'cancelled'",
    responses={
        404: {"model": ErrorEnvelope, "description": "No such run in flight"},
        422: {"model": ErrorEnvelope, "description": "Invalid requestId"},
    },
)
async def cancel(request_id: RequestIdPath, services: ServicesDep) -> dict[str, Any]:
    if not await services.runs.cancel(request_id):
        raise RunNotFound(f"no run {request_id!r} is in flight")
    return {"requestId": request_id, "cancelled": True}
