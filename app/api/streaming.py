"""What every API does to start a run and to stream one: the rate limit before any work, the
lifecycle's start, and a run's frames as a Server-Sent Events response in a given encoder."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Protocol

import anyio

from app.api.deps import Services
from app.errors import AppError, ValidationFailed
from app.runs.events import RunEvent
from app.runs.run import Run
from app.runs.spec import RunSpec
from app.stores.limits import LimitReached
from app.wire.sse import LARGE_WINDOW, SMALL_WINDOW, EventStream

log = logging.getLogger("app.chat")


class Encoder(Protocol):
    def encode(self, first_id: int, events: list[RunEvent]) -> bytes: ...

    def error(self, frame_id: int, error: AppError) -> bytes: ...


def log_position(value: str | None, *, negative_is_start: bool = False) -> int:
    """A Last-Event-ID as a log position: our ids are positions; anything else is a 422. A
    negative id is a 422 too, unless ``negative_is_start`` (LangGraph's clients send -1 to
    replay a run from its start)."""
    if value is None or value.strip() == "":
        return 0
    try:
        position = int(value.strip())
    except ValueError:
        raise ValidationFailed(
            f"Last-Event-ID {value!r} is not one of this server's frame ids (an integer)"
        ) from None
    if position < 0:
        if negative_is_start:
            return 0
        raise ValidationFailed("Last-Event-ID must not be negative")
    return position


async def admit(services: Services, user: str) -> None:
    """The per-minute rate limit, before any other work for the request."""
    try:
        await services.stores.limits.admit(user)
    except LimitReached as exc:
        services.metrics.refusals.labels(exc.reason).inc()
        raise


async def launch(services: Services, spec: RunSpec, *, multitask: str | None = None) -> Run:
    """Start ``spec``'s run through the lifecycle; a limit's refusal is counted."""
    try:
        return await services.lifecycle.start(spec, multitask=multitask)
    except LimitReached as exc:
        services.metrics.refusals.labels(exc.reason).inc()
        raise


async def _shut_down_after(shutdown: anyio.Event, grace: float, run: Run) -> None:
    """On SIGTERM, give the run ``grace`` seconds to finish, then end it with server_shutdown."""
    await shutdown.wait()
    await asyncio.sleep(grace)
    if not run.done:
        run.shut_down()


async def run_frames(
    services: Services,
    run: Run,
    encoder: Encoder,
    *,
    after: int,
    shutdown: anyio.Event,
    head: bytes = b"",
) -> AsyncIterator[bytes]:
    """A run's frames after position ``after``, as ``encoder`` encodes them, until it ends."""
    metrics = services.metrics
    grace = services.settings.shutdown_grace_seconds
    watcher = asyncio.get_running_loop().create_task(_shut_down_after(shutdown, grace, run))
    metrics.active_streams.inc()
    try:
        if head:
            yield head
        async with aclosing(run.follow(after)) as batches:
            async for first, batch in batches:
                yield encoder.encode(first, batch)
        # The stream ends once the thread is free: a client that sends the next request on
        # the stream's end does not find it busy.
        await services.runs.settled(run)
    except AppError as exc:
        log.warning("stream failed: %s: %s", exc.code, exc.message)
        metrics.errors.labels(exc.code).inc()
        yield encoder.error(run.end_position + 1, exc)
        await services.runs.settled(run)
    finally:
        metrics.active_streams.dec()
        watcher.cancel()
        # The client is gone (or the stream ended): the run's follower count dropped, and
        # the registry decides whether the run goes on (RECONNECT_GRACE_SECONDS, ON_DISCONNECT).


def event_stream(
    services: Services,
    frames: AsyncIterator[bytes],
    shutdown: anyio.Event,
    headers: Mapping[str, str] | None = None,
    *,
    large_frames: bool = False,
) -> EventStream:
    settings = services.settings
    return EventStream(
        frames,
        shutdown_event=shutdown,
        # Past our own grace, leave time for the server_shutdown frame to go out.
        shutdown_grace_period=settings.shutdown_grace_seconds + 3,
        ping=settings.sse_ping_seconds,
        headers={"Cache-Control": "no-cache", **(headers or {})},
        gzip=settings.sse_compression == "gzip",
        gzip_window=LARGE_WINDOW if large_frames else SMALL_WINDOW,
    )
