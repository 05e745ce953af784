"""Threads and runs as records: what the LangGraph API lists, searches and reports status of.

A thread's conversation lives in the checkpointer; this store keeps what a checkpoint does not
say: when the thread was made, its metadata, how its last run ended, and its runs. Every run
of either API writes its thread's record and its own when it ends (one write), so a thread
started with ``POST /stream`` is found by a thread search as well. ``busy`` is never stored: it
is read from the runs' claims, so a crashed replica cannot leave a thread busy.

:class:`SqliteThreadStore` keeps the records in the checkpointer's SQLite file;
``app.redis_thread_store.RedisThreadStore`` in Redis, beside the checkpoints.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson

from app.events import Reply

if TYPE_CHECKING:
    import aiosqlite

    from app.run import Run

log = logging.getLogger("app.threads")

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


class ThreadStore(Protocol):
    async def get(self, thread_id: str) -> ThreadRecord | None: ...

    async def put(self, record: ThreadRecord) -> None: ...

    async def delete(self, thread_id: str) -> None: ...

    async def of_user(self, user_id: str | None) -> list[ThreadRecord]:
        """The user's threads (``None``: everyone's), the most recently updated first."""
        ...

    async def put_run(self, record: RunRecord) -> None: ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def runs_of(self, thread_id: str) -> list[RunRecord]:
        """The thread's runs, newest first."""
        ...


def run_record(run: Run, status: RunStatus) -> RunRecord:
    """The record of ``run`` as it stands."""
    turn = run.turn
    graph_run = turn.graph_run
    created = time.time() - (time.perf_counter() - turn.received)
    kwargs: dict[str, Any] = {}
    if graph_run is not None:
        kwargs = {
            "stream_mode": list(graph_run.stream_modes),
            "durability": graph_run.durability,
            "subgraphs": graph_run.subgraphs,
        }
    return RunRecord(
        run_id=turn.request_id,
        thread_id=turn.thread_id,
        user_id=turn.user_id,
        assistant_id=graph_run.assistant_id if graph_run is not None else turn.graph.name,
        created_at=created,
        updated_at=time.time(),
        status=status,
        metadata=dict(graph_run.metadata) if graph_run is not None else {},
        kwargs=kwargs,
        multitask_strategy=graph_run.multitask_strategy if graph_run is not None else "reject",
    )


def outcome(run: Run) -> tuple[RunStatus, ThreadStatus]:
    """How a finished run ended, for its own record and for its thread's."""
    if run.error is not None:
        return "error", "error"
    reply = run.events[-1] if run.events else None
    if isinstance(reply, Reply):
        if reply.finish_reason == "cancelled":
            return "interrupted", "idle"
        if reply.interrupt is not None:
            return "success", "interrupted"
    return "success", "idle"


class RecordKeeper:
    """Writes a run's record and its thread's when the run ends (before its claims go, so
    that a client told the thread is free reads its new status)."""

    def __init__(self, store: ThreadStore, assistant_of: Any) -> None:
        self.store = store
        self._assistant_of = assistant_of  # GraphVersion -> its default assistant id

    def attach(self, run: Run) -> None:
        run.before_release.append(lambda: asyncio.ensure_future(self._finished(run)))

    async def _finished(self, run: Run) -> None:
        turn = run.turn
        if turn.graph_run is not None and turn.graph_run.stateless:
            return  # its thread goes with it
        run_status, thread_status = outcome(run)
        if run.rolled_back:
            thread_status = "idle"
        try:
            record = await self.store.get(turn.thread_id)
            now = time.time()
            if record is None:
                record = ThreadRecord(turn.thread_id, turn.user_id, now, now)
            record.updated_at = now
            record.status = thread_status
            record.metadata.setdefault("graph_id", turn.graph.name)
            record.metadata.setdefault(
                "assistant_id",
                turn.graph_run.assistant_id
                if turn.graph_run is not None
                else self._assistant_of(turn.graph),
            )
            await self.store.put(record)
            if not run.rolled_back:  # a rolled-back run is gone, as if it had never run
                await self.store.put_run(run_record(run, run_status))
        except Exception as exc:
            log.warning("could not record the end of run %s: %s", turn.request_id, exc)


class SqliteThreadStore:
    """Records in two tables of the checkpointer's SQLite file."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def setup(self) -> None:
        await self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS agent_threads (
                thread_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, updated_at REAL NOT NULL,
                record BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS agent_threads_user
                ON agent_threads (user_id, updated_at);
            CREATE TABLE IF NOT EXISTS agent_runs (
                run_id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, created_at REAL NOT NULL,
                record BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS agent_runs_thread ON agent_runs (thread_id, created_at);
            """
        )
        await self._conn.commit()

    async def _one(self, query: str, args: Sequence[Any]) -> bytes | None:
        async with self._conn.execute(query, args) as cursor:
            row = await cursor.fetchone()
        return None if row is None else row[0]

    async def _all(self, query: str, args: Sequence[Any]) -> list[bytes]:
        async with self._conn.execute(query, args) as cursor:
            rows = await cursor.fetchall()
        return [row[0] for row in rows]

    async def get(self, thread_id: str) -> ThreadRecord | None:
        found = await self._one("SELECT record FROM agent_threads WHERE thread_id = ?", [thread_id])
        return None if found is None else thread_from_json(found)

    async def put(self, record: ThreadRecord) -> None:
        await self._conn.execute(
            "INSERT OR REPLACE INTO agent_threads VALUES (?, ?, ?, ?)",
            [record.thread_id, record.user_id, record.updated_at, to_json(record)],
        )
        await self._conn.commit()

    async def delete(self, thread_id: str) -> None:
        await self._conn.execute("DELETE FROM agent_threads WHERE thread_id = ?", [thread_id])
        await self._conn.execute("DELETE FROM agent_runs WHERE thread_id = ?", [thread_id])
        await self._conn.commit()

    async def of_user(self, user_id: str | None) -> list[ThreadRecord]:
        if user_id is None:
            rows = await self._all("SELECT record FROM agent_threads ORDER BY updated_at DESC", [])
        else:
            rows = await self._all(
                "SELECT record FROM agent_threads WHERE user_id = ? ORDER BY updated_at DESC",
                [user_id],
            )
        return [thread_from_json(row) for row in rows]

    async def put_run(self, record: RunRecord) -> None:
        await self._conn.execute(
            "INSERT OR REPLACE INTO agent_runs VALUES (?, ?, ?, ?)",
            [record.run_id, record.thread_id, record.created_at, to_json(record)],
        )
        # Only the newest runs of a thread are kept.
        await self._conn.execute(
            "DELETE FROM agent_runs WHERE thread_id = ? AND run_id NOT IN (SELECT run_id FROM "
            "agent_runs WHERE thread_id = ? ORDER BY created_at DESC LIMIT ?)",
            [record.thread_id, record.thread_id, MAX_RUNS_PER_THREAD],
        )
        await self._conn.commit()

    async def get_run(self, run_id: str) -> RunRecord | None:
        found = await self._one("SELECT record FROM agent_runs WHERE run_id = ?", [run_id])
        return None if found is None else run_from_json(found)

    async def runs_of(self, thread_id: str) -> list[RunRecord]:
        rows = await self._all(
            "SELECT record FROM agent_runs WHERE thread_id = ? ORDER BY created_at DESC",
            [thread_id],
        )
        return [run_from_json(row) for row in rows]
