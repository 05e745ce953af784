"""Picks the checkpointer: Redis when ``REDIS_URL`` is set, else an embedded SQLite file."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointMetadata, PendingWrite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from app.errors import StoreUnavailable
from app.settings import Settings

log = logging.getLogger("app.stores.checkpointer")


class Head(Protocol):
    """A thread's newest checkpoint as the checks before a run read it: its metadata and
    pending writes (a ``CheckpointTuple`` is one; the Redis saver reads one without values)."""

    @property
    def metadata(self) -> CheckpointMetadata: ...

    @property
    def pending_writes(self) -> list[PendingWrite] | None: ...


class HeadReader(Protocol):
    async def __call__(self, config: RunnableConfig, *, writes: bool = True) -> Head | None: ...


@dataclass
class Checkpointer:
    """The saver in use, what to call it, how to check it can be reached, and how to read a
    thread's newest checkpoint for the checks before a run."""

    saver: BaseCheckpointSaver[str]
    kind: str
    # Beyond an answer from the saver: a Redis Cluster must say its state is ok.
    healthy: Callable[[], Awaitable[None]] | None = None
    # Reads it without the channel values (the Redis saver's aget_head), so that a long
    # thread's checks stay flat; None: the saver's aget_tuple, values and all.
    read_head: HeadReader | None = None

    async def head(self, thread_id: str, *, writes: bool = True) -> Head | None:
        """The thread's newest root checkpoint; its pending writes only if ``writes``."""
        config: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        if self.read_head is not None:
            return await self.read_head(config, writes=writes)
        return await self.saver.aget_tuple(config)

    async def ping(self) -> None:
        ping = getattr(self.saver, "ping", None)
        try:
            if ping is not None:
                await ping()
                if self.healthy is not None:
                    await self.healthy()
            else:
                await self.saver.aget_tuple({"configurable": {"thread_id": "__ready__"}})
        except Exception as exc:
            raise StoreUnavailable(f"the {self.kind} checkpointer is unreachable: {exc}") from exc


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[Checkpointer]:
    if settings.redis_url is not None and settings.redis_url.get_secret_value():
        from app.stores.redis_client import topology_of
        from redis_saver import RedisSaver, RedisSaverError

        async with RedisSaver.from_url(
            settings.redis_url.get_secret_value(),
            cluster=settings.redis_cluster,
            key_prefix=settings.redis_key_prefix,
            ttl=settings.redis_ttl_seconds,
            refresh_on_read=settings.redis_ttl_refresh_on_read,
            keep_history=settings.redis_keep_history,
            decoded_messages=settings.redis_message_cache,
            encoded_messages=settings.redis_message_cache,
        ) as redis_saver:
            try:
                # Preloads scripts and a connection so the first turn does not pay for them.
                await redis_saver.setup()
            except RedisSaverError as exc:
                # Start anyway: /ready says 503 until Redis answers, then all recovers.
                log.warning("Redis is not reachable at start-up: %s", exc)
            yield Checkpointer(
                redis_saver,
                "redis",
                topology_of(redis_saver.client).health,
                read_head=redis_saver.aget_head,
            )
        return
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(settings.sqlite_path)) as sqlite_saver:
        await sqlite_saver.setup()
        yield Checkpointer(sqlite_saver, "sqlite")
