"""Limits per user shared by every replica through Redis: see :mod:`app.stores.limits`.

The rate is a fixed one-minute window (``INCR`` + ``EXPIRE``); runs in flight are a sorted set
per user whose scores are expiry times, refreshed while the runs live, so a replica that dies
cannot hold a user's slots for ever. Imported only with Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from app.errors import StoreUnavailable
from app.stores.limits import rate_limited, too_many_streams
from app.stores.redis_client import REDIS_ERRORS, RedisClient

log = logging.getLogger("app.stores.limits")

# Take a slot if fewer than ARGV[1] unexpired ones are held: atomic across replicas.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisLimits:
    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str,
        per_minute: int = 0,
        max_streams: int = 0,
        ttl: float = 30.0,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._per_minute = per_minute
        self._max_streams = max_streams
        self._ttl = ttl
        self._acquire = client.register_script(_ACQUIRE)
        self._held: dict[str, str] = {}  # request id -> user, slots this replica holds
        self._refresher: asyncio.Task[None] | None = None

    def _streams_key(self, user: str) -> str:
        return f"{self._prefix}:streams:{{{user}}}"

    async def admit(self, user: str) -> None:
        if not self._per_minute:
            return
        now = time.time()
        window = int(now // 60)
        key = f"{self._prefix}:rate:{{{user}}}:{window}"
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 61)
            count, _ = await pipe.execute()
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(
                f"Redis, which counts requests, cannot be reached: {exc}"
            ) from exc
        if count > self._per_minute:
            raise rate_limited(self._per_minute, (window + 1) * 60 - now)

    async def acquire(self, user: str, request_id: str) -> bool:
        if not self._max_streams:
            return False
        now = time.time()
        try:
            got = await self._acquire(
                keys=[self._streams_key(user)],
                args=[self._max_streams, now, now + self._ttl, request_id, int(self._ttl * 2000)],
            )
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"Redis, which counts runs, cannot be reached: {exc}") from exc
        if not got:
            raise too_many_streams(self._max_streams)
        self._held[request_id] = user
        if self._refresher is None:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh())
        return True

    async def release(self, user: str, request_id: str) -> None:
        if self._held.pop(request_id, None) is None:
            return
        try:
            await self._client.zrem(self._streams_key(user), request_id)
        except REDIS_ERRORS as exc:
            log.warning("could not free the run slot of %s (it expires): %s", request_id, exc)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            if not self._held:
                continue
            until = time.time() + self._ttl
            try:
                pipe = self._client.pipeline(transaction=False)
                for request_id, user in list(self._held.items()):
                    pipe.zadd(self._streams_key(user), {request_id: until}, xx=True)
                await pipe.execute()
            except REDIS_ERRORS as exc:
                log.warning("could not refresh run slots: %s", exc)

    async def aclose(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
