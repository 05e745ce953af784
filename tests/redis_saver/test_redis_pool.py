"""The saver's connections come from its client's pool, so ``max_connections`` holds."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from redis_saver import RedisSaver
from tests.redis_saver.checkpoints import config, put

CAP = 8
BURST = 300


async def _saver_connections(raw: aioredis.Redis, name: str) -> int:
    listing = await raw.client_list()
    return sum(1 for client in listing if client.get("name") == name)


async def test_burst_of_puts_when_pool_is_capped_then_redis_sees_at_most_the_cap(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """300 concurrent ``aput`` calls on a pool of 8 open at most 8 connections, and all land."""
    name = "saver-cap-test"
    most = 0
    async with RedisSaver.from_url(redis_db, max_connections=CAP, client_name=name) as saver:
        burst = asyncio.gather(*(put(saver, f"t{i}", changed={"x": i}) for i in range(BURST)))
        task = asyncio.ensure_future(burst)
        while not task.done():
            most = max(most, await _saver_connections(raw, name))
            await asyncio.sleep(0.001)
        written = await task
        most = max(most, await _saver_connections(raw, name))
        stored = [await saver.aget_tuple(config(f"t{i}")) for i in range(0, BURST, 37)]

    assert len(written) == BURST
    assert all(t is not None for t in stored)
    assert 1 <= most <= CAP
