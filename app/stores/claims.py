"""Who is running what, across replicas: claims on request ids and threads, and cancels.

In one process the run registry is enough; with ``REDIS_URL`` set, several replicas share one
``RedisClaims`` (in ``app.stores.redis_claims``, imported only then) so that a requestId or a
thread is claimed once across all of them, and ``POST /cancel`` reaches whichever replica holds
the run.

Claims are ``SET NX PX`` keys that expire, so a crashed replica cannot hold a thread forever;
one heartbeat task per process refreshes the claims of the runs it holds.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Protocol


class Claims(Protocol):
    async def claim(self, request_id: str, thread_id: str) -> None:
        """Claim the request id and the thread for a run of this replica; raise
        ``DuplicateRequest`` or ``ThreadBusy`` when another replica holds either."""

    async def release(self, request_id: str, thread_id: str) -> None: ...

    async def running_elsewhere(self, request_id: str) -> bool:
        """Whether some replica holds ``request_id``'s claim (this one included)."""

    async def request_cancel(self, request_id: str, *, rollback: bool = False) -> None:
        """Ask the replica holding ``request_id`` to cancel it."""

    async def holders(self, thread_ids: Sequence[str]) -> dict[str, str]:
        """The request holding each of ``thread_ids`` that is busy on another replica."""
        ...

    async def watch(self, request_id: str, ttl: float) -> None:
        """Say that a client follows ``request_id`` through this replica, for ``ttl`` seconds."""

    async def watched(self, request_id: str) -> bool:
        """Whether a client follows ``request_id`` through another replica."""
        ...

    async def shared_secret(self, name: str) -> bytes:
        """A random secret every replica agrees on."""
        ...

    def start(self, on_cancel: Callable[[str, bool], None]) -> None:
        """Start what keeps the claims alive and hears cancels meant for this replica."""

    async def stop(self) -> None: ...


class MemoryClaims:
    """One process: the run registry already holds every claim, and nothing is elsewhere."""

    def __init__(self) -> None:
        self._secrets: dict[str, bytes] = {}

    async def claim(self, request_id: str, thread_id: str) -> None:
        return None

    async def release(self, request_id: str, thread_id: str) -> None:
        return None

    async def running_elsewhere(self, request_id: str) -> bool:
        return False

    async def request_cancel(self, request_id: str, *, rollback: bool = False) -> None:
        return None

    async def holders(self, thread_ids: Sequence[str]) -> dict[str, str]:
        return {}

    async def watch(self, request_id: str, ttl: float) -> None:
        return None

    async def watched(self, request_id: str) -> bool:
        return False

    async def shared_secret(self, name: str) -> bytes:
        # One per process: there is no other replica to agree with.
        return self._secrets.setdefault(name, secrets.token_bytes(32))

    def start(self, on_cancel: Callable[[str, bool], None]) -> None:
        return None

    async def stop(self) -> None:
        return None
