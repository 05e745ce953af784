"""Taking over the runs of replicas that died.

Every replica looks, every few seconds, for runs whose in-flight record is there but whose
claim has lapsed (``RUN_CLAIM_TTL_SECONDS`` after their replica's last heartbeat): their
replica is gone. The first replica to win such a run's claims starts it again
(:meth:`Lifecycle.take_over`): the graph goes on from the thread's last checkpoint, and its
frames go on in the same log, after a ``Reset``, at positions above any the dead replica could
have sent (:data:`POSITION_STEP`), so a client that rejoins with the last id it saw misses
nothing of the new attempt. A run that a new turn overtook (its thread claimed by another
request) is not started again: its log ends with ``run_lost``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from app.errors import AppError, DuplicateRequest, RunLost, ThreadBusy
from app.runs.lifecycle import Lifecycle, RunForgotten
from app.runs.record import RecordUnreadable, load_spec
from app.runs.run import Run
from app.runs.spec import RunSpec
from app.stores import Stores
from app.stores.inflight import Orphan
from graphs import GraphVersion

log = logging.getLogger("app.runs.takeover")

# A taken-over run's first frame is at the next multiple of this above the log's last: the
# dead replica may have sent its own clients frames it never logged (the log is written every
# few tens of milliseconds), and their ids must not be reused for the new attempt's.
POSITION_STEP = 1_000_000
# Orphans looked at per scan.
BATCH = 100


def next_base(last: int) -> int:
    return (last // POSITION_STEP + 1) * POSITION_STEP


class Takeover:
    """The scan for orphaned runs, one task per process (with Redis)."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        stores: Stores,
        resolve: Callable[[str], GraphVersion],
        *,
        interval: float,
    ) -> None:
        self._lifecycle = lifecycle
        self._stores = stores
        self._resolve = resolve
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._stores.inflight.durable:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="takeover")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            # Jittered, so that replicas started together do not all race for each orphan.
            await asyncio.sleep(self._interval * random.uniform(0.75, 1.25))
            try:
                await self.scan()
            except AppError as exc:
                log.warning("could not look for runs to take over: %s", exc.message)
            except Exception:
                log.exception("looking for runs to take over failed")

    async def scan(self) -> list[Run]:
        """Take over what orphans this replica can; the runs it started."""
        started: list[Run] = []
        for orphan in await self._stores.inflight.orphans(BATCH):
            if self._lifecycle.registry.get(orphan.request_id) is not None:
                continue  # ours: its claim is being renewed
            run = await self._take(orphan)
            if run is not None:
                started.append(run)
        return started

    async def _take(self, orphan: Orphan) -> Run | None:
        try:
            spec = load_spec(orphan.record, self._resolve, attempt=1)
        except RecordUnreadable as exc:
            # Another version of the server (or of its graphs) wrote it: one that reads it may
            # take it over; this one leaves it.
            log.warning("run %s cannot be taken over here: %s", orphan.request_id, exc)
            return None
        logged = await self._stores.run_log.logged(spec.request_id)
        last = logged[-1][0] if logged else 0
        try:
            run = await self._lifecycle.take_over(
                spec, next_base(last), [data for _position, _name, data in logged]
            )
        except DuplicateRequest:
            return None  # another replica won it
        except RunForgotten:
            return None  # it ended after all
        except ThreadBusy as busy:
            holder = (busy.details or {}).get("requestId")
            if holder and holder != spec.request_id:
                await self._overtaken(spec)
            return None  # else its own lock has not lapsed yet: the next scan tries again
        log.warning(
            "took over run %s (thread %s, start %d) from a replica that stopped",
            spec.request_id,
            spec.thread_id,
            run.spec.attempt,
        )
        return run

    async def _overtaken(self, spec: RunSpec) -> None:
        """The thread went on without the run (a new turn claimed it once the dead replica's
        claim lapsed): the run ends as lost, so nothing answers an old message later."""
        await self._lifecycle.abandon(
            spec,
            RunLost(
                "The server running this request stopped, and a newer turn on the thread "
                "started before another server could take it over. The thread holds your "
                "message."
            ),
        )
        log.warning("run %s lost: its thread went on without it", spec.request_id)
