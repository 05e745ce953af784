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

from app.errors import DuplicateRequest, ServerShutdown, ThreadBusy
from app.events import RunEvent
from app.ledger import Ledger, LocalLedger
from app.turn import Turn
from app.turn_runner import TurnCancelled, TurnRunner


class Run:
    """Drives ``runner.run(turn, ...)`` in a task; ``batches()`` yields its events."""

    def __init__(self, runner: TurnRunner, turn: Turn) -> None:
        self.turn = turn
        self._runner = runner
        self._pending: list[RunEvent] = []
        self._error: BaseException | None = None
        self._done = False
        # The reply is handed over and only clean-up is left: the thread is all but free.
        self.replied = False
        self._stop_requested = False
        self._shutting_down = False
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

    def shut_down(self) -> None:
        """Stop the run because the server is going away: it ends with server_shutdown."""
        self._shutting_down = True
        self.task.cancel()

    async def wait(self, limit: float) -> None:
        """Wait up to ``limit`` seconds for the run to end, without cancelling it."""
        await asyncio.wait([self.task], timeout=limit)

    async def _drive(self) -> None:
        try:
            reply = await self._runner.run(self.turn, self._emit)
            self.replied = True
            self._pending.append(reply)
        except TurnCancelled as cancelled:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            if self._stop_requested:
                self.replied = True
                self._pending.append(cancelled.reply)
            elif self._shutting_down:
                self._error = ServerShutdown(
                    "The server is shutting down and could not finish this reply; what was "
                    "streamed is saved in the thread. Send the next message again."
                )
        except BaseException as exc:
            self._error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            self._done = True
            self._wake()

    def _emit(self, event: RunEvent) -> None:
        # Called from the model's token callback: append and wake the reader, nothing more.
        self._pending.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def batches(self) -> AsyncIterator[list[RunEvent]]:
        """Every event the run produces, in order, grouped by arrival; raises the run's error."""
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
    a busy thread is refused (``multitask="reject"``) or waits its turn (``"enqueue"``). The
    ``ledger`` extends both rules, and cancel, across replicas.
    """

    def __init__(
        self,
        runner: TurnRunner,
        *,
        ledger: Ledger | None = None,
        multitask: str = "reject",
        wait: float = 30.0,
    ) -> None:
        self.runner = runner
        self.ledger: Ledger = ledger if ledger is not None else LocalLedger()
        self._multitask = multitask
        self._wait = wait
        self._by_request: dict[str, Run] = {}
        self._by_thread: dict[str, Run] = {}
        self._releases: set[asyncio.Task[None]] = set()
        self._releasing: dict[str, asyncio.Task[None]] = {}  # thread id -> its claims' release

    def get(self, request_id: str) -> Run | None:
        return self._by_request.get(request_id)

    def busy(self, thread_id: str) -> bool:
        return thread_id in self._by_thread

    def stop_local(self, request_id: str) -> None:
        run = self._by_request.get(request_id)
        if run is not None and not run.done:
            run.stop()

    async def start(self, turn: Turn) -> Run:
        if turn.request_id in self._by_request:
            raise DuplicateRequest(
                f"request {turn.request_id!r} is already running; a retry must wait for it "
                "or use a new requestId"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while True:
            try:
                await self._claim(turn)
                break
            except ThreadBusy:
                remaining = deadline - loop.time()
                if self._multitask != "enqueue" or remaining <= 0:
                    raise
                current = self._by_thread.get(turn.thread_id)
                if current is not None:
                    await current.wait(remaining)
                else:  # held by another replica: poll its claim
                    await asyncio.sleep(min(0.05, remaining))
        run = Run(self.runner, turn)
        self._by_request[turn.request_id] = run
        self._by_thread[turn.thread_id] = run
        run.task.add_done_callback(lambda _: self._forget(run))
        return run

    async def _claim(self, turn: Turn) -> None:
        # A client that sends its next message on the final frame must not meet a 409 because
        # the previous run is still saving or letting go of its claims.
        current = self._by_thread.get(turn.thread_id)
        if current is not None and current.replied:
            await current.wait(1.0)
        releasing = self._releasing.get(turn.thread_id)
        if releasing is not None:
            await asyncio.wait([releasing], timeout=1.0)
        if turn.request_id in self._by_request:
            raise DuplicateRequest(f"request {turn.request_id!r} is already running")
        if turn.thread_id in self._by_thread:
            raise ThreadBusy(
                f"thread {turn.thread_id!r} is answering another request; try again when it ends"
            )
        await self.ledger.claim(turn.request_id, turn.thread_id)
        # The ledger may have awaited: re-check what this process started meanwhile.
        if turn.request_id in self._by_request or turn.thread_id in self._by_thread:
            await self.ledger.release(turn.request_id, turn.thread_id)
            raise ThreadBusy(f"thread {turn.thread_id!r} is answering another request")

    def _forget(self, run: Run) -> None:
        turn = run.turn
        if self._by_request.get(turn.request_id) is run:
            del self._by_request[turn.request_id]
        if self._by_thread.get(turn.thread_id) is run:
            del self._by_thread[turn.thread_id]
        task = asyncio.get_running_loop().create_task(
            self.ledger.release(turn.request_id, turn.thread_id)
        )
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)
        self._releasing[turn.thread_id] = task

        def released(done: asyncio.Task[None]) -> None:
            if self._releasing.get(turn.thread_id) is done:
                del self._releasing[turn.thread_id]

        task.add_done_callback(released)

    async def cancel(self, request_id: str, limit: float = 10.0) -> bool:
        """Stop a run here or on another replica; False if none is in flight."""
        run = self._by_request.get(request_id)
        if run is not None and not run.done:
            run.stop()
            # Answer once the partial reply is saved, so a history read right after sees it.
            await run.wait(limit)
            return True
        if not await self.ledger.running_elsewhere(request_id):
            return False
        await self.ledger.request_cancel(request_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        # Poll the claim: the replica that holds the run releases it once the run has ended.
        while loop.time() < deadline and await self.ledger.running_elsewhere(request_id):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return True

    async def drain(self, grace: float) -> None:
        """Let runs finish for up to ``grace`` seconds, then stop the rest."""
        runs = list(self._by_request.values())
        if runs and grace > 0:
            await asyncio.wait([r.task for r in runs], timeout=grace)
        for run in runs:
            if not run.done:
                run.shut_down()
        if runs:
            await asyncio.wait([r.task for r in runs], timeout=5)
        if self._releases:
            await asyncio.wait(list(self._releases), timeout=2)
