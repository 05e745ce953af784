"""Who is running what, across replicas: claims on request ids and threads, and cancels.

In one process the run registry is enough; with ``REDIS_URL`` set, several replicas share one
``RedisClaims`` (in ``app.stores.redis_claims``, imported only then) so that a requestId or a
thread is claimed once across all of them, and ``POST /cancel`` reaches whichever replica holds
the run.

Claims are ``SET NX PX`` keys that expire, so a crashed replica cannot hold a thread forever;
one heartbeat task per process refreshes the claims of the runs it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Ledger(Protocol):
    async def claim(self, request_id: str, thread_id: str) -> None: ...

    async def release(self, request_id: str, thread_id: str) -> None: ...

    async def running_elsewhere(self, request_id: str) -> bool: ...

    async def request_cancel(self, request_id: str, *, rollback: bool = False) -> None: ...

    async def holders(self, thread_ids: Sequence[str]) -> dict[str, str]:
        """The request holding each of ``thread_ids`` that is busy on another replica."""
        ...


class LocalLedger:
    """One process: the in-process registry already holds every claim."""

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
