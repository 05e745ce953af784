"""Thread and run records: what the LangGraph API lists, searches and reports status of.

A thread's conversation lives in the checkpointer; a record keeps what a checkpoint does not
say: when the thread was made, its metadata, how its last run ended, and its runs. ``busy`` is
never stored: it is read from the runs' claims, so a crashed replica cannot leave a thread busy.

:class:`Records` is the store's protocol; ``app.stores.sqlite_records`` keeps them in the
checkpointer's SQLite file, ``app.stores.redis_records`` in Redis beside the checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import orjson

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
RunStatus = Literal["pending", "running", "success", "error", "interrupted", "timeout"]
# Runs kept per thread; the oldest go first.
MAX_RUNS_PER_THREAD = 100


@dataclass
class ThreadRecord:
    thread_id: str
    user_id: str
    created_at: float  # seconds since the epoch
    updated_at: float
    metadata: dict[str, Any] = field(default_factory=dict)
    status: ThreadStatus = "idle"  # how its last run ended; "busy" is read from the claims


@dataclass
class RunRecord:
    run_id: str
    thread_id: str
    user_id: str
    assistant_id: str
    created_at: float
    updated_at: float
    status: RunStatus
    metadata: dict[str, Any] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    multitask_strategy: str = "reject"


def to_json(record: ThreadRecord | RunRecord) -> bytes:
    return orjson.dumps(asdict(record))


def thread_from_json(data: bytes | str) -> ThreadRecord:
    return ThreadRecord(**orjson.loads(data))


def run_from_json(data: bytes | str) -> RunRecord:
    return RunRecord(**orjson.loads(data))


class Records(Protocol):
    async def get(self, thread_id: str) -> ThreadRecord | None: ...

    async def put(self, record: ThreadRecord) -> None: ...

    async def delete(self, thread_id: str) -> None: ...

    async def of_user(self, user_id: str | None) -> list[ThreadRecord]:
        """The user's threads (``None``: everyone's), the most recently updated first."""
        ...

    async def finish(self, ends: Sequence[RunEnd]) -> None:
        """Runs' ends: each one's thread record made or brought up to date (its status, its
        time, and metadata it lacks), and its own record, in one write."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def runs_of(self, thread_id: str) -> list[RunRecord]:
        """The thread's runs, newest first."""
        ...


@dataclass
class RunEnd:
    """What a run's end changes: its thread's record (``thread``, as a new one would be;
    an existing one keeps its creation and takes the status, time and missing metadata) and
    its own (``None`` for a rolled-back run, which is gone)."""

    thread: ThreadRecord
    run: RunRecord | None


def merge_end(existing: ThreadRecord | None, end: RunEnd) -> ThreadRecord:
    if existing is None:
        return end.thread
    existing.status = end.thread.status
    existing.updated_at = end.thread.updated_at
    for key, value in end.thread.metadata.items():
        existing.metadata.setdefault(key, value)
    return existing
