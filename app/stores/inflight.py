"""Runs in flight, recorded where another replica can start them again.

A replica that dies mid-run leaves its claims to expire (``RUN_CLAIM_TTL_SECONDS``). With Redis,
every run is recorded as it starts (what it needs to be started again: its spec, as bytes the
run model writes and reads) and forgotten as it ends, just before its claims go; a record whose
run's claim has lapsed is an *orphan*, and a live replica takes it over (``app.runs.takeover``).
In one process (:class:`MemoryInFlight`) nothing is recorded: no other replica could take a run
over, and a restart starts with no run in flight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Orphan:
    """A recorded run that no replica holds (its claim lapsed), and its record."""

    request_id: str
    record: bytes


class InFlight(Protocol):
    @property
    def durable(self) -> bool:
        """Whether records outlive this process (so runs should checkpoint every step)."""
        ...

    async def record(self, request_id: str, record: bytes) -> None:
        """Record a run that starts now, its first attempt."""

    async def forget(self, request_id: str) -> None:
        """The run ended (or will never be started again): nobody takes it over."""

    async def pending(self, request_id: str) -> bool:
        """Whether the run is recorded: in flight, or waiting for a replica to take it over."""
        ...

    async def orphans(self, limit: int) -> Sequence[Orphan]:
        """Recorded runs whose claim has lapsed, the oldest first, at most ``limit``."""
        ...

    async def adopt(self, request_id: str) -> int | None:
        """Count one more start of ``request_id`` (whose claim this replica has just won) and
        return its starts so far; None if it was forgotten meanwhile."""
        ...


class MemoryInFlight:
    """One process: nothing to record, nobody to take over."""

    @property
    def durable(self) -> bool:
        return False

    async def record(self, request_id: str, record: bytes) -> None:
        return None

    async def forget(self, request_id: str) -> None:
        return None

    async def pending(self, request_id: str) -> bool:
        return False

    async def orphans(self, limit: int) -> Sequence[Orphan]:
        return ()

    async def adopt(self, request_id: str) -> int | None:
        return None
