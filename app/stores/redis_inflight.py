"""Runs in flight recorded in Redis: see :mod:`app.stores.inflight`. Imported only with Redis.

``{prefix:r:<requestId>}:run`` (the run's hash tag, beside its claim and log) is a hash: ``s``,
the run's record, and ``a``, the attempts so far. ``{prefix}:inflight`` is a sorted set of the
recorded request ids by when they were recorded: the index a replica scans for orphans. The
hash is the truth: an id in the index without one is dropped as it is met, so the two need not
be written atomically (on a cluster they live in different slots).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from app.errors import StoreUnavailable
from app.stores.inflight import Orphan
from app.stores.redis_client import REDIS_ERRORS, RedisClient, run_key

# Counts an attempt only of a record that is still there: HINCRBY alone would make one.
_ADOPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
return redis.call('HINCRBY', KEYS[1], 'a', 1)
"""


class RedisInFlight:
    """Records of the runs in flight on every replica, shared through Redis."""

    def __init__(self, client: RedisClient, *, prefix: str, ttl: float) -> None:
        self._client = client
        self._prefix = prefix
        # A record outlives any run (UPSTREAM_TIMEOUT bounds one); this only reaps leftovers.
        self._ttl_ms = int(ttl * 1000)
        self._index = f"{prefix}:inflight"
        self._adopt = client.register_script(_ADOPT)

    @property
    def durable(self) -> bool:
        return True

    def _key(self, request_id: str) -> str:
        return run_key(self._prefix, request_id, "run")

    def _claim_key(self, request_id: str) -> str:
        return run_key(self._prefix, request_id, "claim")

    async def record(self, request_id: str, record: bytes) -> None:
        key = self._key(request_id)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(key, mapping={"s": record, "a": 1})
            pipe.pexpire(key, self._ttl_ms)
            pipe.zadd(self._index, {request_id: time.time()})
            await pipe.execute()
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def forget(self, request_id: str) -> None:
        try:
            # The record first: without it no replica takes the run over, whatever the index.
            await self._client.delete(self._key(request_id))
            await self._client.zrem(self._index, request_id)
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def pending(self, request_id: str) -> bool:
        try:
            return bool(await self._client.exists(self._key(request_id)))
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def orphans(self, limit: int) -> Sequence[Orphan]:
        try:
            found: list[Any] = await self._client.zrange(self._index, 0, limit - 1)
            if not found:
                return ()
            ids = [raw.decode() for raw in found]
            # The claims first: a run that ends between the two reads has no record left.
            pipe = self._client.pipeline(transaction=False)
            for request_id in ids:
                pipe.exists(self._claim_key(request_id))
            claimed = await pipe.execute()
            lapsed = [r for r, held in zip(ids, claimed, strict=True) if not held]
            if not lapsed:
                return ()
            pipe = self._client.pipeline(transaction=False)
            for request_id in lapsed:
                pipe.hget(self._key(request_id), "s")
            records = await pipe.execute()
            gone = [r for r, record in zip(lapsed, records, strict=True) if record is None]
            if gone:
                await self._client.zrem(self._index, *gone)
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        return [
            Orphan(r, bytes(record))
            for r, record in zip(lapsed, records, strict=True)
            if record is not None
        ]

    async def adopt(self, request_id: str) -> int | None:
        try:
            attempts: Any = await self._adopt(keys=[self._key(request_id)])
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        return None if attempts is None else int(attempts)


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"Redis, which records the runs in flight, cannot be reached: {exc}")
