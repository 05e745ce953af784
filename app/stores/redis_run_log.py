"""Each run's frames in a Redis Stream, so any replica can replay and follow them.

``{prefix:r:<requestId>}:log`` (the hash tag of every key of the run's) holds one entry per
frame, its stream id ``<position>-0`` (the frame's id, so ids are the run's own log
positions: strictly increasing, never two in one millisecond's clash), with the frame's event
name and data. Entry ``0-1`` names the run's owner
and thread. A run's writer appends what the run produced since its last write in one pipeline
per wake-up (never one round trip per token), trims to ``MAXLEN ~``, and sets the key to expire
``ttl`` seconds after its last write, the terminal frame included. Imported only with Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from app.errors import RunLost, StoreUnavailable
from app.stores.redis_client import REDIS_ERRORS, RedisClient, run_key
from app.stores.run_log import Codec, LogFrame, Run, RunOwner
from redis_saver.errors import RedisUnavailable
from redis_saver.transport import RedisTransport

log = logging.getLogger("app.runs.registry")

# Frames one follower reads per XREAD, and how long it blocks before checking on the run.
_READ_COUNT = 1000
_BLOCK_MS = 1000


class _Pending:
    """What of one run is not in Redis yet."""

    __slots__ = ("encoder", "final_since", "head", "run", "written")

    def __init__(self, run: Run, codec: Codec) -> None:
        self.run = run
        self.encoder = codec
        self.written = run.base  # log positions already in Redis
        # The owner entry, and the expiry while the run lives (a run taken over has both).
        self.head = run.base == 0
        self.final_since: float | None = None  # when the run ended, until its end is written


class RedisRunLog:
    """Writes runs' frames to Redis Streams and reads them back from any replica.

    One writer per process: every ``flush_interval`` seconds it sends what every run produced
    since its last write in one round trip (a pipeline of XADDs, packed by the saver's
    transport), so a token costs a share of one write, whatever the number of streams. A run's
    end is written at once, before the run lets go of its claims; if Redis is down then, the
    writer keeps trying for ``retry_for`` seconds so that a rejoin after the outage still
    finds the end.
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str,
        ttl: float,
        maxlen: int,
        running: Callable[[str], Awaitable[bool]],
        pending: Callable[[str], Awaitable[bool]],
        watch: Callable[[str], Awaitable[None]],
        flush_interval: float = 0.05,
        live_ttl: float = 3600.0,
        retry_for: float = 60.0,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = int(ttl * 1000)
        self._live_ttl_ms = int(max(ttl, live_ttl) * 1000)
        self._maxlen = b"%d" % maxlen
        self._running = running  # whether a replica still holds the run's claim
        self._pending_run = pending  # whether the run is recorded in flight (to be taken over)
        self._watch = watch  # tell the run's replica that a client follows it from here
        self._interval = flush_interval
        self._retry_for = retry_for
        self._transport = RedisTransport(client, call_timeout=5.0)
        self._pending: dict[str, _Pending] = {}
        self._writer: asyncio.Task[None] | None = None
        self._failing = False

    def key(self, request_id: str) -> str:
        return run_key(self._prefix, request_id, "log")

    # -- writing -------------------------------------------------------------------------

    def attach(self, run: Run, codec: Codec) -> None:
        """Log ``run`` in ``codec``'s format: its owner entry at once (a rejoin elsewhere needs
        it), its frames with the next writes, its end when :meth:`end` is awaited."""
        self._pending[run.spec.request_id] = _Pending(run, codec)
        self._ensure_writer(now=True)

    def _ensure_writer(self, *, now: bool = False) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(first_now=now), name="run-log-writer"
            )

    async def _write_loop(self, *, first_now: bool) -> None:
        if not first_now:
            await asyncio.sleep(self._interval)
        while self._pending:
            await self._flush(list(self._pending.values()))
            await asyncio.sleep(self._interval)

    async def end(self, run: Run) -> None:
        """Write the rest of ``run``, its terminal frame included (before it lets go of its
        claims, so that a follower elsewhere that sees the claim gone finds the end)."""
        pending = self._pending.get(run.spec.request_id)
        if pending is None:
            return
        pending.final_since = time.monotonic()
        await self._flush([pending])

    async def _flush(self, batch: list[_Pending]) -> None:
        commands: list[list[bytes | str]] = []
        sizes: list[tuple[_Pending, int, bool]] = []
        for pending in batch:
            run = pending.run
            key = self.key(run.spec.request_id)
            base = run.base
            upto = base + len(run.events)
            ended = pending.final_since is not None
            first = len(commands)
            if pending.head:
                commands.append(
                    [b"XADD", key, b"0-1", b"u", run.spec.user_id, b"t", run.spec.thread_id]
                )
                commands.append([b"PEXPIRE", key, b"%d" % self._live_ttl_ms])
            encoder = pending.encoder
            for position in range(pending.written + 1, upto + 1):
                parts = encoder.parts(run.events[position - base - 1], position)
                if parts is None:  # nothing to show in the run's view: a gap in the ids
                    continue
                name, data = parts
                commands.append(
                    [b"XADD", key, b"MAXLEN", b"~", self._maxlen, b"%d-0" % position,
                     b"n", name, b"d", data]
                )  # fmt: skip
            if ended:
                if run.error is not None:
                    name, data = encoder.error_parts(run.error)
                    commands.append([b"XADD", key, b"%d-0" % (upto + 1), b"n", name, b"d", data])
                commands.append([b"PEXPIRE", key, b"%d" % self._ttl_ms])
            if len(commands) > first:
                sizes.append((pending, upto, ended))
        if not commands:
            return
        try:
            replies = await self._transport.run(commands)
        except RedisUnavailable as exc:
            if not self._failing:
                log.warning("run logs not written (will retry): %s", exc)
            self._failing = True
            now = time.monotonic()
            for pending, _upto, ended in sizes:
                if ended and now - (pending.final_since or now) > self._retry_for:
                    self._pending.pop(pending.run.spec.request_id, None)
            self._ensure_writer()
            return
        self._failing = False
        for reply in replies:
            # An entry written by an earlier try that broke off is refused as "equal or
            # smaller" than the stream's top: it is there, which is all that matters.
            if isinstance(reply, Exception) and "equal or smaller" not in str(reply):
                log.warning("a run log write was refused: %s", reply)
                break
        for pending, upto, ended in sizes:
            pending.head = False
            pending.written = max(pending.written, upto)
            if ended:
                self._pending.pop(pending.run.spec.request_id, None)

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        await self._transport.aclose()

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
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(
                f"Redis, which holds run logs, cannot be reached: {exc}"
            ) from exc
        return None

    async def ended_by(self, request_id: str, position: int) -> bool:
        """Whether the run's log ends (final or error) at or before ``position``."""
        try:
            last: Any = await self._client.xrevrange(self.key(request_id), "+", "-", count=1)
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(
                f"Redis, which holds run logs, cannot be reached: {exc}"
            ) from exc
        if not last:
            return False
        entry_id, fields = last[0]
        ended = fields.get(b"n") in (b"final", b"error")
        return ended and int(entry_id.decode().partition("-")[0]) <= position

    async def last_named(self, request_id: str, name: bytes, before: int) -> bytes | None:
        """The data of the run's last entry called ``name`` before position ``before`` (what
        a reader joining part-way needs of the frames it skips), if one is in the log."""
        try:
            entries: Any = await self._client.xrevrange(
                self.key(request_id), f"({before}-0", "0-2", count=_READ_COUNT
            )
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(
                f"Redis, which holds run logs, cannot be reached: {exc}"
            ) from exc
        for _entry_id, fields in entries:
            if fields.get(b"n") == name:
                data: bytes = fields[b"d"]
                return data
        return None

    async def logged(self, request_id: str) -> list[LogFrame]:
        """Every frame the run's log holds now, in order."""
        try:
            entries: Any = await self._client.xrange(self.key(request_id), "0-2", "+")
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(
                f"Redis, which holds run logs, cannot be reached: {exc}"
            ) from exc
        return [
            (int(entry_id.decode().partition("-")[0]), fields[b"n"], fields[b"d"])
            for entry_id, fields in entries
        ]

    async def abandon(self, request_id: str, parts: tuple[bytes, bytes]) -> None:
        key = self.key(request_id)
        name, data = parts
        try:
            last: Any = await self._client.xrevrange(key, "+", "-", count=1)
            position = int(last[0][0].decode().partition("-")[0]) if last else 0
            pipe = self._client.pipeline(transaction=False)
            pipe.xadd(key, {b"n": name, b"d": data}, id=f"{position + 1}-0")
            pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(
                f"Redis, which holds run logs, cannot be reached: {exc}"
            ) from exc

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
            except REDIS_ERRORS as exc:
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
                # The claim is gone: the run ended (its last frames are in by then), or its
                # replica died and the run waits for another to take it over (its record is
                # still there). Read once more before calling it lost.
                tail = await self._client.xrange(key, f"({last}", "+")
                if tail or await self._pending_run(request_id):
                    continue
                raise RunLost(
                    "The server that was running this request stopped before its end reached "
                    "the run's log. The thread holds what was saved: read it (GET "
                    "/threads/{threadId}/messages) before sending the message again."
                )
