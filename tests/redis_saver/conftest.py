"""Savers on the session's throwaway Redis, plus one whose connections count round trips."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from redis_saver import RedisSaver
from tests.redis_saver.checkpoints import CountingSerde


@dataclass
class RoundTrips:
    """Writes to the socket: a command or a whole pipeline is one, answered before the next."""

    count: int = 0


@pytest.fixture
async def saver(redis_db: str) -> AsyncIterator[RedisSaver]:
    """A saver with default options on a flushed Redis."""
    async with RedisSaver.from_url(redis_db) as s:
        yield s


@pytest.fixture
async def raw(redis_db: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client, to look at what the saver stored."""
    client = aioredis.Redis.from_url(redis_db)
    yield client
    await client.aclose()


@pytest.fixture
async def counted(redis_db: str) -> AsyncIterator[tuple[RedisSaver, RoundTrips]]:
    """A saver whose connection counts every send; connected and scripts loaded beforehand."""
    trips = RoundTrips()

    class CountingConnection(aioredis.Connection):
        async def send_packed_command(
            self, command: bytes | str | Iterable[bytes], check_health: bool = True
        ) -> None:
            trips.count += 1
            await super().send_packed_command(command, check_health)

    client = aioredis.Redis.from_url(redis_db, connection_class=CountingConnection)
    s = RedisSaver(client)
    await s.setup()
    trips.count = 0
    yield s, trips
    await s.aclose()
    await client.aclose()


@pytest.fixture
async def counting(redis_db: str) -> AsyncIterator[tuple[RedisSaver, CountingSerde]]:
    """A saver whose serializer counts its decodes and the messages it encodes."""
    serde = CountingSerde()
    async with RedisSaver.from_url(redis_db, serde=serde) as saver:
        yield saver, serde
