"""A LangGraph checkpointer on plain Redis: one round trip per call, thread-wide TTL.

Runs on Redis 6.2+ and Valkey without modules. Every call of the hot path (``aget_tuple``,
``aput``, ``aput_writes``) is a single Lua script, so it costs one round trip and lands
whole or not at all. The key layout and the scripts live in ``redis_saver.lua``; record
bytes in ``redis_saver.codec``.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.typing import EncodableT

from redis_saver import codec, messages
from redis_saver.base import AsyncOnlySaver
from redis_saver.cluster import cluster_client, is_cluster
from redis_saver.decoded import DEFAULT_ENTRIES as DEFAULT_DECODED
from redis_saver.decoded import DecodedMessages
from redis_saver.encoded import DEFAULT_ENTRIES as DEFAULT_ENCODED
from redis_saver.encoded import EncodedMessages
from redis_saver.errors import RedisUnavailable
from redis_saver.lua import (
    ALL_SCRIPTS,
    DELETE_RUNS,
    DELETE_THREAD,
    PRUNE_KEEP_LATEST,
    PUT,
    PUT_WRITES,
    READ,
    READ_HEAD,
)
from redis_saver.transport import Command, RedisTransport, ScriptCall

__all__ = ["RedisSaver", "RedisUnavailable"]

_MIN_VERSION = (6, 2)  # ZRANGE ... BYLEX REV LIMIT


class RedisSaver(AsyncOnlySaver):
    """Checkpoints, channel blobs and pending writes of a thread in two keys of one hash slot.

    ``ttl`` (seconds) applies to the whole thread: every write (and every read when
    ``refresh_on_read``) resets the expiry of all its keys together. ``keep_history=False``
    keeps only the newest checkpoint per namespace, with its writes and the blobs it still
    references. ``store_messages_once`` (the default) stores a list of messages with ids as
    references to messages kept once per thread (:mod:`redis_saver.messages`); off, every
    version of it is stored whole, as before. Both formats are read either way.
    ``decoded_messages`` bounds how many decoded messages the process keeps, so that a long
    thread's history is not deserialised again every turn (:mod:`redis_saver.decoded`; 0: none
    kept), and ``encoded_messages`` how many encoded ones, so that a put does not serialise it
    again (:mod:`redis_saver.encoded`; 0: none kept). The saver is async-only; its sync methods
    raise ``NotImplementedError``.
    """

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        *,
        key_prefix: str = "lg",
        ttl: float | None = None,
        refresh_on_read: bool = False,
        keep_history: bool = True,
        page_size: int = 64,
        call_timeout: float | None = 5.0,
        serde: SerializerProtocol | None = None,
        store_messages_once: bool = True,
        decoded_messages: int = DEFAULT_DECODED,
        encoded_messages: int = DEFAULT_ENCODED,
    ) -> None:
        super().__init__(serde=serde)
        if client.get_connection_kwargs().get("decode_responses"):
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
        self._ttl_ms = 0 if ttl is None else max(1, round(ttl * 1000))
        self._read_ttl_ms = self._ttl_ms if refresh_on_read else 0
        self._keep = "1" if keep_history else "0"
        self.store_messages_once = store_messages_once
        self._known = messages.KnownRefs()
        self._decoded = DecodedMessages(decoded_messages)
        self._encoded = EncodedMessages(encoded_messages)
        self._owns_client = False
        self._redis = RedisTransport(client, call_timeout=call_timeout)

    @property
    def decoded_messages(self) -> int:
        """How many decoded messages the process keeps (0: none)."""
        return self._decoded.max_entries

    @property
    def encoded_messages(self) -> int:
        """How many encoded messages the process keeps (0: none)."""
        return self._encoded.max_entries

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
        store_messages_once: bool = True,
        decoded_messages: int = DEFAULT_DECODED,
        encoded_messages: int = DEFAULT_ENCODED,
        max_connections: int = 512,
        cluster: bool | None = None,
        **client_kwargs: Any,
    ) -> AsyncIterator[RedisSaver]:
        """Yield a saver on its own client, closed on exit; Redis may still be down here.

        ``client_kwargs`` go to the connection pool's ``from_url``. The pool *blocks* when all
        ``max_connections`` are busy, so a burst of turns waits for a connection rather than
        failing with "Too many connections". The default connect retry
        policy is short, so a dead Redis fails a call in milliseconds instead of seconds.
        ``call_timeout`` bounds each saver call. The client gets no socket timeout of its own:
        redis-py enforces that with ``asyncio.wait_for`` around every send, which spawns a
        task and yields to the event loop before the command even leaves.

        ``cluster``: the URL names one node of a Redis Cluster (``None``: ask that node; one
        that cannot be reached is taken for plain Redis). ``max_connections`` is then per node.
        """
        if cluster is None:
            cluster = bool(await is_cluster(url, **client_kwargs))
        client: aioredis.Redis | RedisCluster
        if cluster:
            client = cluster_client(url, max_connections=max_connections, **client_kwargs)
        else:
            client = _plain_client(url, max_connections, call_timeout, client_kwargs)
        saver = cls(
            client,
            key_prefix=key_prefix,
            ttl=ttl,
            refresh_on_read=refresh_on_read,
            keep_history=keep_history,
            call_timeout=call_timeout,
            serde=serde,
            store_messages_once=store_messages_once,
            decoded_messages=decoded_messages,
            encoded_messages=encoded_messages,
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
        replies = await self._redis.run_checked(commands)
        info = replies[0].decode()
        version = info.split("redis_version:", 1)[1].split("\r\n", 1)[0]
        if tuple(int(p) for p in version.split(".")[:2]) < _MIN_VERSION:
            where = self._redis.where
            raise RuntimeError(f"RedisSaver needs Redis 6.2 or newer; {where} runs {version}")

    async def ping(self) -> None:
        """Raise :class:`RedisUnavailable` unless Redis answers; for readiness checks."""
        await self._redis.run_checked([("PING",)])

    async def aclose(self) -> None:
        """Close the saver's connections, and the client if the saver created it."""
        await self._redis.aclose()
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
        reply = await self._redis.eval(READ, self._keys(thread_id), args)
        refs: dict[tuple[str, str], bytes] = {}
        found = codec.decode_read(self.serde, thread_id, reply, refs, self._decoded)
        # The run that reads a checkpoint writes its child next: what it read is stored.
        for (found_ns, channel), blob in refs.items():
            self._known.remember(thread_id, found_ns, channel, blob)
        return found[0] if found else None

    async def aget_head(
        self, config: RunnableConfig, *, writes: bool = True
    ) -> codec.CheckpointHead | None:
        """The newest checkpoint of the config's namespace without its channel values (its
        config, metadata, parent and, if ``writes``, pending writes), or ``None``: one round
        trip whose size does not grow with the thread, for callers that check an owner or a
        pending interrupt."""
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        args: list[EncodableT] = [self._read_ttl_ms, conf.get("checkpoint_ns", "")]
        reply = await self._redis.eval(READ_HEAD, self._keys(thread_id), args)
        if not reply:
            return None
        return codec.decode_head(self.serde, thread_id, reply, writes=writes)

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
        blobs: list[EncodableT] = []
        lists: dict[str, messages.EncodedList] = {}
        for channel, version in new_versions.items():
            blobs.append(codec.blob_field(ns, channel, version))
            if channel not in values:
                blobs.append(codec.EMPTY_BLOB)
            elif self.store_messages_once and messages.is_message_list(values[channel]):
                lists[channel] = encoded = messages.EncodedList(
                    self.serde, values[channel], self._encoded
                )
                blobs.append(encoded.blob)
            else:
                blobs.append(codec.encode_blob(self.serde.dumps_typed(values[channel])))
        head: list[EncodableT] = [self._ttl_ms, self._keep, ns, checkpoint_id, record, run_id]
        keys = self._keys(thread_id)
        link = self._link_run(run_id, thread_id) if run_id else []
        sent = self._unsent_messages(thread_id, ns, lists, everything=False)
        missing = await self._put(keys, [*head, *sent, *blobs], link)
        if missing:
            # A message this process thought stored is gone (the thread was deleted, expired
            # or pruned meanwhile): nothing was written; send every message this time.
            sent = self._unsent_messages(thread_id, ns, lists, everything=True)
            missing = await self._put(keys, [*head, *sent, *blobs], link)
            assert not missing, "the PUT script cannot miss a message it was sent"
        for channel, encoded in lists.items():
            self._known.remember(thread_id, ns, channel, encoded.known)
            # A message kept encoded is the one this process stored: nothing to re-check.
            self._decoded.verify(self.serde, encoded.fresh)
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
        await self._redis.eval(PUT_WRITES, self._keys(str(conf["thread_id"])), args)

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
                reply = await self._redis.eval(READ, keys, args)
                found = codec.decode_read(self.serde, thread_id, reply, None, self._decoded)
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
            reply = await self._redis.eval(READ, keys, args)
            for item in codec.decode_read(self.serde, thread_id, reply, None, self._decoded):
                yield item

    async def _checkpoint_names(self, keys: codec.ThreadKeys) -> list[tuple[str, str]]:
        (names,) = await self._redis.run_checked(
            [("ZRANGE", keys.zindex, b"[c\0", b"(c\1", "BYLEX")]
        )
        out = []
        for name in names:
            _, ns, cid = name.split(b"\0", 2)
            out.append((ns.decode(), cid.decode()))
        return out

    async def _thread_ids(self) -> list[str]:
        seen: dict[str, None] = {}  # SCAN may repeat a key; keep first-seen order
        pattern = codec.thread_index_pattern(self.key_prefix)
        cursor = b"0"
        while True:
            ((cursor, keys),) = await self._redis.run_checked(
                [("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)]
            )
            for key in keys:
                seen[codec.thread_id_of_index_key(self.key_prefix, key)] = None
            if cursor == b"0":
                return list(seen)

    # -- whole threads and runs --------------------------------------------------------

    async def adelete_thread(self, thread_id: str) -> None:
        await self._delete_threads([str(thread_id)])

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = [codec.check_name("run id", str(r)) for r in run_ids]
        if not runs:
            return
        run_keys = [codec.run_key(self.key_prefix, r) for r in runs]
        linked = await self._redis.run_checked([("SMEMBERS", key) for key in run_keys])
        runs_by_thread: dict[str, list[EncodableT]] = {}
        for run, thread_ids in zip(runs, linked, strict=True):
            for thread_id in thread_ids:
                runs_by_thread.setdefault(thread_id.decode(), []).append(run)
        calls: list[ScriptCall] = [
            (DELETE_RUNS, self._keys(t), r) for t, r in runs_by_thread.items()
        ]
        await self._redis.eval_batch(calls, before=[("DEL", *run_keys)])

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Merge every checkpoint, blob and write of the source into the target thread."""
        source, target = self._keys(str(source_thread_id)), self._keys(str(target_thread_id))
        # Each thread's two keys share a slot, so MULTI/EXEC reads and writes them together.
        *_, (fields, names) = await self._redis.run_checked(
            [("MULTI",), ("HGETALL", source.data), ("ZRANGE", source.zindex, 0, -1), ("EXEC",)]
        )
        if not fields:
            return
        if isinstance(fields, dict):  # a map over RESP3, a flat list over RESP2
            fields = [x for pair in fields.items() for x in pair]
        runs = {name.split(b"\0")[1] for name in names if name.startswith(b"r\0")}
        if runs:
            target_id = str(target_thread_id)
            await self._redis.run_checked(
                [c for run in runs for c in self._link_run(run.decode(), target_id)]
            )
        write: list[Command] = [
            ("MULTI",),
            ("HSET", target.data, *fields),
            ("ZADD", target.zindex, *(x for name in names for x in (0, name))),
        ]
        if self._ttl_ms:
            write += [("PEXPIRE", k, self._ttl_ms) for k in target]
        *_, results = await self._redis.run_checked([*write, ("EXEC",)])
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest`` keeps the newest checkpoint per namespace; ``delete`` drops all.

        Like ``keep_history=False``, ``keep_latest`` drops the ancestors a ``DeltaChannel``
        rebuilds its value from: do not use either on graphs with delta channels.
        """
        ids = [str(t) for t in thread_ids]
        if strategy == "delete":
            await self._delete_threads(ids)
        elif strategy == "keep_latest":
            await self._redis.eval_batch([(PRUNE_KEEP_LATEST, self._keys(t), []) for t in ids])
        else:
            raise ValueError(f"unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'")

    async def _delete_threads(self, thread_ids: Sequence[str]) -> None:
        for thread_id in thread_ids:
            self._known.forget_thread(thread_id)
        calls: list[ScriptCall] = [(DELETE_THREAD, self._keys(t), []) for t in thread_ids]
        run_lists = await self._redis.eval_batch(calls)
        # The thread is gone at this point; unlinking it from its runs' index only saves
        # memory (a stale link makes delete_for_runs find nothing there).
        unlink: list[Command] = [
            ("SREM", codec.run_key(self.key_prefix, run.decode()), thread_id)
            for thread_id, runs in zip(thread_ids, run_lists, strict=True)
            for run in runs
        ]
        if unlink:
            await self._redis.run_checked(unlink)

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

    def _unsent_messages(
        self,
        thread_id: str,
        ns: str,
        lists: dict[str, messages.EncodedList],
        *,
        everything: bool,
    ) -> list[EncodableT]:
        """PUT's message and segment arguments: for each kind, the count, then digest/value
        pairs, each digest once."""
        pairs: dict[bytes, bytes] = {}
        segments: dict[bytes, bytes] = {}
        for channel, encoded in lists.items():
            known = frozenset() if everything else self._known.known(thread_id, ns, channel)
            pairs.update(encoded.unsent(known))
            segments.update(encoded.unsent_segments(known))
        out: list[EncodableT] = [len(pairs)]
        for pair in pairs.items():
            out.extend(pair)
        out.append(len(segments))
        for pair in segments.items():
            out.extend(pair)
        return out

    async def _put(
        self, keys: codec.ThreadKeys, args: list[EncodableT], link: list[Command]
    ) -> list[bytes]:
        """Run PUT (after the run link, if any); the digests it found missing, if any."""
        (reply,) = await self._redis.eval_batch([(PUT, keys, args)], link)
        return reply if isinstance(reply, list) else []

    def _keys(self, thread_id: str) -> codec.ThreadKeys:
        return codec.thread_keys(self.key_prefix, thread_id)

    def _link_run(self, run_id: str, thread_id: str) -> list[Command]:
        key = codec.run_key(self.key_prefix, run_id)
        link: list[Command] = [("SADD", key, thread_id)]
        if self._ttl_ms:
            link.append(("PEXPIRE", key, self._ttl_ms))
        return link


def _plain_client(
    url: str, max_connections: int, call_timeout: float | None, client_kwargs: dict[str, Any]
) -> aioredis.Redis:
    client_kwargs.setdefault(
        "retry", Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2)
    )
    client_kwargs.setdefault("socket_connect_timeout", 2.0)
    client_kwargs.setdefault("socket_timeout", None)
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=call_timeout, **client_kwargs
    )
    return aioredis.Redis.from_pool(pool)
