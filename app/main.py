"""The application factory. Nothing is built at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.api import handlers, langgraph, meta, playground
from app.api.agui import routes as agui
from app.api.aisdk import routes as aisdk
from app.api.chat import routes as chat
from app.api.chat import threads
from app.api.chat.binder import Binder
from app.api.deps import Services
from app.api.langgraph.catalog import Assistants
from app.auth.credentials import authenticator_for
from app.auth.guard import Guard
from app.observability.metrics import Metrics
from app.runs.execute import RunExecutor
from app.runs.lifecycle import Lifecycle
from app.runs.registry import RunRegistry
from app.runs.takeover import Takeover
from app.settings import Settings
from app.stores import Stores, open_stores
from app.threads.access import ThreadAccess
from app.threads.records import RecordKeeper
from app.wire.codec import encoder_for
from graphs import Registry, RegistryError, build_registry
from model_client import ModelFactory, Upstream, model_factory

# The cyclic GC's thresholds while serving (see the lifespan).
GC_THRESHOLDS = (2000, 50, 100)

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


async def stream_secret_for(settings: Settings, stores: Stores) -> bytes:
    """The key that signs streamUrl access tokens: configured, or one every replica sharing
    the stores agrees on (one per process without Redis)."""
    if settings.stream_url_secret is not None:
        return settings.stream_url_secret.get_secret_value().encode()
    return await stores.claims.shared_secret("stream-url-secret")


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
        async with open_stores(settings) as stores:
            checkpointer = stores.checkpointer
            # Compiled once, with the checkpointer, for the server's whole life.
            graphs = {
                g.ref: g.build(models).compile(checkpointer=checkpointer.saver, name=g.ref)
                for g in registry
            }
            runner = RunExecutor(
                settings,
                graphs,
                models.provider,
                checkpointer,
                step_durable=stores.inflight.durable,
            )
            assistants = Assistants(registry)
            runs = RunRegistry(
                runner,
                claims=stores.claims,
                multitask=settings.multitask,
                wait=settings.multitask_wait_seconds,
                reconnect_grace=settings.reconnect_grace_seconds,
                keep_unwatched=settings.on_disconnect == "continue",
                keep_finished=settings.run_log_ttl_seconds,
            )
            lifecycle = Lifecycle(
                runs,
                stores,
                app.state.metrics,
                RecordKeeper(stores.records, assistants.default_of),
                encoder_for,
            )
            stores.claims.start(on_cancel=runs.stop_local)
            # Looked for often enough that a run is taken over within about a second of its
            # dead replica's claim lapsing.
            takeover = Takeover(
                lifecycle,
                stores,
                registry.resolve,
                interval=min(1.0, settings.run_claim_ttl_seconds / 4),
            )
            takeover.start()
            app.state.services = Services(
                settings=settings,
                registry=registry,
                models=models,
                stores=stores,
                binder=Binder(settings, registry),
                threads=ThreadAccess(checkpointer, registry, stores.records),
                runs=runs,
                lifecycle=lifecycle,
                metrics=app.state.metrics,
                assistants=assistants,
                auth_enabled=authenticator.enabled,
                stream_secret=await stream_secret_for(settings, stores),
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
            # What stays is mostly the decoded-message and wire caches, which grow with the
            # threads served (20 threads of 300 turns: 160k tracked objects), and at the
            # default thresholds (700, 10, 10) a full collection re-scanned them all every
            # few rounds of turns: 190 ms each, 10 ms of CPU a turn. Young collections of
            # 2,000 objects (about 1 ms each) and a full one after 100 middle ones leave
            # what dies within a turn to reference counting (1.3 ms a turn).
            thresholds = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
            try:
                yield
            finally:
                await takeover.stop()
                await runs.drain(grace=0)
                await lifecycle.drain()
                await models.aclose()
                gc.set_threshold(*thresholds)

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
    app.include_router(aisdk.router)
    app.include_router(agui.router)
    if settings.playground:
        app.include_router(playground.router)
    return app
