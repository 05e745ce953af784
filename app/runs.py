"""A turn running in its own task, decoupled from the connection that asked for it.

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

from app.turns import Reply, Turn, Turns


class Run:
    """Drives ``turns.run(turn)`` in a task; ``batches()`` yields what it has produced."""

    def __init__(self, turns: Turns, turn: Turn) -> None:
        self.turn = turn
        self._turns = turns
        self._pending: list[str | Reply] = []
        self._error: BaseException | None = None
        self._done = False
        self._waiter: asyncio.Future[None] | None = None
        self.task = asyncio.get_running_loop().create_task(
            self._drive(), name=f"run:{turn.request_id}"
        )

    @property
    def done(self) -> bool:
        return self._done

    def cancel(self) -> None:
        self.task.cancel()

    async def _drive(self) -> None:
        try:
            async for item in self._turns.run(self.turn):
                self._pending.append(item)
                self._wake()
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
