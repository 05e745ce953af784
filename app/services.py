"""The parts a running server shares, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.metrics import Metrics
from app.persistence.factory import Checkpointer
from app.runs import Runs
from app.settings import Settings
from app.turns import Turns
from graphs import ChatModelFactory, Registry


@dataclass
class Services:
    settings: Settings
    registry: Registry
    models: ChatModelFactory
    checkpointer: Checkpointer
    turns: Turns
    runs: Runs
    metrics: Metrics


# async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hand-off on every
# request (it showed as ~8% of the server's CPU on short replies).
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
