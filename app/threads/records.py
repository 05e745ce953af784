"""The records kept as runs end: a run's own record and its thread's, written before the run
lets go of its thread. Every run of every API writes them, so a thread started with the chat
API is found by a LangGraph thread search as well."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.runs.events import Reply
from app.stores.records import Records, RunEnd, RunRecord, RunStatus, ThreadRecord, ThreadStatus
from graphs import GraphVersion

if TYPE_CHECKING:
    from app.runs.run import Run

log = logging.getLogger("app.threads")


def run_record(run: Run, status: RunStatus) -> RunRecord:
    """The record of ``run`` as it stands."""
    spec = run.spec
    created = time.time() - (time.perf_counter() - spec.received)
    kwargs: dict[str, Any] = {}
    if spec.stream_modes:  # what its client asked to see, as langgraph-api reports it
        kwargs = {
            "stream_mode": list(spec.stream_modes),
            "durability": spec.durability,
            "subgraphs": spec.subgraphs,
        }
    return RunRecord(
        run_id=spec.request_id,
        thread_id=spec.thread_id,
        user_id=spec.user_id,
        assistant_id=spec.assistant_id or spec.graph.name,
        created_at=created,
        updated_at=time.time(),
        status=status,
        metadata=dict(spec.metadata),
        kwargs=kwargs,
        multitask_strategy=spec.multitask_strategy,
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

    def __init__(self, store: Records, assistant_of: Callable[[GraphVersion], str]) -> None:
        self.store = store
        self._assistant_of = assistant_of  # a version -> its graph's default assistant id
        self._pending: list[tuple[RunEnd, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def end(self, run: Run) -> None:
        """Record how ``run`` ended, in the next group commit."""
        written = self._enqueue(run)
        if written is not None:
            await written

    def _enqueue(self, run: Run) -> asyncio.Future[None] | None:
        spec = run.spec
        if spec.ephemeral:
            return None  # its thread goes with it
        run_status, thread_status = outcome(run)
        now = time.time()
        metadata = {
            "graph_id": spec.graph.name,
            "assistant_id": spec.assistant_id or self._assistant_of(spec.graph),
        }
        thread = ThreadRecord(
            spec.thread_id,
            spec.user_id,
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
