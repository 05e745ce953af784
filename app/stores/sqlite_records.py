"""Thread and run records in two tables of the checkpointer's SQLite file: the records'
backend when there is no Redis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

from app.stores.records import (
    MAX_RUNS_PER_THREAD,
    RunEnd,
    RunRecord,
    ThreadRecord,
    run_from_json,
    thread_from_json,
    to_json,
)


class SqliteRecords:
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
