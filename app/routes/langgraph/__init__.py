"""The LangGraph server API (the part LangGraph Studio and LangGraph's SDKs use), over the same
threads, runs, identity and limits as the seed API. Shapes follow ``langgraph-api``'s OpenAPI
document; what is not implemented is refused by name."""

from __future__ import annotations

from fastapi import APIRouter

from app.routes.langgraph import assistants, runs, system, threads

router = APIRouter()
for module in (system, assistants, threads, runs):
    router.include_router(module.router)
