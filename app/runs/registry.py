"""The runs of this process, by request id and by thread, and what happens when a run's
clients leave: it keeps going for a grace period in which any of them may rejoin, then it is
cancelled (or, with ``ON_DISCONNECT=continue``, it runs to the end regardless). Finished runs
stay here for a while so that a late client can still read their frames (without Redis; with
Redis, their log there serves every replica)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from app.errors import DuplicateRequest, ThreadBusy
from app.runs.execute import RunExecutor
from app.runs.run import Run
from app.runs.spec import RunSpec
from app.stores.claims import Claims, MemoryClaims

log = logging.getLogger("app.runs.registry")

# Finished runs kept in memory for late clients, at most this many (the oldest go first).
MAX_FINISHED = 1000


class RunRegistry:
    """The runs in flight in this process, by request id and by thread.

    One run per thread at a time, so a thread's history never interleaves: a second request on
    a busy thread is refused (``multitask="reject"``) or waits its turn (``"enqueue"``). The
    ``claims`` extend both rules, and cancel, across replicas.
    """

    def __init__(
        self,
        runner: RunExecutor,
        *,
        claims: Claims | None = None,
        multitask: str = "reject",
        wait: float = 30.0,
        reconnect_grace: float = 10.0,
        keep_unwatched: bool = False,
        keep_finished: float = 600.0,
    ) -> None:
        self.runner = runner
        self.claims: Claims = claims if claims is not None else MemoryClaims()
        self._multitask = multitask
        self._wait = wait
        self._grace = reconnect_grace
        self._keep_unwatched = keep_unwatched
        self._keep_finished = keep_finished
        self._by_request: dict[str, Run] = {}
        self._by_thread: dict[str, Run] = {}
        self._finished: OrderedDict[str, Run] = OrderedDict()
        self._graces: dict[str, asyncio.TimerHandle] = {}

    def get(self, request_id: str) -> Run | None:
        return self._by_request.get(request_id)

    def find(self, request_id: str) -> Run | None:
        """The run in flight here, or finished here recently enough to be read again."""
        run = self._by_request.get(request_id)
        if run is not None:
            return run
        self._prune_finished()
        return self._finished.get(request_id)

    def _prune_finished(self) -> None:
        horizon = time.monotonic() - self._keep_finished
        finished = self._finished
        while finished:
            oldest = next(iter(finished.values()))
            if len(finished) <= MAX_FINISHED and (oldest.finished_at or 0) > horizon:
                break
            finished.popitem(last=False)

    def _unwatched(self, run: Run) -> None:
        """The last client of ``run`` left: keep it for the grace period, then cancel it
        unless a client came back (here, or on another replica through the run's log)."""
        on_disconnect = run.spec.on_disconnect
        if run.done or on_disconnect == "continue":
            return
        if on_disconnect is None and self._keep_unwatched:
            return
        if self._grace <= 0 or on_disconnect == "cancel":
            run.cancel()
            return
        request_id = run.spec.request_id
        previous = self._graces.pop(request_id, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._graces[request_id] = loop.call_later(
            self._grace, lambda: loop.create_task(self._grace_over(run))
        )

    async def _grace_over(self, run: Run) -> None:
        self._graces.pop(run.spec.request_id, None)
        if run.done or run.watchers:
            return
        try:
            if await self.claims.watched(run.spec.request_id):
                self._unwatched(run)  # followed through another replica: wait again
                return
        except Exception as exc:
            log.warning("could not tell whether %s is followed elsewhere: %s", run, exc)
        log.info("no client came back to %s: cancelling it", run.spec.request_id)
        run.cancel()

    def busy(self, thread_id: str) -> bool:
        return thread_id in self._by_thread

    def stop_local(self, request_id: str, rollback: bool = False) -> None:
        run = self._by_request.get(request_id)
        if run is not None and not run.done:
            run.cancel(rollback=rollback)

    def on_thread(self, thread_id: str) -> Run | None:
        """The run in flight on ``thread_id`` in this process."""
        return self._by_thread.get(thread_id)

    async def start(
        self,
        spec: RunSpec,
        *,
        multitask: str | None = None,
        on_end: Callable[[Run], Awaitable[None]] | None = None,
        prepare: Callable[[RunSpec], Awaitable[RunSpec]] | None = None,
        base: int = 0,
    ) -> Run:
        """Start ``turn``'s run. On a busy thread, ``multitask`` (default: the server's
        ``MULTITASK`` setting) decides: ``reject`` refuses it (409), ``enqueue`` waits for the
        thread, ``interrupt`` and ``rollback`` cancel the run in flight first (keeping what it
        streamed, or putting the thread back as it was before it) and then wait.

        ``prepare`` is awaited once the claims are held and before the run starts, and gives
        the spec to run (its failure gives the claims back); ``base`` is the position before
        the run's first event."""
        if spec.request_id in self._by_request:
            raise DuplicateRequest(
                f"request {spec.request_id!r} is already running; a retry must wait for it "
                "or use a new requestId"
            )
        strategy = multitask or self._multitask
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        cancelled: set[str] = set()
        while True:
            try:
                await self._claim(spec)
                break
            except ThreadBusy as busy:
                remaining = deadline - loop.time()
                if strategy == "reject" or remaining <= 0:
                    raise
                holder = (busy.details or {}).get("requestId")
                if strategy in ("interrupt", "rollback") and holder and holder not in cancelled:
                    cancelled.add(holder)
                    await self.cancel(holder, remaining, rollback=strategy == "rollback")
                    continue
                current = self._by_thread.get(spec.thread_id)
                if current is not None:
                    await current.wait(remaining)
                else:  # held by another replica: poll its claim
                    await asyncio.sleep(min(0.05, remaining))
        if prepare is not None:
            try:
                spec = await prepare(spec)
            except BaseException:
                await self.claims.release(spec.request_id, spec.thread_id)
                raise
        run = Run(self.runner, spec, on_unwatched=self._unwatched, on_end=on_end, base=base)
        self._by_request[spec.request_id] = run
        self._by_thread[spec.thread_id] = run
        return run

    async def settled(self, run: Run, limit: float = 2.0) -> None:
        """Wait until ``run`` has ended and let go of its thread (its claims released), so
        that a client answered now finds the thread free."""
        await asyncio.wait([run.task], timeout=limit)

    def detached(self, run: Run) -> None:
        """A run started with no client attached (``POST /start``): the grace period runs
        from now, and the client's first read ends it."""
        if run.watchers == 0:
            self._unwatched(run)

    async def _claim(self, spec: RunSpec) -> None:
        # A client that sends its next message on the final frame must not meet a 409 because
        # the previous run is still saving or letting go of its claims.
        current = self._by_thread.get(spec.thread_id)
        if current is not None and (current.replied or current.done):
            await current.wait(1.0)
        if spec.request_id in self._by_request:
            raise DuplicateRequest(f"request {spec.request_id!r} is already running")
        running = self._by_thread.get(spec.thread_id)
        if running is not None:
            raise ThreadBusy.running(spec.thread_id, running.spec.request_id)
        await self.claims.claim(spec.request_id, spec.thread_id)
        # The claims may have awaited: re-check what this process started meanwhile.
        if spec.request_id in self._by_request or spec.thread_id in self._by_thread:
            await self.claims.release(spec.request_id, spec.thread_id)
            running = self._by_thread.get(spec.thread_id)
            raise ThreadBusy.running(spec.thread_id, running.spec.request_id if running else None)

    async def release(self, run: Run) -> None:
        """Let go of ``run``'s claims, then of the run (an end step of the lifecycle): until the
        claims are gone, a request on its thread waits for the run here rather than meeting
        another replica's view of a busy thread."""
        spec = run.spec
        grace = self._graces.pop(spec.request_id, None)
        if grace is not None:
            grace.cancel()
        try:
            await self.claims.release(spec.request_id, spec.thread_id)
        finally:
            if self._by_request.get(spec.request_id) is run:
                del self._by_request[spec.request_id]
                self._finished[spec.request_id] = run
                self._prune_finished()
            if self._by_thread.get(spec.thread_id) is run:
                del self._by_thread[spec.thread_id]

    async def cancel(self, request_id: str, limit: float = 10.0, *, rollback: bool = False) -> bool:
        """Stop a run here or on another replica; False if none is in flight. With
        ``rollback`` its thread goes back to where it was before the run."""
        run = self._by_request.get(request_id)
        if run is not None and not run.done:
            run.cancel(rollback=rollback)
            # Answer once the partial reply is saved, so a history read right after sees it.
            await run.wait(limit)
            return True
        if not await self.claims.running_elsewhere(request_id):
            return False
        await self.claims.request_cancel(request_id, rollback=rollback)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        # Poll the claim: the replica that holds the run releases it once the run has ended.
        while loop.time() < deadline and await self.claims.running_elsewhere(request_id):  # noqa: ASYNC110
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
