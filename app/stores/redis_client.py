"""What the Redis stores share about their client: plain Redis or a Redis Cluster (redis-py's
``RedisCluster``, which routes each command to the master of its key's slot). Keys of one
thread, or of one run, share a ``{...}`` hash tag, so they live in one slot; reads across
threads or runs go through the client's :class:`Topology`. Imported only with Redis."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

RedisClient = aioredis.Redis | RedisCluster
# What a store call may raise when Redis cannot serve it: the cluster client's own errors
# (a slot no master serves yet, during a failover) are not RedisErrors.
REDIS_ERRORS = (RedisError, RedisClusterException)


def thread_key(prefix: str, thread_id: str, kind: str) -> str:
    """A key of the thread's, in the hash tag of its checkpoints (``redis_saver.codec``'s
    ``{prefix:t:<id>}``): a thread's claim, record and runs live in its checkpoints' slot, so
    a shard that fails takes whole threads with it, never half of one."""
    return f"{{{prefix}:t:{thread_id}}}:{kind}"


def run_key(prefix: str, request_id: str, kind: str) -> str:
    """A key of the run's (its claim, watch, log, record), in one hash tag, the one of the
    saver's index of the run's checkpoints (``{prefix:r:<id>}``)."""
    return f"{{{prefix}:r:{request_id}}}:{kind}"


class Topology(Protocol):
    """What differs between one Redis and a cluster, behind one face, chosen once by
    :func:`topology_of`: reads across slots, where a subscription listens, and what a
    readiness check must ask beyond a ``PING``."""

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` (of many threads or runs), in order."""
        ...

    async def subscriber(self, attempt: int) -> Any:
        """A pub/sub to listen for cancels on; ``attempt`` counts the listener's retries."""
        ...

    @property
    def health(self) -> Callable[[], Awaitable[None]] | None:
        """A check to run beside the saver's ``PING``, if this topology needs one."""
        ...


class _Single:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        found: list[Any] = await self._client.mget(list(keys))  # bytes: nothing decodes
        return found

    async def subscriber(self, attempt: int) -> Any:
        return self._client.pubsub(ignore_subscribe_messages=True)

    @property
    def health(self) -> Callable[[], Awaitable[None]] | None:
        return None


class _Cluster:
    def __init__(self, client: RedisCluster) -> None:
        self._client = client

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        # One MGET per slot: keys of many threads live in many slots.
        if not keys:
            return []
        found: list[Any] = await self._client.mget_nonatomic(list(keys))
        return found

    async def subscriber(self, attempt: int) -> Any:
        # A cluster forwards a PUBLISH to every node, so one node's subscription hears every
        # cancel; after a failure the next node is tried (its master may be the one that died).
        await self._client.initialize()
        nodes = self._client.get_nodes()
        return self._client.pubsub(node=nodes[attempt % len(nodes)], ignore_subscribe_messages=True)

    @property
    def health(self) -> Callable[[], Awaitable[None]] | None:
        # A node answers PING while its cluster refuses every key (a shard without a master).
        from redis_saver.cluster import check_state

        client = self._client
        return lambda: check_state(client)


def topology_of(client: RedisClient) -> Topology:
    """The one place that tells a cluster client from a plain one."""
    if isinstance(client, RedisCluster):
        return _Cluster(client)
    return _Single(client)
