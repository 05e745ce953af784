"""``GET /ok`` and ``GET /info``: what LangGraph's clients ask a server first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import ServicesDep
from app.wire.json import JSONRoute

router = APIRouter(tags=["langgraph: system"], route_class=JSONRoute)


@router.get("/ok", summary="Liveness, as LangGraph's clients check it")
async def ok() -> dict[str, bool]:
    return {"ok": True}


@router.get("/info", summary="Server version and the LangGraph API features it offers")
async def info(services: ServicesDep) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "version": "0.1.0",
        "langgraph_py_version": version("langgraph"),
        "flags": {"assistants": True, "crons": False, "langsmith": False},
        "metadata": {"server": "agent-server", "checkpointer": services.stores.checkpointer.kind},
    }
