"""``POST /stream`` (Server-Sent Events) and ``POST /generate`` (one JSON answer)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from app.errors import AppError, UpstreamError
from app.responses import JSONResponse
from app.runs import Run
from app.schemas import ChatRequest, ErrorEnvelope, FinalResponse
from app.services import ServicesDep
from app.sse import chunk_frame, event_frame
from app.turns import Reply, Turn, Turns

log = logging.getLogger("app.chat")
router = APIRouter(tags=["chat"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "Unknown graph or version, or thread"},
    409: {"model": ErrorEnvelope, "description": "The thread belongs to another graph"},
    422: {"model": ErrorEnvelope, "description": "Invalid body or graph settings"},
    503: {"model": ErrorEnvelope, "description": "Thread memory is unreachable"},
}


async def _frames(turns: Turns, run: Run) -> AsyncIterator[bytes]:
    turn = run.turn
    frame_id = 0
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
        # The client is gone (or the stream ended): stop the run if it is still going.
        run.cancel()


async def _prepare(request: Request, body: ChatRequest, services: ServicesDep) -> Turn:
    request_id = body.request_id or uuid.uuid4().hex
    request.state.request_id = request_id
    return await services.turns.prepare(body, request_id)


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
    turn = await _prepare(request, body, services)
    return EventSourceResponse(
        _frames(services.turns, Run(services.turns, turn)),
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
    turn = await _prepare(request, body, services)
    reply: Reply | None = None
    run = Run(services.turns, turn)
    try:
        async for batch in run.batches():
            if isinstance(batch[-1], Reply):
                reply = batch[-1]
    finally:
        run.cancel()
    if reply is None:  # run() always ends with a Reply unless it raised
        raise UpstreamError("The model produced no reply.")
    return JSONResponse(services.turns.final_payload(turn, reply))
