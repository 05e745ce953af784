"""Redis going away: a typed 503 error, nothing half-written, recovery without a new saver."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

import pytest
import redis.asyncio as aioredis
from langgraph.checkpoint.base import empty_checkpoint
from redis.exceptions import ConnectionError as RedisConnectionError

from redis_saver import RedisSaver, RedisUnavailable
from tests.redis_saver.checkpoints import config, put
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A Redis of this test's own, which it may stop and start."""
    own = RedisServer()
    own.start()
    yield own
    own.stop()


async def test_ping_when_nothing_listens_then_unavailable_names_url_without_password() -> None:
    """The error names Redis and where it was looked for, but never the password."""
    url = f"redis://app:hunter2@127.0.0.1:{free_port()}/3"
    async with RedisSaver.from_url(url) as saver:
        with pytest.raises(RedisUnavailable) as caught:
            await saver.ping()

    message = str(caught.value)
    assert message.startswith("Redis at redis://127.0.0.1:")
    assert "/3 is unreachable" in message
    assert "hunter2" not in message


async def test_saver_when_redis_stops_then_every_call_raises_unavailable(
    server: RedisServer,
) -> None:
    """Reads, writes, listing and deletes all turn the outage into RedisUnavailable."""
    async with RedisSaver.from_url(server.url) as saver:
        stored = await put(saver, "t", changed={"a": 1})
        server.stop()

        with pytest.raises(RedisUnavailable):
            await saver.aget_tuple(stored)
        with pytest.raises(RedisUnavailable):
            await put(saver, "u")
        with pytest.raises(RedisUnavailable):
            await saver.aput_writes(stored, [("a", 2)], "task")
        with pytest.raises(RedisUnavailable):
            _ = [t async for t in saver.alist(config("t"))]
        with pytest.raises(RedisUnavailable):
            await saver.adelete_thread("t")
        with pytest.raises(RedisUnavailable):
            await saver.ping()


async def test_saver_when_redis_restarts_then_next_call_works_on_same_saver(
    server: RedisServer,
) -> None:
    """After a restart (empty script cache, stale pooled sockets) the same saver carries on."""
    async with RedisSaver.from_url(server.url) as saver:
        await saver.setup()
        await put(saver, "t", changed={"a": 1})
        server.stop()
        with pytest.raises(RedisUnavailable):
            await saver.ping()
        server.start()

        stored = await put(saver, "t", changed={"a": 2})
        await saver.aput_writes(stored, [("a", 3)], "task")
        found = await saver.aget_tuple(config("t"))

    assert found is not None
    assert found.checkpoint["channel_values"] == {"a": 2}
    assert found.pending_writes == [("task", "a", 3)]


async def test_aput_when_connection_drops_mid_command_then_checkpoint_absent_then_whole(
    redis_db: str,
) -> None:
    """A command cut in half stores nothing at all; sent whole, every blob lands with it."""
    cut = {"armed": False}

    class CuttingConnection(aioredis.Connection):
        async def send_packed_command(
            self, command: bytes | str | Iterable[bytes], check_health: bool = True
        ) -> None:
            if not cut["armed"]:
                await super().send_packed_command(command, check_health)
                return
            packed = command.encode() if isinstance(command, str) else command
            data = packed if isinstance(packed, bytes) else b"".join(packed)
            await super().send_packed_command(data[: len(data) // 2], check_health)
            await self.disconnect()
            raise RedisConnectionError("connection lost mid-command")

    client = aioredis.Redis.from_url(redis_db, connection_class=CuttingConnection)
    saver = RedisSaver(client)
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {f"ch{i}": "v" * 500 for i in range(20)}
    checkpoint["channel_versions"] = dict.fromkeys(checkpoint["channel_values"], "1")
    new_versions = dict(checkpoint["channel_versions"])
    try:
        await saver.setup()
        cut["armed"] = True
        with pytest.raises(RedisUnavailable):
            await saver.aput(config("t"), checkpoint, {}, new_versions)
        cut["armed"] = False

        assert await client.exists("{lg:t:t}:data", "{lg:t:t}:index") == 0
        await saver.aput(config("t"), checkpoint, {}, new_versions)
        found = await saver.aget_tuple(config("t"))
        assert found is not None
        assert found.checkpoint["channel_values"] == checkpoint["channel_values"]
    finally:
        await saver.aclose()
        await client.aclose()


async def test_aget_tuple_when_redis_does_not_answer_in_time_then_unavailable(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """A Redis that accepts the command but stays silent past call_timeout is unavailable."""
    async with RedisSaver.from_url(redis_db, call_timeout=0.2) as saver:
        stored = await put(saver, "t", changed={"a": 1})
        await raw.execute_command("CLIENT", "PAUSE", 600, "ALL")

        with pytest.raises(RedisUnavailable, match="unreachable"):
            await saver.aget_tuple(stored)

        await raw.execute_command("CLIENT", "UNPAUSE")
        assert await saver.aget_tuple(stored) is not None


async def test_aget_tuple_when_caller_cancels_then_cancellation_propagates_untyped(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """A caller's own cancel stays a CancelledError, and the saver serves the next call."""
    async with RedisSaver.from_url(redis_db, call_timeout=5) as saver:
        stored = await put(saver, "t", changed={"a": 1})
        await raw.execute_command("CLIENT", "PAUSE", 400, "ALL")
        call = asyncio.ensure_future(saver.aget_tuple(stored))
        await asyncio.sleep(0.05)

        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

        await raw.execute_command("CLIENT", "UNPAUSE")
        assert await saver.aget_tuple(stored) is not None
