"""How :class:`redis_saver.RedisSaver` talks to Redis: one write, one read.

Each saver call is a batch of commands (usually one script) packed once, written once and
answered on a connection borrowed from the client's own pool. Going through
``redis.asyncio.Redis.execute_command`` instead would add a retry wrapper, observability
hooks and a generic argument packer to every call: about a fifth of a chat turn's checkpoint
time. The pool's settings (URL, credentials, database, TLS, parser, ``max_connections``) all
apply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from redis_saver.cluster import ClusterRoutes
from redis_saver.errors import RedisUnavailable
from redis_saver.lua import LuaScript

Command = Sequence[EncodableT]
ScriptCall = tuple[LuaScript, Sequence[str], Sequence[EncodableT]]

# BusyLoadingError (a restarted Redis still loading its data) is a ConnectionError too;
# the builtin TimeoutError is the per-call deadline running out.
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, TimeoutError)


def pack(commands: Sequence[Command]) -> bytes:
    """RESP-encode a batch of commands into one buffer."""
    parts: list[bytes] = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for arg in command:
            if isinstance(arg, bytes):
                data = arg
            elif isinstance(arg, str):
                data = arg.encode()
            elif isinstance(arg, int):
                data = b"%d" % arg
            elif isinstance(arg, float):
                data = repr(arg).encode()
            else:
                data = bytes(arg)
            parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


class RedisTransport:
    """Round trips with a deadline; a Redis that cannot be reached is :class:`RedisUnavailable`.

    Bound to the event loop of its first call, like the connections it keeps.
    """

    def __init__(
        self, client: aioredis.Redis | RedisCluster, *, call_timeout: float | None
    ) -> None:
        self.call_timeout = call_timeout
        self.where = describe(client)
        # On a cluster each command goes to the master of its key's slot (redis_saver.cluster).
        self._cluster = ClusterRoutes(client, pack) if isinstance(client, RedisCluster) else None
        self._pool = None if isinstance(client, RedisCluster) else client.connection_pool
        self._closed = False
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        self._overdue: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.TimerHandle | None = None

    async def run(self, commands: Sequence[Command]) -> list[Any]:
        """One round trip; a server error comes back in its reply's place."""
        task = asyncio.current_task()
        try:
            if self.call_timeout is None or task is None:
                return await self._round_trip(commands)
            self._watch(task)
            try:
                return await self._round_trip(commands)
            except asyncio.CancelledError:
                if task not in self._overdue:
                    raise
                self._overdue.discard(task)
                task.uncancel()
                raise TimeoutError(f"no reply within {self.call_timeout} s") from None
            finally:
                del self._deadlines[task]
        except _UNREACHABLE as exc:
            raise RedisUnavailable(f"Redis at {self.where} is unreachable: {exc}") from exc

    def _watch(self, task: asyncio.Task[Any]) -> None:
        # One timer checks every call in flight, rather than asyncio.timeout arming and
        # cancelling a timer per call, which costs a tenth of a call on uvloop.
        assert self.call_timeout is not None
        loop = asyncio.get_running_loop()
        self._deadlines[task] = loop.time() + self.call_timeout
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.call_timeout / 4, self._cancel_overdue)

    def _cancel_overdue(self) -> None:
        assert self.call_timeout is not None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for task, deadline in self._deadlines.items():
            # A task in here is suspended inside _send, so the CancelledError lands there.
            if deadline <= now and task not in self._overdue:
                self._overdue.add(task)
                task.cancel()
        self._watchdog = (
            loop.call_later(self.call_timeout / 4, self._cancel_overdue)
            if self._deadlines
            else None
        )

    async def run_checked(self, commands: Sequence[Command]) -> list[Any]:
        """One round trip; the first server error is raised."""
        replies = await self.run(commands)
        _raise_first_error(replies)
        return replies

    async def eval(self, script: LuaScript, keys: Sequence[str], args: Sequence[EncodableT]) -> Any:
        return (await self.eval_batch([(script, keys, args)]))[0]

    async def eval_batch(
        self, calls: Sequence[ScriptCall], before: Sequence[Command] = ()
    ) -> list[Any]:
        """Scripts, after the ``before`` commands, in one round trip; their replies."""
        commands: list[Command] = [*before]
        commands.extend(
            ("EVALSHA", script.sha, len(keys), *keys, *args) for script, keys, args in calls
        )
        if not commands:
            return []
        replies = await self.run(commands)
        _raise_first_error(replies[: len(before)])
        out = replies[len(before) :]
        forgotten = [i for i, reply in enumerate(out) if isinstance(reply, NoScriptError)]
        if forgotten:
            # A restarted or flushed Redis lost its script cache; EVAL runs and re-caches.
            again = [calls[i] for i in forgotten]
            retried = await self.run(
                [("EVAL", script.source, len(keys), *keys, *args) for script, keys, args in again]
            )
            for i, reply in zip(forgotten, retried, strict=True):
                out[i] = reply
        _raise_first_error(out)
        return out

    def _round_trip(self, commands: Sequence[Command]) -> Awaitable[list[Any]]:
        if self._cluster is not None:
            return self._cluster.send(commands)
        return self._send(pack(commands), len(commands))

    async def _send(self, packed: bytes, replies_expected: int) -> list[Any]:
        # A connection that broke while idle (Redis restarted) may fail on first use; the
        # batch then goes once more on a fresh one. Resending is safe: a script runs whole or
        # not at all, and running one of ours twice stores the same thing.
        for attempt in (1, 2):
            # Through the pool, so its max_connections holds under any burst (a blocking pool
            # makes the excess wait; a plain one refuses it with a ConnectionError).
            assert self._pool is not None
            conn: AbstractConnection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
            try:
                await conn.send_packed_command(packed, check_health=False)
                replies: list[Any] = []
                for _ in range(replies_expected):
                    try:
                        replies.append(await conn.read_response())
                    except ResponseError as exc:  # read whole: the connection is still in step
                        replies.append(exc)
            except RedisConnectionError:
                await conn.disconnect()
                await self._pool.release(conn)
                if attempt == 1 and not self._closed:
                    continue
                raise
            except BaseException:
                # Cancelled or timed out mid-reply: the socket may still hold unread data.
                await conn.disconnect()
                await self._pool.release(conn)
                raise
            await self._pool.release(conn)
            return replies
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def aclose(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None


def _raise_first_error(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


def describe(client: aioredis.Redis | RedisCluster) -> str:
    """Where the client points, without credentials, for error messages."""
    if isinstance(client, RedisCluster):
        kwargs = client.get_connection_kwargs()
        scheme = "rediss" if kwargs.get("ssl") else "redis"
        nodes = [f"{n.host}:{n.port}" for n in client.nodes_manager.startup_nodes.values()]
        return f"{scheme}://{','.join(nodes)} (a cluster)"
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    db = kwargs.get("db", 0)
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={db}"
    scheme = "rediss" if issubclass(pool.connection_class, aioredis.SSLConnection) else "redis"
    return f"{scheme}://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"
