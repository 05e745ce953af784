"""``RunRegistry``: one run per thread at a time (reject, enqueue, interrupt), one run per
request id, claims taken before a run starts and released when it ends, finished runs kept
for late readers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.errors import DuplicateRequest, ThreadBusy
from app.runs.events import Reply
from app.runs.registry import RunRegistry
from app.stores.claims import MemoryClaims
from tests.unit.support import ScriptedExecutor, spec


class RecordingClaims(MemoryClaims):
    """Memory claims that remember what was claimed and released, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, str]] = []

    async def claim(self, request_id: str, thread_id: str) -> None:
        self.calls.append(("claim", request_id, thread_id))

    async def release(self, request_id: str, thread_id: str) -> None:
        self.calls.append(("release", request_id, thread_id))

    async def holders(self, thread_ids: Sequence[str]) -> dict[str, str]:
        return {}


def _registry(
    executor: ScriptedExecutor, claims: MemoryClaims | None = None, **kw: object
) -> RunRegistry:
    return RunRegistry(executor, claims=claims, **kw)  # type: ignore[arg-type]


async def test_a_second_run_on_a_busy_thread_is_refused_with_the_holder_named() -> None:
    """multitask=reject: ThreadBusy names the request that holds the thread."""
    gate = asyncio.Event()
    registry = _registry(ScriptedExecutor(gate=gate))
    first = await registry.start(spec("t1"), on_end=registry.release)

    with pytest.raises(ThreadBusy) as busy:
        await registry.start(spec("t1"))

    assert (busy.value.details or {}).get("requestId") == first.spec.request_id
    assert registry.busy("t1") and registry.on_thread("t1") is first
    gate.set()
    await first.task
    assert not registry.busy("t1")


async def test_the_same_request_id_twice_is_a_duplicate_even_on_another_thread() -> None:
    """A retry of a request still running must wait for it or use a new id."""
    gate = asyncio.Event()
    registry = _registry(ScriptedExecutor(gate=gate))
    first = await registry.start(spec("t1"), on_end=registry.release)

    with pytest.raises(DuplicateRequest):
        await registry.start(spec("t2", request_id=first.spec.request_id))
    gate.set()
    await first.task


async def test_enqueue_waits_for_the_thread_then_runs() -> None:
    """multitask=enqueue: the second run starts once the first has let go of the thread."""
    gate = asyncio.Event()
    executor = ScriptedExecutor(gate=gate)
    registry = _registry(executor, multitask="enqueue", wait=5.0)
    first = await registry.start(spec("t1"), on_end=registry.release)
    second = asyncio.create_task(registry.start(spec("t1"), on_end=registry.release))
    await asyncio.sleep(0.05)
    assert not second.done()

    gate.set()
    run = await second
    await run.task

    assert first.done and executor.started == [first.spec.request_id, run.spec.request_id]


async def test_interrupt_cancels_the_run_in_flight_and_takes_the_thread() -> None:
    """multitask=interrupt: the holder ends cancelled (its partial reply kept), then ours runs."""
    registry = _registry(ScriptedExecutor(gate=asyncio.Event()), wait=5.0)
    first = await registry.start(spec("t1"), on_end=registry.release)

    second = await registry.start(spec("t1"), multitask="interrupt", on_end=registry.release)

    last = first.events[-1]
    assert isinstance(last, Reply) and last.finish_reason == "cancelled"
    assert registry.on_thread("t1") is second
    second.cancel()
    await second.task


async def test_claims_are_taken_at_start_and_released_at_the_end_then_the_run_is_found() -> None:
    """Release is the end step that frees the thread; the finished run stays findable."""
    claims = RecordingClaims()
    registry = _registry(ScriptedExecutor(["a"]), claims)
    run_spec = spec("t9")

    run = await registry.start(run_spec, on_end=registry.release)
    await run.task

    rid = run_spec.request_id
    assert claims.calls == [("claim", rid, "t9"), ("release", rid, "t9")]
    assert registry.get(rid) is None and registry.find(rid) is run
    assert not registry.busy("t9")


async def test_cancel_by_request_id_answers_once_the_run_has_ended() -> None:
    """cancel() is True for a run in flight here and False for one that is not."""
    registry = _registry(ScriptedExecutor(gate=asyncio.Event()))
    run = await registry.start(spec("t1"), on_end=registry.release)

    assert await registry.cancel(run.spec.request_id, limit=5.0)
    assert run.done
    assert not await registry.cancel("nobody")


async def test_drain_ends_runs_still_going_with_server_shutdown() -> None:
    """At shutdown a run that does not finish in the grace period ends with server_shutdown."""
    registry = _registry(ScriptedExecutor(gate=asyncio.Event()))
    run = await registry.start(spec("t1"), on_end=registry.release)

    await registry.drain(grace=0.01)

    assert run.done and run.error is not None and run.error.code == "server_shutdown"
