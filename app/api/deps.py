"""The parts a running server shares, built once in the lifespan, and the dependency that
hands them to routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.api.chat.binder import Binder
from app.api.langgraph.catalog import Assistants
from app.observability.metrics import Metrics
from app.runs.lifecycle import Lifecycle
from app.runs.registry import RunRegistry
from app.settings import Settings
from app.stores import Stores
from app.threads.access import ThreadAccess
from graphs import Registry
from model_client import ModelFactory


@dataclass(frozen=True)
class Services:
    settings: Settings
    registry: Registry
    models: ModelFactory
    stores: Stores
    binder: Binder
    threads: ThreadAccess
    runs: RunRegistry
    lifecycle: Lifecycle
    metrics: Metrics
    assistants: Assistants
    auth_enabled: bool  # credentials configured: streamUrl carries an access token
    stream_secret: bytes


# async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hand-off on every
# request (it showed as ~8% of the server's CPU on short replies).
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
