"""Thread-wide TTL: a live thread keeps every key, a thread left alone goes whole."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from redis_saver import RedisSaver
from tests.redis_saver.checkpoints import config, put

TTL = 1.0


async def _keys(raw: aioredis.Redis) -> list[bytes]:
    return sorted([k async for k in raw.scan_iter(match="*")])


async def test_ttl_when_thread_keeps_writing_then_turn_one_channel_outlives_first_ttl(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """A channel written only on turn 1 is still read after 1.5 TTLs of later turns."""
    async with RedisSaver.from_url(redis_db, ttl=TTL) as saver:
        parent = await put(saver, "t", changed={"system": "written once", "turn": 1})
        for turn in range(2, 5):
            await asyncio.sleep(TTL / 2)
            parent = await put(saver, "t", changed={"turn": turn}, parent=parent)
            await saver.aput_writes(parent, [("turn", turn + 1)], "task")

        found = await saver.aget_tuple(config("t"))

    assert found is not None
    assert found.checkpoint["channel_values"] == {"system": "written once", "turn": 4}
    ttls = [await raw.pttl(k) for k in await _keys(raw)]
    assert len(ttls) == 2
    assert all(TTL * 1000 * 0.8 < t <= TTL * 1000 for t in ttls)


async def test_ttl_when_thread_left_alone_then_every_key_expires(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """After the TTL, SCAN finds nothing of the thread: no checkpoint, blob, write or run link."""
    async with RedisSaver.from_url(redis_db, ttl=0.3) as saver:
        first = await put(saver, "t", changed={"a": 1}, run_id="run-1")
        await saver.aput_writes(first, [("a", 2)], "task")
        await put(saver, "t", changed={"a": 3}, parent=first, run_id="run-1")
        assert len(await _keys(raw)) == 3

        await asyncio.sleep(0.45)

        assert await _keys(raw) == []
        assert await saver.aget_tuple(config("t")) is None


async def test_ttl_when_refresh_on_read_then_reads_keep_thread_alive(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """With refresh_on_read a read resets the TTL of the whole thread; without, it does not."""
    async with (
        RedisSaver.from_url(redis_db, ttl=0.4, refresh_on_read=True) as refreshing,
        RedisSaver.from_url(redis_db, ttl=0.4) as plain,
    ):
        await put(refreshing, "read-refreshed", changed={"a": 1})
        await put(plain, "read-only", changed={"a": 1})
        for _ in range(3):
            await asyncio.sleep(0.2)
            assert await refreshing.aget_tuple(config("read-refreshed")) is not None
            await plain.aget_tuple(config("read-only"))

        assert await refreshing.aget_tuple(config("read-refreshed")) is not None
        assert await plain.aget_tuple(config("read-only")) is None
