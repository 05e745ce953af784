"""Two replicas on one Redis: a LangGraph API run on one is read, rejoined, listed and
cancelled through the other, from its log and its claims."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph_sdk import get_client

from tests.conftest import ServerFactory
from tests.langgraph_api.support import TIMEOUT, collect, of, said
from tests.support.registries import agent_registry


def _pair(make_server: ServerFactory, shared_redis: str) -> tuple[str, str]:
    settings: dict[str, Any] = {
        "registry": agent_registry(),
        "openai_api_key": None,
        "offline_token_delay_ms": 40,
        "redis_url": shared_redis,
    }
    return make_server(**settings).url, make_server(**settings).url


async def test_a_run_on_one_replica_is_rejoined_through_the_other(
    make_server: ServerFactory, shared_redis: str
) -> None:
    """The first replica streams part of a run; the second serves the rest from the run's log
    after the last id seen, as the same frames: together they are the whole run, once."""
    first, second = _pair(make_server, shared_redis)
    async with (
        get_client(url=first, api_key=None, timeout=TIMEOUT) as a,
        get_client(url=second, api_key=None, timeout=TIMEOUT) as b,
    ):
        thread_id = (await a.threads.create())["thread_id"]
        run = await a.runs.create(
            thread_id,
            "streaming-chat",
            input=said("tell me a long story"),
            stream_mode=["messages-tuple", "values"],
        )
        run_id = run["run_id"]
        head = await collect(a.runs.join_stream(thread_id, run_id), limit=6)
        last_id = head[-1].id
        assert last_id is not None and last_id.isdigit()
        # The other replica knows the thread is busy (the run's claim), and serves the rest.
        status = (await b.threads.get(thread_id))["status"]
        tail = await collect(b.runs.join_stream(thread_id, run_id, last_event_id=last_id))
        whole = await collect(a.runs.join_stream(thread_id, run_id, last_event_id="0"))
        state = await b.threads.get_state(thread_id)

    assert status == "busy"
    assert tail[0].event == "metadata"
    ids = [int(p.id) for p in head[1:] + tail[1:] if p.id is not None]
    assert ids == sorted(set(ids)), "a frame repeated or out of order"
    seen = [(p.event, p.data) for p in head[1:] + tail[1:] if p.id is not None]
    assert seen == [(p.event, p.data) for p in whole[1:] if p.id is not None]
    text = "".join(chunk["content"] for chunk, _meta in of(head + tail, "messages"))
    reply = state["values"]["messages"][-1]
    assert reply["type"] == "ai" and text == reply["content"]
    # Tokens after the rejoin point were rebuilt from the log with their message's id.
    assert {chunk["id"] for chunk, _meta in of(tail, "messages")} == {reply["id"]}


async def test_a_run_on_one_replica_is_cancelled_through_the_other(
    make_server: ServerFactory, shared_redis: str
) -> None:
    """Cancel reaches the replica that runs the run; the thread keeps what was streamed and is
    free for the next run on either."""
    first, second = _pair(make_server, shared_redis)
    async with (
        get_client(url=first, api_key=None, timeout=TIMEOUT) as a,
        get_client(url=second, api_key=None, timeout=TIMEOUT) as b,
    ):
        thread_id = (await a.threads.create())["thread_id"]
        run = await a.runs.create(thread_id, "streaming-chat", input=said("a long story"))
        await collect(
            a.runs.join_stream(thread_id, run["run_id"], stream_mode="messages-tuple"), limit=4
        )
        await b.runs.cancel(thread_id, run["run_id"])
        for _ in range(100):
            if (await b.threads.get(thread_id))["status"] != "busy":
                break
            await asyncio.sleep(0.05)
        thread = await b.threads.get(thread_id)
        after = await b.runs.wait(thread_id, "streaming-chat", input=said("next"))

    assert thread["status"] == "idle"
    humans = [m["content"] for m in after["messages"] if m["type"] == "human"]
    assert humans == ["a long story", "next"]
