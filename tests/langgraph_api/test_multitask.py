"""A run on a thread that is already running one: multitask_strategy reject, enqueue,
interrupt and rollback, as LangGraph's Python client sends them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError

from tests.langgraph_api.conftest import Offline
from tests.langgraph_api.support import TIMEOUT, collect, leftover, said


@pytest.fixture
async def slow(offline: Offline) -> AsyncIterator[LangGraphClient]:
    """A client on a server whose replies take about 0.8 s."""
    async with get_client(
        url=offline(offline_token_delay_ms=30), api_key=None, timeout=TIMEOUT
    ) as client:
        yield client


def humans(values: dict[str, object]) -> list[str]:
    messages = values["messages"]
    assert isinstance(messages, list)
    return [m["content"] for m in messages if m["type"] == "human"]


async def test_reject_refuses_a_second_run_with_409(slow: LangGraphClient) -> None:
    """reject: while a run is in flight, another is a 409 (created or streamed), and the
    first finishes alone."""
    thread_id = (await slow.threads.create())["thread_id"]
    first = await slow.runs.create(thread_id, "streaming-chat", input=said("first"))
    with pytest.raises(ConflictError):
        await slow.runs.create(
            thread_id, "streaming-chat", input=said("second"), multitask_strategy="reject"
        )
    with pytest.raises(ConflictError):
        await collect(
            slow.runs.stream(
                thread_id, "streaming-chat", input=said("third"), multitask_strategy="reject"
            )
        )
    output = await slow.runs.join(thread_id, first["run_id"])
    assert humans(output) == ["first"]
    assert [r["run_id"] for r in await slow.runs.list(thread_id)] == [first["run_id"]]


async def test_enqueue_runs_the_second_after_the_first(slow: LangGraphClient) -> None:
    """enqueue: the second run waits, then runs on the thread the first left."""
    thread_id = (await slow.threads.create())["thread_id"]
    first = await slow.runs.create(thread_id, "streaming-chat", input=said("first"))
    second = await slow.runs.create(
        thread_id, "streaming-chat", input=said("second"), multitask_strategy="enqueue"
    )
    output = await slow.runs.join(thread_id, second["run_id"])
    assert humans(output) == ["first", "second"]
    assert "This is turn 2 of this thread" in output["messages"][-1]["content"]
    assert (await slow.runs.get(thread_id, first["run_id"]))["status"] == "success"
    assert (await slow.runs.get(thread_id, second["run_id"]))["status"] == "success"


async def test_interrupt_stops_the_first_and_keeps_what_it_did(slow: LangGraphClient) -> None:
    """interrupt: the first run is interrupted (its input stays in the thread) and the
    second runs after it."""
    thread_id = (await slow.threads.create())["thread_id"]
    first = await slow.runs.create(thread_id, "streaming-chat", input=said("first"))
    await collect(
        slow.runs.join_stream(thread_id, first["run_id"], stream_mode="messages-tuple"), limit=3
    )
    second = await slow.runs.create(
        thread_id, "streaming-chat", input=said("second"), multitask_strategy="interrupt"
    )
    output = await slow.runs.join(thread_id, second["run_id"])
    assert humans(output) == ["first", "second"]
    assert "This is turn 2 of this thread" in output["messages"][-1]["content"]
    assert (await slow.runs.get(thread_id, first["run_id"]))["status"] == "interrupted"
    assert (await slow.threads.get(thread_id))["status"] == "idle"


async def test_rollback_undoes_the_first_and_runs_the_second(slow: LangGraphClient) -> None:
    """rollback: the first run is undone (its input is gone, the run deleted as
    langgraph-api does) and the second runs on the thread as it was before."""
    thread_id = (await slow.threads.create())["thread_id"]
    first = await slow.runs.create(thread_id, "streaming-chat", input=said("first"))
    await collect(
        slow.runs.join_stream(thread_id, first["run_id"], stream_mode="messages-tuple"), limit=3
    )
    second = await slow.runs.create(
        thread_id, "streaming-chat", input=said("second"), multitask_strategy="rollback"
    )
    output = await slow.runs.join(thread_id, second["run_id"])
    assert humans(output) == ["second"]
    assert "This is turn 1 of this thread" in output["messages"][-1]["content"]
    assert await leftover(slow, thread_id, first["run_id"]) == ""
    state = await slow.threads.get_state(thread_id)
    assert humans(state["values"]) == ["second"]
