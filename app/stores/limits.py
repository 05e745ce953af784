"""Limits per user: turns started per minute, and runs at once.

In one process the counts live here; with Redis (``app.stores.redis_limits``) every replica shares
them. A refusal is a 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from typing import ClassVar, Protocol

from app.errors import AppError


class LimitReached(AppError):
    status = 429
    reason: ClassVar[str] = "limit"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(LimitReached):
    code = "rate_limited"
    reason = "rate"


class TooManyStreams(LimitReached):
    code = "too_many_streams"
    reason = "streams"


class Limits(Protocol):
    async def admit(self, user: str) -> None:
        """Count a request that starts a turn; raise :class:`RateLimited` past the rate."""

    async def acquire(self, user: str, request_id: str) -> bool:
        """Take a run slot (``False``: no cap, nothing taken); raise :class:`TooManyStreams`
        when the user has them all."""

    async def release(self, user: str, request_id: str) -> None: ...

    async def aclose(self) -> None: ...


def rate_limited(per_minute: int, retry_after: float) -> RateLimited:
    return RateLimited(
        f"Too many requests: at most {per_minute} turns a minute per user. Try again in "
        f"{max(1, math.ceil(retry_after))} s.",
        retry_after=retry_after,
    )


def too_many_streams(cap: int) -> TooManyStreams:
    return TooManyStreams(
        f"This user already has {cap} runs in flight (MAX_STREAMS_PER_USER); wait for one to "
        "end, or cancel one.",
        retry_after=1,
    )


class MemoryLimits:
    """Sliding one-minute window and a count of runs, per user, in this process."""

    def __init__(self, *, per_minute: int = 0, max_streams: int = 0) -> None:
        self._per_minute = per_minute
        self._max_streams = max_streams
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._running: dict[str, set[str]] = defaultdict(set)

    async def admit(self, user: str) -> None:
        if not self._per_minute:
            return
        now = time.monotonic()
        recent = self._recent[user]
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= self._per_minute:
            raise rate_limited(self._per_minute, recent[0] + 60 - now)
        recent.append(now)

    async def acquire(self, user: str, request_id: str) -> bool:
        if not self._max_streams:
            return False
        running = self._running[user]
        if len(running) >= self._max_streams:
            raise too_many_streams(self._max_streams)
        running.add(request_id)
        return True

    async def release(self, user: str, request_id: str) -> None:
        running = self._running.get(user)
        if running is not None:
            running.discard(request_id)
            if not running:
                del self._running[user]

    async def aclose(self) -> None:
        return None
