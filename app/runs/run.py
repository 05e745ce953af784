"""A turn running in its own task, decoupled from the connections that read it.

The client's connection only *reads* a run. Cancelling a run is one plain ``Task.cancel()``, so
the model client's cleanup (closing the upstream socket) runs to completion, rather than being
re-cancelled at every await as it would be inside the response's anyio cancel scope. It is also
what lets a run outlive its client, be rejoined, be cancelled by request id, or be drained on
shutdown.

A run's events go into an append-only log (:attr:`Run.events`); an event's position, from
``base + 1``, is its frame id (``base`` is 0, except for a run taken over from a replica that
died, whose frames go on after the ones that replica logged). Any number of followers read
the log from any position and are woken together, with one future each per wake-up rather
than a queue per item: under load, a follower that falls behind picks up every event since it
last looked and sends them in one write. The run always ends with a terminal entry: the
:class:`Reply` or :attr:`Run.error`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from app.errors import AppError, ServerShutdown
from app.runs.events import RunEvent
from app.runs.execute import RunCancelled, RunExecutor
from app.runs.spec import RunSpec

log = logging.getLogger("app.runs.registry")


class Run:
    """Drives ``runner.run(turn, ...)`` in a task; :meth:`follow` reads its events."""

    def __init__(
        self,
        runner: RunExecutor,
        spec: RunSpec,
        *,
        on_unwatched: Callable[[Run], None] | None = None,
        on_end: Callable[[Run], Awaitable[None]] | None = None,
        base: int = 0,
    ) -> None:
        self.spec = spec
        self._runner = runner
        self.base = base  # the position before its first event
        self.events: list[RunEvent] = []
        # The failure that ended the run, as the client sees it; position len(events) + 1.
        self.error: AppError | None = None
        self._done = False
        self._started = False  # its task has taken its first step
        self.finished_at: float | None = None  # time.monotonic() when it ended
        # The reply is handed over and only clean-up is left: the thread is all but free.
        self.replied = False
        self._shutting_down = False
        self._rollback = False
        self._waiters: list[asyncio.Future[None]] = []
        self.watchers = 0  # clients following the run here
        self._on_unwatched = on_unwatched
        # The steps after the run's last event (app.runs.lifecycle), run in its task.
        self._on_end = on_end
        self.task = asyncio.get_running_loop().create_task(
            self._drive(), name=f"run:{spec.request_id}"
        )

    @property
    def done(self) -> bool:
        return self._done

    @property
    def end_position(self) -> int:
        """The position of its last event (its error, once it ended with one, comes next)."""
        return self.base + len(self.events)

    def cancel(self, *, rollback: bool = False) -> None:
        """Stop the run (a user's cancel, or no client came back): it saves what it streamed
        and ends with a final reply marked cancelled; with ``rollback``, the thread goes back
        to where it was before the run instead."""
        if self._done:  # only its end steps are left, which must not be cut short
            return
        self._rollback = self._rollback or rollback
        self._cancel_task()

    @property
    def rolled_back(self) -> bool:
        """Cancelled with rollback: as if it had never run (its thread is back where it was)."""
        return self._rollback and self._done

    def shut_down(self) -> None:
        """Stop the run because the server is going away: it ends with server_shutdown."""
        if self._done:
            return
        self._shutting_down = True
        self._cancel_task()

    def _cancel_task(self) -> None:
        if self._started:
            self.task.cancel()
        else:
            # A task cancelled before its first step never runs its body, so the run would
            # neither save the user's message nor end: cancel it once it has started.
            asyncio.get_running_loop().call_soon(self.task.cancel)

    async def wait(self, limit: float) -> None:
        """Wait up to ``limit`` seconds for the run to end, without cancelling it."""
        await asyncio.wait([self.task], timeout=limit)

    async def _drive(self) -> None:
        self._started = True
        try:
            reply = await self._runner.run(self.spec, self._emit, rollback=lambda: self._rollback)
            self.replied = True
            self.events.append(reply)
        except RunCancelled as cancelled:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            if self._shutting_down:
                self.error = ServerShutdown(
                    "The server is shutting down and could not finish this reply; what was "
                    "streamed is saved in the thread. Send the next message again."
                )
            else:
                self.replied = True
                self.events.append(cancelled.reply)
        except AppError as exc:
            self.error = exc
        except Exception:
            log.exception("run %s failed unexpectedly", self.spec.request_id)
            self.error = AppError("The server failed unexpectedly while streaming.")
        finally:
            self._done = True
            self.finished_at = time.monotonic()
            self._wake()
        if self._on_end is not None:
            await self._on_end(self)

    def _emit(self, event: RunEvent) -> None:
        # Called from the model's token callback: append and wake the followers, nothing more.
        self.events.append(event)
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def follow(
        self, after: int = 0, *, watch: bool = True
    ) -> AsyncGenerator[tuple[int, list[RunEvent]]]:
        """``(position of the first, events)`` batches after position ``after``, as they come,
        until the run ends; then raises its :attr:`error`, if any.

        A ``watch``-ing follower is a client: the run counts it, and when the last one leaves
        the run's owner decides whether to keep it going (``on_unwatched``).
        """
        loop = asyncio.get_running_loop()
        base = self.base
        cursor = max(0, after - base)
        if watch:
            self.watchers += 1
        try:
            while True:
                events = self.events
                if cursor < len(events):
                    batch = events[cursor:]
                    yield base + cursor + 1, batch
                    cursor += len(batch)
                    continue
                if self._done:
                    if self.error is not None:
                        raise self.error
                    return
                waiter = loop.create_future()
                self._waiters.append(waiter)
                await waiter
        finally:
            if watch:
                self.watchers -= 1
                if self.watchers == 0 and not self._done and self._on_unwatched is not None:
                    self._on_unwatched(self)
