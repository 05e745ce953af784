"""Thread and run records in Redis, beside the checkpoints (see ``app.threads.records``).

``{prefix:t:<thread>}:record`` and ``{prefix:r:<run>}:record`` hold the records as JSON, in
their thread's (or run's) hash tag, the checkpoints' own; ``{prefix}:threads:{<user>}``
(``{prefix}:threads`` for everyone's) and ``{prefix:t:<thread>}:runs`` are sorted sets indexing
them by time. A listing reads one index, then records of any slot (the topology's
``get_many``). With ``REDIS_TTL_SECONDS``, records expire as the checkpoints do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.errors import StoreUnavailable
from app.stores.records import (
    MAX_RUNS_PER_THREAD,
    RunEnd,
    RunRecord,
    ThreadRecord,
    merge_end,
    run_from_json,
    thread_from_json,
    to_json,
)
from app.stores.redis_client import REDIS_ERRORS, RedisClient, run_key, thread_key, topology_of

if TYPE_CHECKING:
    from redis.asyncio.client import Pipeline
    from redis.asyncio.cluster import ClusterPipeline


class RedisRecords:
    def __init__(self, client: RedisClient, *, prefix: str, ttl: int | None = None) -> None:
        self._client = client
        self._topology = topology_of(client)
        self._prefix = prefix
        self._ttl = ttl

    def _thread(self, thread_id: str) -> str:
        return thread_key(self._prefix, thread_id, "record")

    def _user(self, user_id: str | None) -> str:
        """The index of a user's threads; ``None``: of everyone's."""
        if user_id is None:
            return f"{self._prefix}:threads"
        return f"{self._prefix}:threads:{{{user_id}}}"

    def _run(self, run_id: str) -> str:
        return run_key(self._prefix, run_id, "record")

    def _runs(self, thread_id: str) -> str:
        return thread_key(self._prefix, thread_id, "runs")

    async def get(self, thread_id: str) -> ThreadRecord | None:
        try:
            found = await self._client.get(self._thread(thread_id))
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        return None if found is None else thread_from_json(found)

    async def put(self, record: ThreadRecord) -> None:
        pipe = self._client.pipeline(transaction=False)
        self._put(pipe, record)
        await self._execute(pipe)

    def _put(self, pipe: Pipeline | ClusterPipeline, record: ThreadRecord) -> None:
        pipe.set(self._thread(record.thread_id), to_json(record), ex=self._ttl)
        for index in (self._user(record.user_id), self._user(None)):
            pipe.zadd(index, {record.thread_id: record.updated_at})

    async def finish(self, ends: Sequence[RunEnd]) -> None:
        try:
            found = await self._topology.get_many([self._thread(e.thread.thread_id) for e in ends])
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        pipe = self._client.pipeline(transaction=False)
        for end, data in zip(ends, found, strict=True):
            existing = thread_from_json(data) if data is not None else None
            self._put(pipe, merge_end(existing, end))
            if end.run is not None:
                self._put_run(pipe, end.run)
        await self._execute(pipe)

    async def delete(self, thread_id: str) -> None:
        record = await self.get(thread_id)
        try:
            run_ids = await self._client.zrange(self._runs(thread_id), 0, -1)
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        pipe = self._client.pipeline(transaction=False)
        pipe.delete(self._thread(thread_id))
        pipe.delete(self._runs(thread_id))
        for run_id in run_ids:
            pipe.delete(self._run(_text(run_id)))
        pipe.zrem(self._user(None), thread_id)
        if record is not None:
            pipe.zrem(self._user(record.user_id), thread_id)
        await self._execute(pipe)

    async def of_user(self, user_id: str | None) -> list[ThreadRecord]:
        try:
            ids = await self._client.zrevrange(self._user(user_id), 0, -1)
            found = await self._topology.get_many([self._thread(_text(i)) for i in ids])
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        records = [thread_from_json(data) for data in found if data is not None]
        if len(records) < len(ids):  # expired records: drop them from the index
            gone = {_text(i) for i in ids} - {r.thread_id for r in records}
            with contextlib.suppress(*REDIS_ERRORS):  # tidying only: the next read tries again
                await self._client.zrem(self._user(user_id), *gone)
        return records

    def _put_run(self, pipe: Pipeline | ClusterPipeline, record: RunRecord) -> None:
        runs = self._runs(record.thread_id)
        pipe.set(self._run(record.run_id), to_json(record), ex=self._ttl)
        pipe.zadd(runs, {record.run_id: record.created_at})
        # Only the newest runs of a thread are kept in its index.
        pipe.zremrangebyrank(runs, 0, -MAX_RUNS_PER_THREAD - 1)
        if self._ttl is not None:
            pipe.expire(runs, self._ttl)

    async def get_run(self, run_id: str) -> RunRecord | None:
        try:
            found = await self._client.get(self._run(run_id))
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        return None if found is None else run_from_json(found)

    async def runs_of(self, thread_id: str) -> list[RunRecord]:
        try:
            ids = await self._client.zrevrange(self._runs(thread_id), 0, -1)
            found = await self._topology.get_many([self._run(_text(i)) for i in ids])
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        return [run_from_json(data) for data in found if data is not None]

    async def _execute(self, pipe: Pipeline | ClusterPipeline) -> None:
        try:
            await pipe.execute()
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"thread records are unreachable in Redis: {exc}")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
