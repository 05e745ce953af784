"""A LangGraph checkpointer on plain Redis: one round trip per call, thread-wide TTL.

Runs on Redis 6.2+ and Valkey without modules. Every call of the hot path (``aget_tuple``,
``aput``, ``aput_writes``) is a single Lua script, so it costs one round trip and lands
whole or not at all. The key layout and the scripts live in ``redis_lua``; record bytes in
``redis_codec``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar, cast

import redis.asyncio as aioredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from app.errors import StoreUnavailable
from app.persistence import redis_codec as codec
from app.persistence.redis_conns import Command, ConnectionStack
from app.persistence.redis_lua import (
    ALL_SCRIPTS,
    DELETE_RUNS,
    DELETE_THREAD,
    PRUNE_KEEP_LATEST,
    PUT,
    PUT_WRITES,
    READ,
    LuaScript,
)

__all__ = ["RedisSaver", "RedisUnavailable"]

# BusyLoadingError (a restarted Redis still loading its data) is a ConnectionError too;
# the builtin TimeoutError is the saver's own per-call deadline running out.
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, TimeoutError)
_MIN_VERSION = (6, 2)  # ZRANGE ... BYLEX REV LIMIT

ScriptCall = tuple[LuaScript, codec.ThreadKeys, Sequence[EncodableT]]
T = TypeVar("T")


class RedisUnavailable(StoreUnavailable):
    """Redis refused, dropped or timed out a call; nothing was half-written."""


class RedisSaver(BaseCheckpointSaver[str]):
    """Checkpoints, channel blobs and pending writes of a thread in two keys of one hash slot.

    ``ttl`` (seconds) applies to the whole thread: every write (and every read when
    ``refresh_on_read``) resets the expiry of all its keys together. ``keep_history=False``
    keeps only the newest checkpoint per namespace, with its writes and the blobs it still
    references. The saver is async-only; its sync methods raise ``NotImplementedError``.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        key_prefix: str = "lg",
        ttl: float | None = None,
        refresh_on_read: bool = False,
        keep_history: bool = True,
        page_size: int = 64,
        call_timeout: float | None = 5.0,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisSaver needs a client with decode_responses=False")
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be positive (or None for no expiry)")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.client = client
        if not key_prefix or set("{}\0") & set(key_prefix):
            raise ValueError("key_prefix must be non-empty, without braces or NUL bytes")
        self.key_prefix = key_prefix
        self.ttl = ttl
        self.refresh_on_read = refresh_on_read
        self.keep_history = keep_history
        self.page_size = page_size
        self.call_timeout = call_timeout
        self._ttl_ms = 0 if ttl is None else max(1, round(ttl * 1000))
        self._read_ttl_ms = self._ttl_ms if refresh_on_read else 0
        self._keep = "1" if keep_history else "0"
        self._owns_client = False
        self._conns = ConnectionStack(client.connection_pool)
        self._where = _describe(client)

    @classmethod
    @asynccontextmanager
    async def from_url(
        cls,
        url: str,
        *,
        key_prefix: str = "lg",
        ttl: float | None = None,
        refresh_on_read: bool = False,
        keep_history: bool = True,
        call_timeout: float | None = 5.0,
        serde: SerializerProtocol | None = None,
        **client_kwargs: Any,
    ) -> AsyncIterator[RedisSaver]:
        """Yield a saver on its own client, closed on exit; Redis may still be down here.

        ``client_kwargs`` go to ``redis.asyncio.Redis.from_url``. The default retry policy
        is short, so a dead Redis fails a call in milliseconds instead of seconds, while a
        connection that went stale across a restart is still replaced transparently.
        ``call_timeout`` bounds each saver call. The client gets no socket timeout of its own:
        redis-py enforces that with ``asyncio.wait_for`` around every send, which spawns a
        task and yields to the event loop before the command even leaves.
        """
        client_kwargs.setdefault(
            "retry", Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2)
        )
        client_kwargs.setdefault("socket_connect_timeout", 2.0)
        client_kwargs.setdefault("socket_timeout", None)
        client = aioredis.Redis.from_url(url, **client_kwargs)
        saver = cls(
            client,
            key_prefix=key_prefix,
            ttl=ttl,
            refresh_on_read=refresh_on_read,
            keep_history=keep_history,
            call_timeout=call_timeout,
            serde=serde,
        )
        saver._owns_client = True
        try:
            yield saver
        finally:
            await saver.aclose()

    # -- lifecycle ---------------------------------------------------------------------

    async def setup(self) -> None:
        """Check the server version, preload the scripts and open a connection.

        Optional: scripts fall back to EVAL and connections open on first use.
        """
        commands: list[Command] = [("INFO", "server")]
        commands.extend(("SCRIPT", "LOAD", script.source) for script in ALL_SCRIPTS)
        replies = await self._run(commands)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        info = replies[0].decode()
        version = info.split("redis_version:", 1)[1].split("\r\n", 1)[0]
        if tuple(int(p) for p in version.split(".")[:2]) < _MIN_VERSION:
            raise RuntimeError(f"RedisSaver needs Redis 6.2 or newer; {self._where} runs {version}")

    async def ping(self) -> None:
        """Raise :class:`RedisUnavailable` unless Redis answers; for readiness checks."""
        await self._call(self.client.ping())

    async def aclose(self) -> None:
        """Close the saver's connections, and the client if the saver created it."""
        await self._conns.aclose()
        if self._owns_client:
            await self.client.aclose()

    # -- hot path: one script each ---------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = conf.get("checkpoint_ns", "")
        args: list[EncodableT]
        if checkpoint_id := get_checkpoint_id(config):
            args = [self._read_ttl_ms, "ids", codec.checkpoint_member(ns, checkpoint_id)]
        else:
            args = [self._read_ttl_ms, "latest", ns]
        reply = await self._eval(READ, self._keys(thread_id), args)
        found = codec.decode_read(self.serde, thread_id, reply)
        return found[0] if found else None

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = codec.check_name("checkpoint_ns", conf.get("checkpoint_ns", ""))
        checkpoint_id = codec.check_name("checkpoint id", checkpoint["id"])
        values = checkpoint["channel_values"]
        # Channel values go to per-version blobs, so an unchanged channel is never rewritten.
        stored = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        meta = get_serializable_checkpoint_metadata(config, metadata)
        run = meta.get("run_id")
        run_id = "" if run is None else codec.check_name("run id", str(run))
        record = codec.encode_record(
            run_id,
            checkpoint["channel_versions"],
            conf.get("checkpoint_id"),
            self.serde.dumps_typed(stored),
            self.serde.dumps_typed(meta),
        )
        args: list[EncodableT] = [self._ttl_ms, self._keep, ns, checkpoint_id, record, run_id]
        for channel, version in new_versions.items():
            args.append(codec.blob_field(ns, channel, version))
            args.append(
                codec.encode_blob(self.serde.dumps_typed(values[channel]))
                if channel in values
                else codec.EMPTY_BLOB
            )
        keys = self._keys(thread_id)
        if run_id:
            await self._eval_batch([(PUT, keys, args)], self._link_run(run_id, thread_id))
        else:
            await self._eval(PUT, keys, args)
        return {
            "configurable": {
                "thread_id": conf["thread_id"],
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint_id,
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not writes:
            return
        conf = config["configurable"]
        ns = codec.check_name("checkpoint_ns", conf.get("checkpoint_ns", ""))
        checkpoint_id = codec.check_name("checkpoint id", conf["checkpoint_id"])
        codec.check_name("task id", task_id)
        args: list[EncodableT] = [self._ttl_ms, self._keep, ns, checkpoint_id]
        for idx, (channel, value) in enumerate(writes):
            special = WRITES_IDX_MAP.get(channel)
            args.append(
                codec.write_field(ns, checkpoint_id, task_id, idx if special is None else special)
            )
            args.append(codec.encode_write(channel, task_path, self.serde.dumps_typed(value)))
            args.append("0" if special is None else "1")
        await self._eval(PUT_WRITES, self._keys(str(conf["thread_id"])), args)

    # -- listing -----------------------------------------------------------------------

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Newest first, one round trip per page; ``config=None`` SCANs for every thread."""
        if limit is not None and limit <= 0:
            return
        before_id = get_checkpoint_id(before) if before else None
        page = min(limit, self.page_size) if limit is not None and not filter else self.page_size
        sources: list[tuple[str, str | None, str | None]]
        if config is None:
            sources = [(thread_id, None, None) for thread_id in await self._thread_ids()]
        else:
            conf = config["configurable"]
            sources = [
                (str(conf["thread_id"]), conf.get("checkpoint_ns"), get_checkpoint_id(config))
            ]
        remaining = limit
        for thread_id, ns, checkpoint_id in sources:
            async for found in self._list_thread(thread_id, ns, checkpoint_id, before_id, page):
                if filter and any(found.metadata.get(k) != v for k, v in filter.items()):
                    continue
                yield found
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return

    async def _list_thread(
        self,
        thread_id: str,
        ns: str | None,
        checkpoint_id: str | None,
        before_id: str | None,
        page: int,
    ) -> AsyncIterator[CheckpointTuple]:
        keys = self._keys(thread_id)
        if ns is not None and checkpoint_id is None:
            cursor = before_id or ""
            while True:
                args: list[EncodableT] = [self._read_ttl_ms, "page", ns, cursor, page]
                found = codec.decode_read(self.serde, thread_id, await self._eval(READ, keys, args))
                for item in found:
                    yield item
                if len(found) < page:
                    return
                cursor = found[-1].checkpoint["id"]
        # Across namespaces (or for one id) the order is by id, which the index cannot give
        # directly: fetch the member names, sort them here, then read them a page at a time.
        members = [
            (cid, member_ns)
            for member_ns, cid in await self._checkpoint_names(keys)
            if (ns is None or member_ns == ns)
            and (checkpoint_id is None or cid == checkpoint_id)
            and (before_id is None or cid < before_id)
        ]
        members.sort(reverse=True)
        for start in range(0, len(members), page):
            chunk = members[start : start + page]
            args = [self._read_ttl_ms, "ids"]
            args.extend(codec.checkpoint_member(m_ns, cid) for cid, m_ns in chunk)
            reply = await self._eval(READ, keys, args)
            for item in codec.decode_read(self.serde, thread_id, reply):
                yield item

    async def _checkpoint_names(self, keys: codec.ThreadKeys) -> list[tuple[str, str]]:
        names = cast(
            "list[bytes]",
            await self._call(self.client.zrange(keys.zindex, b"[c\0", b"(c\1", bylex=True)),
        )
        out = []
        for name in names:
            _, ns, cid = name.split(b"\0", 2)
            out.append((ns.decode(), cid.decode()))
        return out

    async def _thread_ids(self) -> list[str]:
        seen: dict[str, None] = {}  # SCAN may repeat a key; keep first-seen order
        pattern = codec.thread_index_pattern(self.key_prefix)
        cursor = 0
        while True:
            cursor, keys = await self._call(self.client.scan(cursor, match=pattern, count=1000))
            for key in keys:
                seen[codec.thread_id_of_index_key(self.key_prefix, key)] = None
            if cursor == 0:
                return list(seen)

    # -- whole threads and runs --------------------------------------------------------

    async def adelete_thread(self, thread_id: str) -> None:
        await self._delete_threads([str(thread_id)])

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = [codec.check_name("run id", str(r)) for r in run_ids]
        if not runs:
            return
        run_keys = [codec.run_key(self.key_prefix, r) for r in runs]
        linked = await self._run([("SMEMBERS", key) for key in run_keys])
        runs_by_thread: dict[str, list[EncodableT]] = {}
        for run, thread_ids in zip(runs, linked, strict=True):
            for thread_id in thread_ids:
                runs_by_thread.setdefault(thread_id.decode(), []).append(run)
        calls: list[ScriptCall] = [
            (DELETE_RUNS, self._keys(t), r) for t, r in runs_by_thread.items()
        ]
        await self._eval_batch(calls, before=[("DEL", *run_keys)])

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Merge every checkpoint, blob and write of the source into the target thread."""
        source, target = self._keys(str(source_thread_id)), self._keys(str(target_thread_id))
        read = self.client.pipeline(transaction=True)
        read.hgetall(source.data)
        read.zrange(source.zindex, 0, -1)
        data, names = await self._call(read.execute())
        if not data:
            return
        runs = {name.split(b"\0")[1] for name in names if name.startswith(b"r\0")}
        if runs:
            links = [c for r in runs for c in self._link_run(r.decode(), str(target_thread_id))]
            await self._run(links)
        # The target's two keys share a slot, so MULTI/EXEC lands them together.
        write = self.client.pipeline(transaction=True)
        write.hset(target.data, mapping=data)
        write.zadd(target.zindex, dict.fromkeys(names, 0))
        if self._ttl_ms:
            write.pexpire(target.data, self._ttl_ms)
            write.pexpire(target.zindex, self._ttl_ms)
        await self._call(write.execute())

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest`` keeps the newest checkpoint per namespace; ``delete`` drops all.

        Like ``keep_history=False``, ``keep_latest`` drops the ancestors a ``DeltaChannel``
        rebuilds its value from: do not use either on graphs with delta channels.
        """
        ids = [str(t) for t in thread_ids]
        if strategy == "delete":
            await self._delete_threads(ids)
        elif strategy == "keep_latest":
            await self._eval_batch([(PRUNE_KEEP_LATEST, self._keys(t), []) for t in ids])
        else:
            raise ValueError(f"unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'")

    async def _delete_threads(self, thread_ids: Sequence[str]) -> None:
        calls: list[ScriptCall] = [(DELETE_THREAD, self._keys(t), []) for t in thread_ids]
        run_lists = await self._eval_batch(calls)
        # The thread is gone at this point; unlinking it from its runs' index only saves
        # memory (a stale link makes delete_for_runs find nothing there).
        unlink: list[Command] = [
            ("SREM", codec.run_key(self.key_prefix, run.decode()), thread_id)
            for thread_id, runs in zip(thread_ids, run_lists, strict=True)
            for run in runs
        ]
        if unlink:
            await self._run(unlink)

    # -- versions ----------------------------------------------------------------------

    def get_next_version(self, current: str | None, channel: None) -> str:
        # Zero-padded so versions compare as strings; 16 digits rather than the 32 of the SQL
        # savers keeps every stored version (records, blob names) 24 bytes shorter. The random
        # suffix keeps a fork (update_state on an old checkpoint) from reusing a
        # (channel, version) blob that another branch already wrote.
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:016}.{random.getrandbits(32):08x}"

    # -- plumbing ----------------------------------------------------------------------

    def _keys(self, thread_id: str) -> codec.ThreadKeys:
        return codec.thread_keys(self.key_prefix, thread_id)

    def _link_run(self, run_id: str, thread_id: str) -> list[Command]:
        key = codec.run_key(self.key_prefix, run_id)
        link: list[Command] = [("SADD", key, thread_id)]
        if self._ttl_ms:
            link.append(("PEXPIRE", key, self._ttl_ms))
        return link

    async def _run(self, commands: Sequence[Command]) -> list[Any]:
        """One round trip within the deadline; a failure to reach Redis is typed."""
        try:
            async with asyncio.timeout(self.call_timeout):
                return await self._conns.execute(commands)
        except _UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    async def _call(self, awaitable: Awaitable[T]) -> T:
        """Await one call of the redis-py client within the deadline, errors typed."""
        try:
            async with asyncio.timeout(self.call_timeout):
                return await awaitable
        except _UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    async def _eval(
        self, script: LuaScript, keys: codec.ThreadKeys, args: Sequence[EncodableT]
    ) -> Any:
        return (await self._eval_batch([(script, keys, args)]))[0]

    async def _eval_batch(
        self, calls: Sequence[ScriptCall], before: Sequence[Command] = ()
    ) -> list[Any]:
        """Run scripts, after the ``before`` commands, in one round trip."""
        commands: list[Command] = [*before]
        commands.extend(("EVALSHA", script.sha, 2, *keys, *args) for script, keys, args in calls)
        if not commands:
            return []
        replies = await self._run(commands)
        for reply in replies[: len(before)]:
            if isinstance(reply, Exception):
                raise reply
        out = replies[len(before) :]
        forgotten = [i for i, reply in enumerate(out) if isinstance(reply, NoScriptError)]
        if forgotten:
            # A restarted or flushed Redis lost its script cache; EVAL runs and re-caches.
            retried = await self._run(
                [("EVAL", calls[i][0].source, 2, *calls[i][1], *calls[i][2]) for i in forgotten]
            )
            for i, reply in zip(forgotten, retried, strict=True):
                out[i] = reply
        for reply in out:
            if isinstance(reply, Exception):
                raise reply
        return out

    def _unavailable(self, exc: Exception) -> RedisUnavailable:
        return RedisUnavailable(f"Redis at {self._where} is unreachable: {exc}")

    # -- the sync interface is not offered -------------------------------------------

    def _async_only(self, name: str) -> NoReturn:
        raise NotImplementedError(
            f"RedisSaver is async-only: use `await saver.a{name}(...)` instead of "
            f"`saver.{name}(...)` (and `graph.ainvoke`/`astream` instead of `invoke`/`stream`)."
        )

    def get(self, config: RunnableConfig) -> Checkpoint | None:
        self._async_only("get")

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        self._async_only("get_tuple")

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        self._async_only("list")

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        self._async_only("put")

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._async_only("put_writes")

    def delete_thread(self, thread_id: str) -> None:
        self._async_only("delete_thread")

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._async_only("delete_for_runs")

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._async_only("copy_thread")

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._async_only("prune")

    def get_delta_channel_history(self, *, config: RunnableConfig, channels: Sequence[str]) -> Any:
        self._async_only("get_delta_channel_history")


def _describe(client: aioredis.Redis) -> str:
    """Where the client points, without credentials, for error messages."""
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    db = kwargs.get("db", 0)
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={db}"
    scheme = "rediss" if issubclass(pool.connection_class, aioredis.SSLConnection) else "redis"
    return f"{scheme}://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"
