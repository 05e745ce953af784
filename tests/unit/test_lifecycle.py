"""The lifecycle: a run's start takes a limits slot, its claims and its log, in that order; its
end runs every step in the written order, each awaited, after the followers have the last
event; a refused start gives back what it took; a failing step does not skip the rest."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.errors import ThreadBusy
from app.observability.metrics import Metrics
from app.runs.lifecycle import Lifecycle
from app.runs.registry import RunRegistry
from app.runs.run import Run
from app.stores import Stores
from app.stores.claims import MemoryClaims
from app.stores.inflight import MemoryInFlight
from app.stores.limits import MemoryLimits
from app.stores.records import RunEnd
from app.stores.run_log import Codec, MemoryRunLog
from app.threads.records import RecordKeeper
from tests.unit.support import ScriptedExecutor, spec


@dataclass
class Journal:
    """Every store call, in the order the lifecycle made them."""

    calls: list[str] = field(default_factory=list)


class Claims(MemoryClaims):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    async def claim(self, request_id: str, thread_id: str) -> None:
        self.journal.calls.append("claims.claim")

    async def release(self, request_id: str, thread_id: str) -> None:
        self.journal.calls.append("claims.release")


class Limits(MemoryLimits):
    def __init__(self, journal: Journal) -> None:
        super().__init__(max_streams=5)
        self.journal = journal

    async def acquire(self, user: str, request_id: str) -> bool:
        self.journal.calls.append("limits.acquire")
        return await super().acquire(user, request_id)

    async def release(self, user: str, request_id: str) -> None:
        self.journal.calls.append("limits.release")
        await super().release(user, request_id)


class RunLog(MemoryRunLog):
    def __init__(self, journal: Journal, *, fail_end: bool = False) -> None:
        self.journal = journal
        self.fail_end = fail_end

    def attach(self, run: Run, codec: Codec) -> None:
        self.journal.calls.append("run_log.attach")

    async def end(self, run: Run) -> None:
        # The followers were told first: the run is done before its end is written.
        assert run.done
        self.journal.calls.append("run_log.end")
        if self.fail_end:
            raise OSError("the log's store went away")


class InFlight(MemoryInFlight):
    """Durable, as with Redis: runs are recorded, so that another replica may take one over."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    @property
    def durable(self) -> bool:
        return True

    async def record(self, request_id: str, record: bytes) -> None:
        self.journal.calls.append("inflight.record")

    async def forget(self, request_id: str) -> None:
        self.journal.calls.append("inflight.forget")


class Records:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.ends: list[RunEnd] = []

    async def finish(self, ends: list[RunEnd]) -> None:
        self.journal.calls.append("records.finish")
        self.ends.extend(ends)


class Saver:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def adelete_thread(self, thread_id: str) -> None:
        self.journal.calls.append("checkpointer.delete_thread")


@dataclass
class Checkpointer:
    saver: Any
    kind: str = "test"


def _lifecycle(
    journal: Journal, executor: ScriptedExecutor, *, metrics: Metrics | None = None, **run_log: Any
) -> tuple[Lifecycle, Records]:
    records = Records(journal)
    stores = Stores(
        checkpointer=Checkpointer(Saver(journal)),  # type: ignore[arg-type]
        claims=Claims(journal),
        limits=Limits(journal),
        run_log=RunLog(journal, **run_log),
        records=records,  # type: ignore[arg-type]
        inflight=InFlight(journal),
    )
    registry = RunRegistry(executor, claims=stores.claims)  # type: ignore[arg-type]
    keeper = RecordKeeper(records, lambda version: f"assistant-of-{version.name}")  # type: ignore[arg-type]
    return Lifecycle(registry, stores, metrics or Metrics(), keeper, lambda s: object()), records  # type: ignore[arg-type,return-value]


async def test_start_then_end_steps_run_in_the_written_order() -> None:
    """limits, claims, in-flight record, log at the start; log, records, in-flight record,
    claims, limits at the end (the record goes before the claims: a run whose claims are gone
    and whose record is left is one whose replica died)."""
    journal = Journal()
    lifecycle, records = _lifecycle(journal, ScriptedExecutor(["a", "b"]))

    run = await lifecycle.start(spec("t1"))
    await run.task

    assert journal.calls == [
        "limits.acquire",
        "claims.claim",
        "inflight.record",
        "run_log.attach",
        "run_log.end",
        "records.finish",
        "inflight.forget",
        "claims.release",
        "limits.release",
    ]
    assert [name for name, _ in lifecycle.end_steps] == [
        "metrics",
        "run log",
        "records",
        "in-flight record",
        "claims",
        "limits",
        "ephemeral thread",
    ]
    (end,) = records.ends
    assert end.thread.status == "idle" and end.run is not None and end.run.status == "success"
    assert end.thread.metadata["assistant_id"] == "assistant-of-streaming-chat"


async def test_the_metrics_step_counts_the_runs_text_and_its_duration() -> None:
    """Observed once per run: its text deltas and its duration, by graph."""
    journal = Journal()
    metrics = Metrics()
    lifecycle, _ = _lifecycle(journal, ScriptedExecutor(["a", "b", "c"]), metrics=metrics)

    run = await lifecycle.start(spec("t1"))
    await run.task

    graph = {"graph": run.spec.graph.ref}
    sample = metrics.registry.get_sample_value
    assert sample("agent_tokens_streamed_total", graph) == 3
    assert sample("agent_turn_duration_seconds_count", {**graph, "outcome": "stop"}) == 1


async def test_an_ephemeral_runs_thread_is_deleted_last_and_it_leaves_no_records() -> None:
    """A stateless run: no records, and its thread goes after its claims and slot."""
    journal = Journal()
    lifecycle, records = _lifecycle(journal, ScriptedExecutor(["a"]))

    run = await lifecycle.start(spec("t1", ephemeral=True))
    await run.task

    assert journal.calls[-1] == "checkpointer.delete_thread"
    assert "records.finish" not in journal.calls and records.ends == []


async def test_a_failing_end_step_is_logged_and_the_steps_after_it_still_run() -> None:
    """The log's store failing at the end must not leave the thread claimed."""
    journal = Journal()
    lifecycle, _ = _lifecycle(journal, ScriptedExecutor(["a"]), fail_end=True)

    run = await lifecycle.start(spec("t1"))
    await run.task

    assert journal.calls[-4:] == [
        "records.finish",
        "inflight.forget",
        "claims.release",
        "limits.release",
    ]
    assert not lifecycle.registry.busy("t1")


async def test_a_refused_start_gives_back_its_limits_slot() -> None:
    """A busy thread refuses the second run; the slot it took is released at once."""
    journal = Journal()
    gate = asyncio.Event()
    lifecycle, _ = _lifecycle(journal, ScriptedExecutor(gate=gate))
    first = await lifecycle.start(spec("t1"))
    journal.calls.clear()

    with pytest.raises(ThreadBusy):
        await lifecycle.start(spec("t1"))

    assert journal.calls == ["limits.acquire", "limits.release"]
    gate.set()
    await first.task
