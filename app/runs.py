"""Turns running in their own tasks, decoupled from the connections that asked for them.

The client's connection only *reads* a run. Cancelling a run is one plain ``Task.cancel()``, so
the model client's cleanup (closing the upstream socket) runs to completion, rather than being
re-cancelled at every await as it would be inside the response's anyio cancel scope. It is also
what lets a run outlive its client, be cancelled by request id, or be drained on shutdown.

Items are handed over in batches through one future per wake-up, not a queue per item: under
load, a reader that falls behind picks up every delta that arrived since it last looked and
sends them in one write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from app.errors import AppError
from app.turns import Reply, Turn, TurnCancelled, Turns


class DuplicateRequest(AppError):
    status = 409
    code = "duplicate_request"


class ThreadBusy(AppError):
    status = 409
    code = "thread_busy"


class Run:
    """Drives ``turns.run(turn)`` in a task; ``batches()`` yields what it has produced."""

    def __init__(self, turns: Turns, turn: Turn) -> None:
        self.turn = turn
        self._turns = turns
        self._pending: list[str | Reply] = []
        self._error: BaseException | None = None
        self._done = False
        self._stop_requested = False
        self._waiter: asyncio.Future[None] | None = None
        self.task = asyncio.get_running_loop().create_task(
            self._drive(), name=f"run:{turn.request_id}"
        )

    @property
    def done(self) -> bool:
        return self._done

    def cancel(self) -> None:
        """Stop the run; it saves what it streamed and ends quietly."""
        self.task.cancel()

    def stop(self) -> None:
        """Stop the run on a user's request: it ends with a final reply marked cancelled."""
        self._stop_requested = True
        self.task.cancel()

    async def wait(self, limit: float) -> None:
        """Wait up to ``limit`` seconds for the run to end, without cancelling it."""
        await asyncio.wait([self.task], timeout=limit)

    async def _drive(self) -> None:
        try:
            async for item in self._turns.run(self.turn):
                self._pending.append(item)
                self._wake()
        except TurnCancelled as cancelled:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            if self._stop_requested:
                self._pending.append(cancelled.reply)
        except BaseException as exc:
            self._error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            self._done = True
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def batches(self) -> AsyncIterator[list[str | Reply]]:
        """Every item the run produces, in order, grouped by arrival; raises the run's error."""
        loop = asyncio.get_running_loop()
        while True:
            if self._pending:
                batch, self._pending = self._pending, []
                yield batch
                continue
            if self._done:
                if self._error is not None:
                    raise self._error
                return
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


class Runs:
    """The runs in flight in this process, by request id and by thread.

    One run per thread at a time, so a thread's history never interleaves: a second request on
    a busy thread is refused (``multitask="reject"``) or waits its turn (``"enqueue"``).
    """

    def __init__(self, turns: Turns, *, multitask: str = "reject", wait: float = 30.0) -> None:
        self._turns = turns
        self._multitask = multitask
        self._wait = wait
        self._by_request: dict[str, Run] = {}
        self._by_thread: dict[str, Run] = {}

    def __len__(self) -> int:
        return len(self._by_request)

    def get(self, request_id: str) -> Run | None:
        return self._by_request.get(request_id)

    def busy(self, thread_id: str) -> bool:
        return thread_id in self._by_thread

    async def start(self, turn: Turn) -> Run:
        if turn.request_id in self._by_request:
            raise DuplicateRequest(
                f"request {turn.request_id!r} is already running; a retry must wait for it "
                "or use a new requestId"
            )
        current = self._by_thread.get(turn.thread_id)
        if current is not None and self._multitask == "enqueue":
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._wait
            while (current := self._by_thread.get(turn.thread_id)) is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await current.wait(remaining)
        if current is not None:
            raise ThreadBusy(
                f"thread {turn.thread_id!r} is answering another request; try again when it ends"
            )
        run = Run(self._turns, turn)
        self._by_request[turn.request_id] = run
        self._by_thread[turn.thread_id] = run
        run.task.add_done_callback(lambda _: self._forget(run))
        return run

    def _forget(self, run: Run) -> None:
        if self._by_request.get(run.turn.request_id) is run:
            del self._by_request[run.turn.request_id]
        if self._by_thread.get(run.turn.thread_id) is run:
            del self._by_thread[run.turn.thread_id]

    async def drain(self, grace: float) -> None:
        """Let runs finish for up to ``grace`` seconds, then cancel the rest."""
        runs = list(self._by_request.values())
        if runs:
            await asyncio.wait([r.task for r in runs], timeout=grace)
        for run in runs:
            if not run.done:
                run.cancel()
        if runs:
            await asyncio.wait([r.task for r in runs], timeout=5)
