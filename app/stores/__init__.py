"""The stores, one protocol each with a memory (or SQLite) and a Redis backend side by side,
picked once at start-up by :func:`open_stores`: claims (locks, cancel, watch), limits, the run
log, thread and run records, the runs in flight, and the checkpointer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from app.settings import Settings
from app.stores.checkpointer import Checkpointer, open_checkpointer
from app.stores.claims import Claims, MemoryClaims
from app.stores.inflight import InFlight, MemoryInFlight
from app.stores.limits import Limits, MemoryLimits
from app.stores.records import Records
from app.stores.run_log import MemoryRunLog, RunLog
from app.stores.sqlite_records import SqliteRecords

__all__ = ["Stores", "open_stores"]


@dataclass(frozen=True)
class Stores:
    """Every store the server uses, of one backend."""

    checkpointer: Checkpointer
    claims: Claims
    limits: Limits
    run_log: RunLog
    records: Records
    inflight: InFlight

    async def aclose(self) -> None:
        await self.claims.stop()
        await self.run_log.aclose()
        await self.limits.aclose()


@asynccontextmanager
async def open_stores(settings: Settings) -> AsyncIterator[Stores]:
    """The stores for ``settings``: in Redis when ``REDIS_URL`` is set (the checkpoints and
    everything the replicas share), else the SQLite file and this process's memory. The one
    place that knows which backend is in use."""
    async with open_checkpointer(settings) as checkpointer:
        if checkpointer.kind == "redis":
            stores = _redis_stores(settings, checkpointer)
        else:
            stores = await _memory_stores(settings, checkpointer)
        try:
            yield stores
        finally:
            await stores.aclose()


async def _memory_stores(settings: Settings, checkpointer: Checkpointer) -> Stores:
    records = SqliteRecords(checkpointer.saver.conn)  # type: ignore[attr-defined]
    await records.setup()
    return Stores(
        checkpointer=checkpointer,
        claims=MemoryClaims(),
        limits=MemoryLimits(
            per_minute=settings.rate_limit_per_minute, max_streams=settings.max_streams_per_user
        ),
        run_log=MemoryRunLog(),
        records=records,
        inflight=MemoryInFlight(),
    )


def _redis_stores(settings: Settings, checkpointer: Checkpointer) -> Stores:
    # Imported only with Redis, so that a server without it need not load the client.
    from app.stores.redis_claims import RedisClaims
    from app.stores.redis_inflight import RedisInFlight
    from app.stores.redis_limits import RedisLimits
    from app.stores.redis_records import RedisRecords
    from app.stores.redis_run_log import RedisRunLog

    client = checkpointer.saver.client  # type: ignore[attr-defined]
    prefix = settings.redis_key_prefix
    claims = RedisClaims(client, prefix=prefix, ttl=settings.run_claim_ttl_seconds)
    # A record outlives any run; its expiry only reaps what a lost forget left behind.
    inflight = RedisInFlight(client, prefix=prefix, ttl=max(86400.0, settings.upstream_timeout))
    # A follower on another replica renews this while it reads, so the run's own replica
    # knows a client came back (its grace period is checked against it).
    watch_ttl = max(2.0, 2 * settings.reconnect_grace_seconds)
    run_log = RedisRunLog(
        client,
        prefix=prefix,
        ttl=settings.run_log_ttl_seconds,
        maxlen=settings.run_log_maxlen,
        running=claims.running_elsewhere,
        pending=inflight.pending,
        watch=lambda request_id: claims.watch(request_id, watch_ttl),
    )
    limits = RedisLimits(
        client,
        prefix=prefix,
        per_minute=settings.rate_limit_per_minute,
        max_streams=settings.max_streams_per_user,
        ttl=settings.run_claim_ttl_seconds,
    )
    records = RedisRecords(client, prefix=prefix, ttl=settings.redis_ttl_seconds)
    return Stores(checkpointer, claims, limits, run_log, records, inflight)
