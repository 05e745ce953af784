"""The parts a running server shares, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from app.assistants import Assistants
from app.binding import Binder
from app.ledger import Ledger, LocalLedger
from app.limits import Limits, LocalLimits
from app.metrics import Metrics
from app.persistence.factory import Checkpointer
from app.runs import Runs
from app.settings import Settings
from app.thread_access import ThreadAccess
from app.thread_store import ThreadStore
from graphs import Registry
from model_client import ModelFactory

if TYPE_CHECKING:
    from app.redis_run_log import RedisRunLog


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
