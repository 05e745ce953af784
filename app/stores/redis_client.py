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


def thread_key(prefix: str, thread_id: str, kind: str) -> str:
    """A key of the thread's, in the hash tag of its checkpoints (``redis_saver.codec``'s
    ``{prefix:t:<id>}``): a thread's claim, record and runs live in its checkpoints' slot, so
    a shard that fails takes whole threads with it, never half of one."""
    return f"{{{prefix}:t:{thread_id}}}:{kind}"


def run_key(prefix: str, request_id: str, kind: str) -> str:
    """A key of the run's (its claim, watch, log, record), in one hash tag, the one of the
    saver's index of the run's checkpoints (``{prefix:r:<id>}``)."""
    return f"{{{prefix}:r:{request_id}}}:{kind}"


async def get_many(client: RedisClient, keys: Sequence[str]) -> list[bytes | None]:
    """``MGET`` on one Redis; on a cluster, one ``MGET`` per slot (keys of many threads)."""
    if not keys:
        return []
    if isinstance(client, RedisCluster):
        found = await client.mget_nonatomic(list(keys))
    else:
        found = await client.mget(list(keys))
    return list(found)
