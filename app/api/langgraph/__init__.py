"""The LangGraph server API (the part LangGraph Studio and LangGraph's SDKs use), over the same
threads, runs, identity and limits as the chat API. Shapes follow ``langgraph-api``'s OpenAPI
document; what is not implemented is refused by name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.langgraph import assistants, runs, system, threads
from app.errors.openapi import AUTH_REFUSALS, ErrorEnvelope
from app.wire.json import JSONRoute

# Every refusal is the server's one error envelope, as in the chat API.
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_REFUSALS,
    404: {"model": ErrorEnvelope, "description": "No such assistant, thread or run (or not yours)"},
    405: {"model": ErrorEnvelope, "description": "Assistants are registered in code"},
    409: {
        "model": ErrorEnvelope,
        "description": "The thread exists, is busy (multitask_strategy reject), or belongs to "
        "another graph",
    },
    422: {
        "model": ErrorEnvelope,
        "description": "Invalid body, or a field this server does not implement (named)",
    },
    429: {"model": ErrorEnvelope, "description": "A per-user limit: rate, or runs at once"},
    503: {"model": ErrorEnvelope, "description": "Thread memory is unreachable"},
}

router = APIRouter(route_class=JSONRoute)
for module in (system, assistants, threads, runs):
    router.include_router(module.router, responses=ERRORS)
