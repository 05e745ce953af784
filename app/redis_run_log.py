"""Each run's frames in a Redis Stream, so any replica can replay and follow them.

``{prefix}:log:<requestId>`` holds one entry per frame, its stream id ``<position>-0`` (the
frame's id, so ids are the run's own log positions: strictly increasing, never two in one
millisecond's clash), with the frame's event name and data. Entry ``0-1`` names the run's owner
and thread. A run's writer appends what the run produced since its last write in one pipeline
per wake-up (never one round trip per token), trims to ``MAXLEN ~``, and sets the key to expire
``ttl`` seconds after its last write, the terminal frame included. Imported only with Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.encoders.seed import SeedEncoder
from app.errors import AppError, StoreUnavailable
from app.run import Run

log = logging.getLogger("app.runs")

# Frames one follower reads per XREAD, and how long it blocks before checking on the run.
_READ_COUNT = 1000
_BLOCK_MS = 1000

LogFrame = tuple[int, bytes, bytes]  # position, event name, data


@dataclass(frozen=True)
class RunOwner:
    user_id: str
    thread_id: str


class RunLost(AppError):
    """The replica running the run went away before it ended."""

    status = 503
    code = "run_lost"


class RedisRunLog:
    """Writes runs' frames to Redis Streams and reads them back from any replica."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        ttl: float,
        maxlen: int,
        running: Callable[[str], Awaitable[bool]],
        watch: Callable[[str], Awaitable[None]],
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = int(ttl * 1000)
        self._maxlen = maxlen
        self._running = running  # whether a replica still holds the run's claim
        self._watch = watch  # tell the run's replica that a client follows it from here
        self._writers: set[asyncio.Task[None]] = set()

    def key(self, request_id: str) -> str:
        return f"{self._prefix}:log:{request_id}"

    # -- writing -------------------------------------------------------------------------

    def attach(self, run: Run) -> None:
        """Start the run's writer; the run waits (briefly) for its last write before it lets
        go of its claims, so a follower elsewhere never sees the claim gone before the end."""
        task = asyncio.get_running_loop().create_task(
            self._write(run), name=f"run-log:{run.turn.request_id}"
        )
        self._writers.add(task)
        task.add_done_callback(self._writers.discard)
        run.before_release.append(lambda: task)

    async def _write(self, run: Run) -> None:
        turn = run.turn
        key = self.key(turn.request_id)
        encoder = SeedEncoder(turn)
        written = 0  # log positions already in Redis
        head: list[tuple[str, dict[str, str]]] = [("0-1", {"u": turn.user_id, "t": turn.thread_id})]
        failed = False

        async def flush(final: bool) -> None:
            nonlocal written, head, failed
            events = run.events
            upto = len(events)
            entries: list[tuple[str, dict[str, bytes] | dict[str, str]]] = [*head]
            for position in range(written + 1, upto + 1):
                name, data = encoder.parts(events[position - 1])
                entries.append((f"{position}-0", {"n": name, "d": data}))
            if final and run.error is not None:
                name, data = encoder.error_parts(run.error)
                entries.append((f"{upto + 1}-0", {"n": name, "d": data}))
            if not entries:
                return
            pipe = self._client.pipeline(transaction=False)
            for entry_id, fields in entries:
                pipe.xadd(key, fields, id=entry_id, maxlen=self._maxlen, approximate=True)  # type: ignore[arg-type]
            pipe.pexpire(key, self._ttl_ms)
            try:
                await pipe.execute()
            except RedisError as exc:
                if not failed:
                    log.warning("run log of %s not written (will retry): %s", turn.request_id, exc)
                failed = True
                return
            failed = False
            head = []
            written = upto

        try:
            await flush(final=False)  # the owner entry at once: a rejoin elsewhere needs it
            async for _first, _batch in run.follow(0, watch=False):
                await flush(final=False)
        except AppError:
            pass
        await flush(final=True)
        if failed:  # one more try, as Redis may be back: the run waits at most 2 s for this
            await asyncio.sleep(0.2)
            await flush(final=True)

    async def aclose(self) -> None:
        for task in list(self._writers):
            task.cancel()
        for task in list(self._writers):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- reading -------------------------------------------------------------------------

    async def owner(self, request_id: str) -> RunOwner | None:
        """Who started the run, if its log exists; for a run another replica has claimed but
        not logged yet (it may be busy starting up), after waiting a few seconds for it."""
        key = self.key(request_id)
        try:
            for _ in range(100):
                entries: Any = await self._client.xrange(key, "0-1", "0-1")
                if entries:
                    fields = entries[0][1]
                    return RunOwner(fields[b"u"].decode(), fields[b"t"].decode())
                if not await self._running(request_id):
                    return None
                await asyncio.sleep(0.05)
        except RedisError as exc:
            raise StoreUnavailable(
                f"Redis, which holds run logs, cannot be reached: {exc}"
            ) from exc
        return None

    async def frames(self, request_id: str, after: int) -> AsyncGenerator[list[LogFrame]]:
        """The run's frames after position ``after``, then live ones until the terminal frame;
        :class:`RunLost` if the run's replica is gone first."""
        key = self.key(request_id)
        last = f"{after}-0" if after > 0 else "0-1"
        while True:
            try:
                await self._watch(request_id)
                reply: Any = await self._client.xread(
                    {key: last}, count=_READ_COUNT, block=_BLOCK_MS
                )
            except RedisError as exc:
                raise StoreUnavailable(
                    f"Redis, which holds run logs, cannot be reached: {exc}"
                ) from exc
            batch: list[LogFrame] = []
            for _stream, entries in reply or ():
                for entry_id, fields in entries:
                    last = entry_id.decode()
                    position = int(last.partition("-")[0])
                    batch.append((position, fields[b"n"], fields[b"d"]))
            if batch:
                yield batch
                if batch[-1][1] in (b"final", b"error"):
                    return
                continue
            if not await self._running(request_id):
                # The claim is gone: the run ended (its last frames are in by then) or its
                # replica died. Read once more before calling it lost.
                tail = await self._client.xrange(key, f"({last}", "+")
                if tail:
                    continue
                raise RunLost(
                    "The server that was running this request stopped before it ended; what "
                    "it had streamed is in the thread. Send the message again."
                )
