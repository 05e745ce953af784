"""The application factory. Nothing is built at import time."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.api import langgraph, meta, playground
from app.api.chat import routes as chat
from app.api.chat import threads
from app.api.chat.binder import Binder
from app.api.langgraph.catalog import Assistants
from app.auth.credentials import authenticator_for
from app.auth.guard import Guard
from app.deps import Services
from app.errors import handlers
from app.observability.metrics import Metrics
from app.runs.execute import TurnRunner
from app.runs.registry import Runs
from app.runs.run import Run
from app.settings import Settings
from app.stores.checkpointer import Checkpointer, open_checkpointer
from app.stores.claims import LocalLedger
from app.stores.limits import Limits, LocalLimits
from app.threads.access import ThreadAccess
from app.threads.records import RecordKeeper, SqliteThreadStore, ThreadStore
from graphs import Registry, RegistryError, build_registry
from model_client import ModelFactory, Upstream, model_factory

if TYPE_CHECKING:
    from app.stores.redis_claims import RedisLedger
    from app.stores.redis_run_log import RedisRunLog

log = logging.getLogger("app")


def models_for(settings: Settings) -> ModelFactory:
    return model_factory(
        Upstream(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            max_retries=settings.upstream_max_retries,
            timeout=settings.upstream_timeout,
            offline_token_delay=settings.token_delay,
            client=settings.model_client,
        )
    )


def ledger_for(settings: Settings, checkpointer: Checkpointer) -> RedisLedger | LocalLedger:
    """Redis coordinates runs across replicas when thread memory is in Redis."""
    client = getattr(checkpointer.saver, "client", None)
    if checkpointer.kind == "redis" and client is not None:
        # Imported only with Redis, so that a server without it need not load the client.
        from app.stores.redis_claims import RedisLedger

        return RedisLedger(
            client, prefix=settings.redis_key_prefix, ttl=settings.run_claim_ttl_seconds
        )
    return LocalLedger()


def run_log_for(settings: Settings, ledger: RedisLedger | LocalLedger) -> RedisRunLog | None:
    """With Redis, every run's frames go to a log there that any replica can read."""
    if isinstance(ledger, LocalLedger):
        return None
    from app.stores.redis_run_log import RedisRunLog

    # A follower on another replica renews this while it reads, so the run's own replica
    # knows a client came back (its grace period is checked against it).
    watch_ttl = max(2.0, 2 * settings.reconnect_grace_seconds)
    return RedisRunLog(
        ledger.client,
        prefix=settings.redis_key_prefix,
        ttl=settings.run_log_ttl_seconds,
        maxlen=settings.run_log_maxlen,
        running=ledger.running_elsewhere,
        watch=lambda request_id: ledger.watch(request_id, watch_ttl),
    )


def limits_for(settings: Settings, ledger: RedisLedger | LocalLedger) -> Limits:
    """Per-user limits, shared through Redis when the replicas share it."""
    per_minute, streams = settings.rate_limit_per_minute, settings.max_streams_per_user
    if isinstance(ledger, LocalLedger):
        return LocalLimits(per_minute=per_minute, max_streams=streams)
    from app.stores.redis_limits import RedisLimits

    return RedisLimits(
        ledger.client,
        prefix=settings.redis_key_prefix,
        per_minute=per_minute,
        max_streams=streams,
        ttl=settings.run_claim_ttl_seconds,
    )


async def stream_secret_for(settings: Settings, ledger: RedisLedger | LocalLedger) -> bytes:
    """The key that signs streamUrl access tokens: configured, or one per deployment (kept
    in Redis so that every replica accepts the others' URLs), or one per process."""
    if settings.stream_url_secret is not None:
        return settings.stream_url_secret.get_secret_value().encode()
    if isinstance(ledger, LocalLedger):
        return secrets.token_bytes(32)
    return await ledger.shared_secret("stream-url-secret")


async def records_for(
    settings: Settings, checkpointer: Checkpointer, ledger: RedisLedger | LocalLedger
) -> ThreadStore:
    """Thread and run records where the checkpoints are: Redis, or the SQLite file."""
    if not isinstance(ledger, LocalLedger):
        from app.stores.redis_records import RedisThreadStore

        return RedisThreadStore(
            ledger.client, prefix=settings.redis_key_prefix, ttl=settings.redis_ttl_seconds
        )
    store = SqliteThreadStore(checkpointer.saver.conn)  # type: ignore[attr-defined]
    await store.setup()
    return store


def create_app(settings: Settings | None = None, *, registry: Registry | None = None) -> FastAPI:
    """Build the server from ``settings`` (default: the environment and ``.env``) and the graph
    ``registry`` (default: every graph in ``graphs.catalog``).

    Raises :class:`graphs.RegistryError` at once if the registry is inconsistent (a graph with
    several versions and none marked default)."""
    settings = settings if settings is not None else Settings()
    registry = registry if registry is not None else build_registry()
    try:
        registry.check()
    except RegistryError as exc:
        raise RegistryError(f"the graph registry cannot be served: {exc}") from None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        models = models_for(settings)
        async with open_checkpointer(settings) as checkpointer:
            # Compiled once, with the checkpointer, for the server's whole life.
            graphs = {
                g.ref: g.build(models).compile(checkpointer=checkpointer.saver, name=g.ref)
                for g in registry
            }
            runner = TurnRunner(settings, graphs, models.provider)
            ledger = ledger_for(settings, checkpointer)
            run_log = run_log_for(settings, ledger)
            records = await records_for(settings, checkpointer, ledger)
            assistants = Assistants(registry)
            keeper = RecordKeeper(records, assistants.default_of)

            def on_start(run: Run) -> None:
                if run_log is not None:
                    run_log.attach(run)
                keeper.attach(run)

            runs = Runs(
                runner,
                ledger=ledger,
                multitask=settings.multitask,
                wait=settings.multitask_wait_seconds,
                reconnect_grace=settings.reconnect_grace_seconds,
                keep_unwatched=settings.on_disconnect == "continue",
                keep_finished=settings.run_log_ttl_seconds,
                on_start=on_start,
                watched_elsewhere=None if isinstance(ledger, LocalLedger) else ledger.watched,
            )
            if not isinstance(ledger, LocalLedger):
                ledger.start(on_cancel=runs.stop_local)
            limits = limits_for(settings, ledger)
            app.state.services = Services(
                settings=settings,
                registry=registry,
                models=models,
                checkpointer=checkpointer,
                binder=Binder(settings, registry),
                threads=ThreadAccess(checkpointer.saver, registry, records),
                runs=runs,
                metrics=app.state.metrics,
                run_log=run_log,
                limits=limits,
                auth_enabled=authenticator.enabled,
                stream_secret=await stream_secret_for(settings, ledger),
                records=records,
                assistants=assistants,
                ledger=ledger,
            )
            log.info("authentication: %s", authenticator.describe())
            if models.provider == "offline":
                log.warning(
                    "model: OFFLINE. No OPENAI_API_KEY is set, so replies come from the built-in "
                    "offline model; set OPENAI_API_KEY (and OPENAI_BASE_URL) for a real one"
                )
            else:
                log.info("model: %s", models.describe())
            log.info("checkpointer: %s; graphs: %s", checkpointer.kind, ", ".join(sorted(graphs)))
            # What start-up built (modules, compiled graphs, clients) lives as long as the
            # server: freeze it out of the cyclic GC, whose full collections would otherwise
            # re-scan it all while streams allocate (~20% of a token's CPU). No collect()
            # first: finalizers of unrelated garbage should not run in the middle of start-up.
            gc.freeze()
            try:
                yield
            finally:
                await runs.drain(grace=0)
                if run_log is not None:
                    await run_log.aclose()
                aclose = getattr(limits, "aclose", None)
                if aclose is not None:
                    await aclose()
                if not isinstance(ledger, LocalLedger):
                    await ledger.stop()
                await models.aclose()

    app = FastAPI(
        title="Agent server",
        summary="Versioned LangGraph graphs streaming over Server-Sent Events",
        version="0.1.0",
        lifespan=lifespan,
    )
    metrics = Metrics()
    app.state.metrics = metrics
    handlers.install(app)
    authenticator = authenticator_for(settings)
    app.add_middleware(
        Guard,
        metrics=metrics,
        authenticator=authenticator,
        max_body_bytes=settings.max_body_bytes,
    )
    if origins := settings.cors_origin_list():
        # Added last, so it runs first: preflights never meet the API-key check.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            # The LangGraph SDKs' credential and user headers, and a rejoining stream's id.
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Api-Key",
                "X-User-Id",
                "Last-Event-ID",
            ],
            # useStream learns the run's id from Content-Location.
            expose_headers=["Content-Location", "Location"],
            max_age=600,
        )
    app.include_router(chat.router)
    app.include_router(meta.router)
    app.include_router(threads.router)
    app.include_router(langgraph.router)
    if settings.playground:
        app.include_router(playground.router)
    return app
