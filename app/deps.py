"""The parts a running server shares, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from app.api.chat.binder import Binder
from app.api.langgraph.catalog import Assistants
from app.observability.metrics import Metrics
from app.runs.registry import Runs
from app.settings import Settings
from app.stores.checkpointer import Checkpointer
from app.stores.claims import Ledger, LocalLedger
from app.stores.limits import Limits, LocalLimits
from app.threads.access import ThreadAccess
from app.threads.records import ThreadStore
from graphs import Registry
from model_client import ModelFactory

if TYPE_CHECKING:
    from app.stores.redis_run_log import RedisRunLog


@dataclass
class Services:
    settings: Settings
    registry: Registry
    models: ModelFactory
    checkpointer: Checkpointer
    binder: Binder
    threads: ThreadAccess
    runs: Runs
    metrics: Metrics
    run_log: RedisRunLog | None = None  # with Redis: every run's frames, for any replica
    limits: Limits = field(default_factory=LocalLimits)
    auth_enabled: bool = False  # credentials configured: streamUrl carries an access token
    stream_secret: bytes = b""
    # The LangGraph API's: thread and run records, the registry's assistants, the claims.
    records: ThreadStore | None = None
    assistants: Assistants | None = None
    ledger: Ledger = field(default_factory=LocalLedger)


# async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hand-off on every
# request (it showed as ~8% of the server's CPU on short replies).
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
