"""``POST /ag-ui`` (the default graph) and ``POST /ag-ui/{graphType}`` (a bare name or
``name::version``): a RunAgentInput in, AG-UI events out."""

from __future__ import annotations

from typing import Any

import anyio
from ag_ui.core import RunAgentInput
from fastapi import APIRouter, Path, Request

from app.api.agui.binder import bind
from app.api.deps import ServicesDep
from app.api.streaming import admit, event_stream, run_frames
from app.api.turns import start_turn
from app.auth.principal import PrincipalDep, UserHeader, acting_user
from app.errors.openapi import AUTH_REFUSALS, ErrorEnvelope
from app.wire.agui import AGUIEncoder
from app.wire.json import JSONRoute
from app.wire.sse import EventStream

router = APIRouter(prefix="/ag-ui", tags=["ag-ui"], route_class=JSONRoute)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "AG-UI events: RUN_STARTED ... RUN_FINISHED (or RUN_ERROR)",
        "content": {"text/event-stream": {}},
    },
    **AUTH_REFUSALS,
    404: {"model": ErrorEnvelope, "description": "Unknown graph, or thread not yours"},
    409: {
        "model": ErrorEnvelope,
        "description": "The thread is busy or belongs to another graph; an interrupt is pending "
        "(interrupt_pending: answer it with resume) or none is (no_pending_interrupt)",
    },
    413: {"model": ErrorEnvelope, "description": "The body is over MAX_BODY_BYTES"},
    422: {"model": ErrorEnvelope, "description": "Invalid RunAgentInput or graph settings"},
    429: {"model": ErrorEnvelope, "description": "A per-user limit: rate, or runs at once"},
    503: {"model": ErrorEnvelope, "description": "Thread memory is unreachable"},
}

GraphTypePath = Path(
    pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*(::[0-9A-Za-z.+-]+)?$",
    max_length=200,
    description="A graph name (its default version) or name::version",
)


async def _run(
    request: Request,
    body: RunAgentInput,
    graph_type: str | None,
    services: ServicesDep,
    principal: PrincipalDep,
    x_user_id: str | None,
) -> EventStream:
    request.state.request_id = body.run_id
    user = acting_user(principal, x_user_id)
    await admit(services, user)
    spec = await bind(services, body, graph_type, user)
    run = await start_turn(services, spec, principal.label if principal else None)
    encoder = AGUIEncoder(run.spec)
    shutdown = anyio.Event()
    frames = run_frames(services, run, encoder, after=0, shutdown=shutdown, head=encoder.head())
    return event_stream(services, frames, shutdown)


@router.post("", summary="Run the default graph", responses=_RESPONSES)
async def run_default(
    request: Request,
    body: RunAgentInput,
    services: ServicesDep,
    principal: PrincipalDep,
    x_user_id: UserHeader = None,
) -> EventStream:
    return await _run(request, body, None, services, principal, x_user_id)


@router.post("/{graph_type}", summary="Run a graph by name or name::version", responses=_RESPONSES)
async def run_graph(
    request: Request,
    body: RunAgentInput,
    services: ServicesDep,
    principal: PrincipalDep,
    graph_type: str = GraphTypePath,
    x_user_id: UserHeader = None,
) -> EventStream:
    return await _run(request, body, graph_type, services, principal, x_user_id)
