"""What happens when a run starts and when it ends: one ordered list each, in this module.

At the start, in order: the user's slot among the runs they may have at once (limits), the
claims on the request id and the thread (through the registry, which waits its turn on a busy
thread as ``multitask`` says), the run's in-flight record (with Redis: what another replica
needs to start it again), and the run log. At the end, once the run's followers have its
last event, in order and each awaited (bounded, so that an unreachable store cannot hold a
thread): the metrics, the run log's last write, the thread's and the run's records, the
in-flight record, the claims, the limits slot, and the thread of an ephemeral run. The order is
the contract: a client told that the thread is free (its claims gone) reads the run's end in
the log and in the records, and a run whose claims are gone with its record left is one whose
replica died (:meth:`Lifecycle.take_over` starts it again).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from app.errors import AppError
from app.observability.metrics import Metrics
from app.runs.events import Reply
from app.runs.record import dump_spec
from app.runs.registry import RunRegistry
from app.runs.run import Run
from app.runs.spec import RunSpec
from app.stores import Stores
from app.stores.run_log import Codec

log = logging.getLogger("app.runs")

# How long one end step may hold the run's thread; past it, the step goes on in the background.
STEP_LIMIT = 2.0

Step = tuple[str, Callable[[Run], Coroutine[Any, Any, None]]]


class RunForgotten(Exception):
    """The run to take over ended (its record went) while its claims were being taken."""


class Recorder(Protocol):
    """What writes a run's records as it ends (``app.threads.records.RecordKeeper``)."""

    async def end(self, run: Run) -> None: ...


class Lifecycle:
    """Starts runs and ends them, each step in the order written here."""

    def __init__(
        self,
        registry: RunRegistry,
        stores: Stores,
        metrics: Metrics,
        records: Recorder,
        codec_for: Callable[[RunSpec], Codec],
    ) -> None:
        self.registry = registry
        self._stores = stores
        self._metrics = metrics
        self._records = records
        self._codec_for = codec_for
        self._slots: set[str] = set()  # request ids holding a limits slot
        self._background: set[asyncio.Task[None]] = set()
        self.end_steps: tuple[Step, ...] = (
            ("metrics", self._observe),
            ("run log", self._stores.run_log.end),
            ("records", self._records.end),
            ("in-flight record", self._forget),
            ("claims", self.registry.release),
            ("limits", self._release_slot),
            ("ephemeral thread", self._delete_ephemeral),
        )

    async def start(self, spec: RunSpec, *, multitask: str | None = None) -> Run:
        """Start ``spec``'s run within the user's cap on runs at once; a refusal (limits,
        busy thread, duplicate request) takes back whatever was taken before it."""
        limits = self._stores.limits
        slot = await limits.acquire(spec.user_id, spec.request_id)
        record = self._record if self._stores.inflight.durable else None
        try:
            run = await self.registry.start(
                spec, multitask=multitask, on_end=self._end, prepare=record
            )
        except BaseException:
            if slot:
                await limits.release(spec.user_id, spec.request_id)
            raise
        if slot:  # no cap, no slot: nothing to give back
            self._slots.add(spec.request_id)
        self._stores.run_log.attach(run, self._codec_for(spec))
        return run

    async def take_over(self, spec: RunSpec, base: int, logged: Sequence[bytes]) -> Run:
        """Start again a run whose replica died, as its ``spec.attempt``-th start: its claims
        (raising as :meth:`start` does when another replica or a new turn has them), then the
        run, whose frames go on in its log after position ``base`` (``logged``: the data of
        the frames there, which its encoder catches up with). No limits slot: the user's
        slot lapsed with the replica, and a run already admitted is not refused now."""
        # Caught up before anything is claimed: nothing after the claims may fail, or the run
        # would go on unlogged.
        codec = self._codec_for(spec)
        codec.resume(logged)
        run = await self.registry.start(
            spec, multitask="reject", on_end=self._end, prepare=self._adopt, base=base
        )
        self._stores.run_log.attach(run, codec)
        return run

    async def abandon(self, spec: RunSpec, error: AppError) -> None:
        """End a recorded run that will not be started again, without running it: ``error``
        ends its log, and no replica takes it over."""
        parts = self._codec_for(spec).error_parts(error)
        await self._stores.run_log.abandon(spec.request_id, parts)
        await self._stores.inflight.forget(spec.request_id)

    async def _adopt(self, spec: RunSpec) -> RunSpec:
        # Counted once this replica holds the claims: two replicas racing count one start.
        attempts = await self._stores.inflight.adopt(spec.request_id)
        if attempts is None:
            raise RunForgotten(spec.request_id)
        # Nobody may be left to follow it, and it must end for its thread to be free.
        return dataclasses.replace(spec, attempt=attempts, on_disconnect="continue")

    async def _record(self, spec: RunSpec) -> RunSpec:
        await self._stores.inflight.record(spec.request_id, dump_spec(spec))
        return spec

    async def _forget(self, run: Run) -> None:
        if self._stores.inflight.durable:
            await self._stores.inflight.forget(run.spec.request_id)

    async def _end(self, run: Run) -> None:
        for name, step in self.end_steps:
            task = asyncio.get_running_loop().create_task(step(run), name=f"end:{name}")
            done, _ = await asyncio.wait([task], timeout=STEP_LIMIT)
            if not done:
                log.warning("run %s: %s is slow to end; going on", run.spec.request_id, name)
                self._background.add(task)
                task.add_done_callback(self._finished_late)
            elif not task.cancelled() and (exc := task.exception()) is not None:
                log.warning("run %s: %s failed at its end: %s", run.spec.request_id, name, exc)

    def _finished_late(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("%s failed: %s", task.get_name(), exc)

    async def _observe(self, run: Run) -> None:
        """Once per run, however many clients read it: its timings and the text deltas it sent
        (before the steps after it, so that a client who read the end reads the metrics too)."""
        reply = run.events[-1] if run.events else None
        if not isinstance(reply, Reply):
            return
        metrics, graph = self._metrics, run.spec.graph.ref
        if reply.ttft_ms is not None:
            metrics.ttft.labels(graph).observe(reply.ttft_ms / 1000)
        metrics.duration.labels(graph, reply.finish_reason or "stop").observe(reply.total_ms / 1000)
        metrics.tokens.labels(graph).inc(reply.text_deltas)

    async def _release_slot(self, run: Run) -> None:
        spec = run.spec
        if spec.request_id in self._slots:
            self._slots.discard(spec.request_id)
            await self._stores.limits.release(spec.user_id, spec.request_id)

    async def _delete_ephemeral(self, run: Run) -> None:
        """A stateless run's thread goes once the run has ended and its followers have read
        it (the run's records were never written)."""
        if run.spec.ephemeral:
            await self._stores.checkpointer.saver.adelete_thread(run.spec.thread_id)

    async def drain(self) -> None:
        """Let the end steps that outlived their limit finish (at shutdown), briefly."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=STEP_LIMIT)
