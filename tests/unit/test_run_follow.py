"""``Run.follow``: any number of followers read a run's events from any position, in batches,
and learn how it ended; the last watcher leaving is reported once."""

from __future__ import annotations

import asyncio

import pytest

from app.errors import AppError, UpstreamError
from app.runs.events import Reply, RunEvent
from app.runs.run import Run
from tests.unit.support import ScriptedExecutor, spec


async def _read(run: Run, after: int = 0, *, watch: bool = True) -> list[tuple[int, RunEvent]]:
    seen: list[tuple[int, RunEvent]] = []
    async for first, batch in run.follow(after, watch=watch):
        seen.extend((first + i, event) for i, event in enumerate(batch))
    return seen


async def test_a_follower_reads_every_event_with_its_position_then_the_reply() -> None:
    """Positions count from 1 and end with the reply, in the order the run emitted them."""
    run = Run(ScriptedExecutor(["a", "b", "c"]), spec())  # type: ignore[arg-type]

    seen = await _read(run)

    assert [position for position, _ in seen] == [1, 2, 3, 4]
    assert [event for _, event in seen[:3]] == ["a", "b", "c"]
    assert isinstance(seen[-1][1], Reply)
    assert seen[-1][1].text == "abc"
    assert run.done and run.replied


async def test_a_follower_from_a_position_gets_only_what_came_after_it() -> None:
    """A rejoining client that saw frame 2 gets frame 3 onwards, nothing twice."""
    run = Run(ScriptedExecutor(["a", "b", "c"]), spec())  # type: ignore[arg-type]
    await run.task

    seen = await _read(run, after=2)

    assert [position for position, _ in seen] == [3, 4]
    assert seen[0][1] == "c"


async def test_followers_started_at_once_see_the_same_events_in_batches() -> None:
    """Two live followers each get the whole run; a late reader gets the backlog in one batch."""
    gate = asyncio.Event()
    run = Run(ScriptedExecutor(["x", "y"], gate=gate), spec())  # type: ignore[arg-type]
    readers = [asyncio.create_task(_read(run)) for _ in range(2)]
    await asyncio.sleep(0)
    gate.set()
    first, second = await asyncio.gather(*readers)

    assert first == second
    batches = [batch async for _, batch in run.follow(0)]
    assert len(batches) == 1 and batches[0][:2] == ["x", "y"]


async def test_a_run_that_fails_raises_its_error_to_every_follower_after_its_events() -> None:
    """The error comes after what streamed, and is the run's own (with its code)."""
    failure = UpstreamError("the model provider failed")
    run = Run(ScriptedExecutor(["partial"], error=failure), spec())  # type: ignore[arg-type]
    seen: list[RunEvent] = []

    with pytest.raises(AppError) as raised:
        async for _, batch in run.follow(0):
            seen.extend(batch)

    assert raised.value is failure
    assert seen == ["partial"]
    assert run.error is failure and not run.replied


async def test_the_last_watcher_leaving_is_reported_but_a_non_watching_reader_is_not() -> None:
    """on_unwatched fires once the last client leaves a live run; a reader with watch=False
    (a server-side reader) does not count."""
    gate = asyncio.Event()
    left: list[Run] = []
    run = Run(
        ScriptedExecutor(["x"], gate=gate),  # type: ignore[arg-type]
        spec(),
        on_unwatched=left.append,
    )

    async def leave_after_first_look(watch: bool) -> None:
        async for _ in run.follow(0, watch=watch):
            break

    reader = asyncio.create_task(leave_after_first_look(watch=False))
    await asyncio.sleep(0.01)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    assert left == [] and run.watchers == 0

    watcher = asyncio.create_task(leave_after_first_look(watch=True))
    await asyncio.sleep(0.01)
    assert run.watchers == 1
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    assert left == [run]
    gate.set()
    await run.task


async def test_a_cancelled_run_ends_with_a_cancelled_reply_and_runs_its_end_steps() -> None:
    """cancel() gives the followers the partial reply; the end steps run once, after it."""
    gate = asyncio.Event()
    ended: list[bool] = []

    async def on_end(run: Run) -> None:
        ended.append(run.done)

    run = Run(ScriptedExecutor(["x"], gate=gate), spec(), on_end=on_end)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    run.cancel()
    await run.task

    last = run.events[-1]
    assert isinstance(last, Reply) and last.finish_reason == "cancelled"
    assert ended == [True]
    run.cancel()  # once ended, a cancel changes nothing
    assert ended == [True] and not run.task.cancelled()
