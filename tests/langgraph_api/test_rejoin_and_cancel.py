"""Runs that outlive a connection: join_stream after a drop, with Last-Event-ID; and
runs.cancel, which keeps the partial reply (interrupt) or undoes the run (rollback)."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from tests.langgraph_api.conftest import Offline
from tests.langgraph_api.support import (
    TIMEOUT,
    collect,
    ids,
    kinds,
    leftover,
    of,
    said,
    tuples_text,
)

SLOW = {"offline_token_delay_ms": 30}  # about 0.8 s for the offline model's reply
MODES = ["messages-tuple", "values"]


async def test_join_stream_after_a_drop_loses_and_repeats_nothing(
    offline: Offline, memory: dict[str, Any]
) -> None:
    """Drop runs.stream after a few frames, join_stream from the last id: the rest, once each;
    both parts together are the whole run as a replay from the start gives it, and make the
    saved reply. Frame ids are integers."""
    async with get_client(url=offline(**SLOW, **memory), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = (await lg.threads.create())["thread_id"]
        before = await collect(
            lg.runs.stream(
                thread_id,
                "streaming-chat",
                input=said("tell me a story"),
                stream_mode=MODES,
                stream_resumable=True,
            ),
            limit=6,
        )
        run_id = before[0].data["run_id"]
        last = before[-1].id
        assert last is not None
        after = await collect(
            lg.runs.join_stream(thread_id, run_id, last_event_id=last, stream_mode=MODES)
        )
        replay = await collect(
            lg.runs.join_stream(thread_id, run_id, last_event_id="-1", stream_mode=MODES)
        )
        state = await lg.threads.get_state(thread_id)

    assert before[0].event == after[0].event == "metadata"
    assert after[0].data["run_id"] == run_id
    assert ids(after)[0] > int(last)
    assert ids(before) + ids(after) == ids(replay)
    joined = [(p.event, p.data) for p in before[1:] + after[1:]]
    assert joined == [(p.event, p.data) for p in replay[1:]]
    reply = state["values"]["messages"][-1]
    assert tuples_text(before) and tuples_text(after)
    assert tuples_text(before) + tuples_text(after) == reply["content"]
    assert of(after, "values")[-1] == state["values"]


async def test_join_stream_without_stream_mode_shows_the_runs_own_modes(
    offline: Offline,
) -> None:
    """join_stream as the client calls it by default (``stream_mode=`` empty): the run's
    frames in the modes it was started with, as langgraph-api answers."""
    async with get_client(url=offline(**SLOW), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = (await lg.threads.create())["thread_id"]
        run = await lg.runs.create(
            thread_id, "streaming-chat", input=said("hello"), stream_mode=MODES
        )
        joined = await collect(lg.runs.join_stream(thread_id, run["run_id"]))
        state = await lg.threads.get_state(thread_id)

    assert joined[0].event == "metadata"
    assert {p.event for p in joined[1:]} == {"messages", "values"}
    assert of(joined, "values")[-1] == state["values"]


async def _partway(lg: LangGraphClient, thread_id: str, text: str) -> tuple[str, str]:
    """A background run of ``text`` followed until three of its tokens arrived: its id and
    those tokens."""
    run = await lg.runs.create(thread_id, "streaming-chat", input=said(text), stream_mode=MODES)
    seen = await collect(
        lg.runs.join_stream(thread_id, run["run_id"], stream_mode="messages-tuple"), limit=4
    )
    return run["run_id"], tuples_text(seen)


async def test_cancel_interrupt_keeps_the_partial_reply(offline: Offline) -> None:
    """Cancelled mid-reply (action interrupt): the run is interrupted, the thread is idle and
    keeps the words written so far, and the next run continues the thread."""
    async with get_client(url=offline(**SLOW), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = (await lg.threads.create())["thread_id"]
        run_id, streamed = await _partway(lg, thread_id, "a long story")
        await lg.runs.cancel(thread_id, run_id, wait=True, action="interrupt")
        state = await lg.threads.get_state(thread_id)
        run = await lg.runs.get(thread_id, run_id)
        thread = await lg.threads.get(thread_id)
        following = await lg.runs.wait(thread_id, "streaming-chat", input=said("and then?"))

    messages = state["values"]["messages"]
    assert kinds(messages)[0] == ("human", "a long story")
    partial = messages[1]["content"]
    assert messages[1]["type"] == "ai"
    assert partial.startswith(streamed)
    assert not partial.endswith("Set OPENAI_API_KEY to talk to a real model.")
    assert run["status"] == "interrupted"
    assert thread["status"] == "idle"
    assert kinds(following["messages"])[:2] == kinds(messages)
    assert "This is turn 2 of this thread" in following["messages"][-1]["content"]


async def test_cancel_rollback_restores_the_state_before_the_run(
    offline: Offline, memory: dict[str, Any]
) -> None:
    """Cancelled with action rollback: the thread's state is what it was before the run, the
    run is gone (as langgraph-api deletes it), and the next run continues from there."""
    async with get_client(url=offline(**SLOW, **memory), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = (await lg.threads.create())["thread_id"]
        await lg.runs.wait(thread_id, "streaming-chat", input=said("first"))
        before = await lg.threads.get_state(thread_id)
        run_id, streamed = await _partway(lg, thread_id, "a long story")
        assert streamed
        await lg.runs.cancel(thread_id, run_id, wait=True, action="rollback")
        after = await lg.threads.get_state(thread_id)
        thread = await lg.threads.get(thread_id)
        run_left = await leftover(lg, thread_id, run_id)
        following = await lg.runs.wait(thread_id, "streaming-chat", input=said("second"))

    assert after["values"] == before["values"]
    assert kinds(after["values"]["messages"])[0] == ("human", "first")
    assert len(after["values"]["messages"]) == 2
    assert thread["status"] == "idle"
    assert run_left == ""
    assert [m["content"] for m in following["messages"] if m["type"] == "human"] == [
        "first",
        "second",
    ]


async def test_cancel_of_a_finished_or_unknown_run_is_404(lg: LangGraphClient) -> None:
    """Nothing to cancel, a 404 as in langgraph-api: a run that has ended, or no such run."""
    thread_id = (await lg.threads.create())["thread_id"]
    run = await lg.runs.create(thread_id, "streaming-chat", input=said("hi"))
    await lg.runs.join(thread_id, run["run_id"])
    with pytest.raises(NotFoundError):
        await lg.runs.cancel(thread_id, run["run_id"])
    with pytest.raises(NotFoundError):
        await lg.runs.cancel(thread_id, "00000000-0000-0000-0000-000000000000")
