"""The claims of replicas that share Redis: see :mod:`app.stores.claims`. Its own module, so
that a server without Redis never imports the Redis client (about 5 MB)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from app.errors import DuplicateRequest, StoreUnavailable, ThreadBusy
from app.stores.redis_client import REDIS_ERRORS, RedisClient, run_key, thread_key, topology_of

log = logging.getLogger("app.stores.claims")


# Deletes a claim only if it is still ours: an expired claim may have been taken by another.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisClaims:
    """Claims and cancels shared by every replica through Redis."""

    def __init__(self, client: RedisClient, *, prefix: str, ttl: float = 30.0) -> None:
        self._client = client
        self._topology = topology_of(client)
        self._prefix = prefix
        self._ttl_ms = int(ttl * 1000)
        self._ttl = ttl
        self.replica = uuid.uuid4().hex
        self._held: dict[str, str] = {}  # request id -> thread id, claimed by this replica
        self._unreleased: dict[str, str] = {}  # claims Redis could not take back yet
        self._release = client.register_script(_RELEASE)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def client(self) -> RedisClient:
        """The Redis client the claims use, which the run log and limits share."""
        return self._client

    def _run_key(self, request_id: str) -> str:
        return run_key(self._prefix, request_id, "claim")

    def _lock_key(self, thread_id: str) -> str:
        return thread_key(self._prefix, thread_id, "lock")

    @property
    def _channel(self) -> str:
        return f"{self._prefix}:cancel"

    async def claim(self, request_id: str, thread_id: str) -> None:
        if self._unreleased:
            await self._release_pending()
        run_key, lock_key = self._run_key(request_id), self._lock_key(thread_id)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(run_key, self.replica, nx=True, px=self._ttl_ms)
            pipe.set(lock_key, request_id, nx=True, px=self._ttl_ms)
            got_run, got_lock = await pipe.execute()
            if got_run and got_lock:
                self._held[request_id] = thread_id
                return
            # Undo the half we got; the keys live in different slots, so no one script.
            if got_run:
                await self._release(keys=[run_key], args=[self.replica])
            if got_lock:
                await self._release(keys=[lock_key], args=[request_id])
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        if not got_run:
            raise DuplicateRequest(
                f"request {request_id!r} is already running; a retry must wait for it "
                "or use a new requestId"
            )
        try:
            holder = await self._client.get(lock_key)
        except REDIS_ERRORS:
            holder = None
        raise ThreadBusy.running(thread_id, holder.decode() if isinstance(holder, bytes) else None)

    async def release(self, request_id: str, thread_id: str) -> None:
        self._held.pop(request_id, None)
        try:
            await self._release_claims(request_id, thread_id)
        except REDIS_ERRORS as exc:
            # Left alone they would keep the thread busy until they expire: retry once Redis
            # answers again (before the next claim, and on every heartbeat).
            log.warning("could not release the claims of %s: %s", request_id, exc)
            self._unreleased[request_id] = thread_id

    async def _release_claims(self, request_id: str, thread_id: str) -> None:
        await self._release(keys=[self._run_key(request_id)], args=[self.replica])
        await self._release(keys=[self._lock_key(thread_id)], args=[request_id])

    async def _release_pending(self) -> None:
        for request_id, thread_id in list(self._unreleased.items()):
            try:
                await self._release_claims(request_id, thread_id)
            except REDIS_ERRORS:
                return
            self._unreleased.pop(request_id, None)

    async def running_elsewhere(self, request_id: str) -> bool:
        try:
            return bool(await self._client.exists(self._run_key(request_id)))
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def holders(self, thread_ids: Sequence[str]) -> dict[str, str]:
        if not thread_ids:
            return {}
        try:
            found = await self._topology.get_many([self._lock_key(t) for t in thread_ids])
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc
        return {
            thread_id: holder.decode()
            for thread_id, holder in zip(thread_ids, found, strict=True)
            if isinstance(holder, bytes)
        }

    async def shared_secret(self, name: str) -> bytes:
        """A random secret every replica agrees on: the first to ask makes it."""
        key = f"{self._prefix}:secret:{name}"
        try:
            await self._client.set(key, secrets.token_hex(32), nx=True)
            value = await self._client.get(key)
        except REDIS_ERRORS as exc:
            log.warning("Redis unreachable for the shared %s; using a local one: %s", name, exc)
            return secrets.token_bytes(32)
        return value if isinstance(value, bytes) else secrets.token_bytes(32)

    def _watch_key(self, request_id: str) -> str:
        return run_key(self._prefix, request_id, "watch")

    async def watch(self, request_id: str, ttl: float) -> None:
        """Say that a client follows ``request_id`` through this replica, for ``ttl`` seconds."""
        try:
            await self._client.set(self._watch_key(request_id), self.replica, px=int(ttl * 1000))
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def watched(self, request_id: str) -> bool:
        """Whether a client follows ``request_id`` through some replica."""
        try:
            return bool(await self._client.exists(self._watch_key(request_id)))
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def request_cancel(self, request_id: str, *, rollback: bool = False) -> None:
        # A request id never holds a tab (RequestIdPath): what follows one is the action.
        message = f"{request_id}\trollback" if rollback else request_id
        try:
            await self._client.publish(self._channel, message)
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from exc

    def start(self, on_cancel: Callable[[str, bool], None]) -> None:
        """Start the heartbeat and the cancel listener."""
        self._tasks = [
            asyncio.create_task(self._heartbeat(), name="claims-heartbeat"),
            asyncio.create_task(self._listen(on_cancel), name="claims-cancels"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            if self._unreleased:
                await self._release_pending()
            if not self._held:
                continue
            try:
                pipe = self._client.pipeline(transaction=False)
                for request_id, thread_id in list(self._held.items()):
                    pipe.pexpire(self._run_key(request_id), self._ttl_ms)
                    pipe.pexpire(self._lock_key(thread_id), self._ttl_ms)
                await pipe.execute()
            except REDIS_ERRORS as exc:
                log.warning("could not refresh run claims: %s", exc)

    async def _listen(self, on_cancel: Callable[[str, bool], None]) -> None:
        # Reconnects with a short backoff: a Redis restart must not end cross-replica cancel.
        # On a cluster, replicas start on different nodes, so no one node carries every
        # subscription.
        attempt = secrets.randbelow(1 << 16)
        while True:
            pubsub: Any = None
            try:
                pubsub = await self._topology.subscriber(attempt)
                await pubsub.subscribe(self._channel)
                async for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        request_id, _, action = data.decode().partition("\t")
                        on_cancel(request_id, action == "rollback")
            except REDIS_ERRORS as exc:
                log.warning("cancel listener lost Redis (%s); retrying", exc)
                attempt += 1
                await asyncio.sleep(0.5)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(*REDIS_ERRORS, RuntimeError):
                        await pubsub.aclose()


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"Redis, which coordinates runs, cannot be reached: {exc}")
