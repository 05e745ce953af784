"""What the Redis stores share about their client: plain Redis or a Redis Cluster (redis-py's
``RedisCluster``, which routes each command to the master of its key's slot). Keys of one
thread, or of one run, share a ``{...}`` hash tag, so they live in one slot; reads across
threads or runs go through :func:`get_many`. Imported only with Redis."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

RedisClient = aioredis.Redis | RedisCluster
# What a store call may raise when Redis cannot serve it: the cluster client's own errors
# (a slot no master serves yet, during a failover) are not RedisErrors.
REDIS_ERRORS = (RedisError, RedisClusterException)


def tagged(prefix: str, kind: str, name: str) -> str:
    """``prefix:kind:{name}``, ``name`` its hash tag: one slot for a thread's keys, or a run's."""
    return f"{prefix}:{kind}:{{{name}}}"


async def get_many(client: RedisClient, keys: Sequence[str]) -> list[bytes | None]:
    """``MGET`` on one Redis; on a cluster, one ``MGET`` per slot (keys of many threads)."""
    if not keys:
        return []
    if isinstance(client, RedisCluster):
        found = await client.mget_nonatomic(list(keys))
    else:
        found = await client.mget(list(keys))
    return list(found)
