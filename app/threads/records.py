"""Threads and runs as records: what the LangGraph API lists, searches and reports status of.

A thread's conversation lives in the checkpointer; this store keeps what a checkpoint does not
say: when the thread was made, its metadata, how its last run ended, and its runs. Every run
of either API writes its thread's record and its own when it ends (one write), so a thread
started with ``POST /stream`` is found by a thread search as well. ``busy`` is never stored: it
is read from the runs' claims, so a crashed replica cannot leave a thread busy.

:class:`SqliteThreadStore` keeps the records in the checkpointer's SQLite file;
``app.stores.redis_records.RedisThreadStore`` in Redis, beside the checkpoints.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson

from app.runs.events import Reply
from graphs import GraphVersion

if TYPE_CHECKING:
    import aiosqlite

    from app.runs.run import Run

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
    that a client told the thread is free reads its new status).

    The ends of runs that finish while a write is under way go together in the next one (a
    group commit): under load, one write serves many runs, and a lone run waits for nothing.
    """

    def __init__(self, store: ThreadStore, assistant_of: Callable[[GraphVersion], str]) -> None:
        self.store = store
        self._assistant_of = assistant_of  # a version -> its graph's default assistant id
        self._pending: list[tuple[RunEnd, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def attach(self, run: Run) -> None:
        run.before_release.append(lambda: self._finished(run))

    def _finished(self, run: Run) -> asyncio.Future[None] | None:
        turn = run.turn
        graph_run = turn.graph_run
        if graph_run is not None and graph_run.stateless:
            return None  # its thread goes with it
        run_status, thread_status = outcome(run)
        now = time.time()
        metadata = {
            "graph_id": turn.graph.name,
            "assistant_id": graph_run.assistant_id
            if graph_run is not None
            else self._assistant_of(turn.graph),
        }
        thread = ThreadRecord(
            turn.thread_id,
            turn.user_id,
            now,
            now,
            metadata,
            "idle" if run.rolled_back else thread_status,
        )
        end = RunEnd(thread, None if run.rolled_back else run_record(run, run_status))
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((end, done))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write(), name="thread-records")
        return done

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self.store.finish([end for end, _ in batch])
            except Exception as exc:
                log.warning("could not record the end of %d run(s): %s", len(batch), exc)
            for _, done in batch:
                if not done.done():
                    done.set_result(None)


class SqliteThreadStore:
    """Records in two tables of the checkpointer's SQLite file."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._since_pruned = 0

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
            [record.thread_id, record.user_id, record.updated_at, _text(record)],
        )
        await self._conn.commit()

    async def finish(self, ends: Sequence[RunEnd]) -> None:
        # Read-free: a thread's record is made, or updated in place by SQLite's JSON functions
        # (status and time set, metadata added only where missing).
        await self._conn.executemany(
            """
            INSERT INTO agent_threads (thread_id, user_id, updated_at, record)
            VALUES (?, ?, ?, ?)
            ON CONFLICT (thread_id) DO UPDATE SET
                updated_at = excluded.updated_at,
                record = json_set(
                    json_insert(
                        agent_threads.record,
                        '$.metadata.graph_id', json_extract(excluded.record, '$.metadata.graph_id'),
                        '$.metadata.assistant_id',
                        json_extract(excluded.record, '$.metadata.assistant_id')
                    ),
                    '$.status', json_extract(excluded.record, '$.status'),
                    '$.updated_at', excluded.updated_at
                )
            """,
            [
                (e.thread.thread_id, e.thread.user_id, e.thread.updated_at, _text(e.thread))
                for e in ends
            ],
        )
        runs = [e.run for e in ends if e.run is not None]
        if runs:
            await self._conn.executemany(
                "INSERT OR REPLACE INTO agent_runs VALUES (?, ?, ?, ?)",
                [(r.run_id, r.thread_id, r.created_at, _text(r)) for r in runs],
            )
            # Only the newest runs of a thread are kept; checked now and then, not per run.
            self._since_pruned += len(runs)
            if self._since_pruned >= MAX_RUNS_PER_THREAD:
                self._since_pruned = 0
                await self._conn.execute(
                    "DELETE FROM agent_runs WHERE rowid IN (SELECT rowid FROM (SELECT rowid, "
                    "row_number() OVER (PARTITION BY thread_id ORDER BY created_at DESC) AS n "
                    "FROM agent_runs) WHERE n > ?)",
                    [MAX_RUNS_PER_THREAD],
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

    async def get_run(self, run_id: str) -> RunRecord | None:
        found = await self._one("SELECT record FROM agent_runs WHERE run_id = ?", [run_id])
        return None if found is None else run_from_json(found)

    async def runs_of(self, thread_id: str) -> list[RunRecord]:
        rows = await self._all(
            "SELECT record FROM agent_runs WHERE thread_id = ? ORDER BY created_at DESC",
            [thread_id],
        )
        return [run_from_json(row) for row in rows]


def _text(record: ThreadRecord | RunRecord) -> str:
    """A record as JSON text (SQLite's JSON functions read text, not blobs)."""
    return to_json(record).decode()
